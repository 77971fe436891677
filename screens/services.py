"""Step 5: which services. Profiles, a grouped list with DevStack short names,
needs pulled in with the reason shown, and a live RAM estimate against the
memory this machine (or its cgroup) really has free."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, RadioButton, RadioSet, SelectionList, Static
from textual.widgets.selection_list import Selection

from stacktui import catalog, registry
from stacktui.errors import Problem
from stacktui.widgets.toggles import Choice, TickList

from .base import WizardScreen, problem_text

OVERHEAD_MB = 512   # what checks.py adds for the OS and short-lived tools
PROFILE_LABELS = {"minimal": "Minimal (keystone, glance, placement)",
                  "devstack": "DevStack default", "custom": "Custom"}


def available_mb() -> int | None:
    """MemAvailable, or what the cgroup limit leaves if that is smaller."""
    from stacktui import cgroups
    info = cgroups.meminfo("/")
    avail = info.get("MemAvailable")
    try:
        cg = cgroups.memory_cgroup("self", "/")
        lim = cg.effective_limit() if cg else None
        if lim is not None:
            free = lim - (cg.working_set() or 0)
            avail = free if avail is None else min(avail, free)
    except OSError:
        pass
    return None if avail is None else int(avail // 2**20)


def profile_of(names) -> str:
    s = set(names)
    for p, members in catalog.PROFILES.items():
        if s == set(members):
            return p
    return "custom"


def ram_text(names, avail: int | None) -> tuple[Text, str]:
    svc = catalog.ram_estimate_mb(names)
    need = svc + OVERHEAD_MB
    t = Text()
    t.append("RAM ", style="bold")
    t.append(f"{svc:,} MB for {len(names)} services + {OVERHEAD_MB} MB overhead = {need:,} MB")
    if avail is None:
        return t, "ok"
    width = 30
    frac = min(1.0, need / max(avail, 1))
    level = "fail" if need > avail else "warn" if need * 1.5 > avail else "ok"
    style = {"ok": "green", "warn": "yellow", "fail": "bold red"}[level]
    t.append(f" of {avail:,} MB free\n")
    t.append("█" * round(frac * width), style=style)
    t.append("░" * (width - round(frac * width)), style="dim")
    if level == "fail":
        heavy = sorted(names, key=lambda n: -catalog.get(n).ram_mb)[:3]
        t.append(f"  more than this machine holds: expect the OOM killer. Drop "
                 f"{', '.join(heavy)} or add RAM/swap", style="bold red")
    elif level == "warn":
        t.append("  tight: under 1.5x headroom", style="yellow")
    return t, level


def listening() -> dict[int, str]:
    """Ports something listens on now, and who (as far as this user may see)."""
    from stacktui.checks import listeners_now, proc_name_of
    out: dict[int, str] = {}
    for _ip, port, pid in listeners_now():
        name = proc_name_of(pid) if pid else None
        who = "a process" if not pid else f"pid {pid}" if name == "?" else f"{name} (pid {pid})"
        out.setdefault(port, who)
    return out


def group_members(group: str) -> list[str]:
    """The deployable services of a group, as the wizard lists them."""
    return [s.name for s in catalog.SERVICES.values() if s.group == group and s.implemented
            and s.name not in registry.hidden_services()]


def partial_groups(chosen: list[str]) -> Text:
    """`nova: n-api chosen, not n-cond, n-sch, ...`: one service of a group
    alone rarely works (n-api without a conductor or a scheduler)."""
    t = Text()
    for group in dict.fromkeys(catalog.get(n).group for n in chosen):
        members = group_members(group)
        missing = [m for m in members if m not in chosen]
        if len(members) > 1 and missing:
            if t.plain:
                t.append("\n")
            t.append(f"{group}: ", style="bold")
            t.append(f"{', '.join(m for m in members if m in chosen)} without "
                     f"{', '.join(missing)}; ctrl+g on a {group} line takes the whole group")
    return t


class ServicesScreen(WizardScreen):
    NAME = "services"
    BINDINGS = WizardScreen.BINDINGS + [
        Binding("ctrl+g", "toggle_group", "Whole group"),
    ]

    def __init__(self, draft):
        super().__init__(draft)
        self.chosen: list[str] = catalog.ordered(catalog.expand(draft.get("enabled_services")))
        self.avail = available_mb()
        self._syncing = False

    def body(self):
        yield Static("Services", classes="title")
        prof = self.draft.ui.get("profile") or profile_of(self.chosen)
        with RadioSet(id="profile", compact=True):
            for p, label in PROFILE_LABELS.items():
                yield Choice(label, value=p == prof, id=f"profile-{p}", compact=True)
        yield TickList(*self._selections(), id="services")
        yield Static("", id="why", classes="fieldmsg")
        yield Static("", id="groups", classes="fieldmsg")
        yield Static("", id="ram")
        yield Static("", id="svc-problems", classes="fieldmsg")
        yield Static("Ports (each service its own; prefilled with DevStack's)", classes="pwlabel")
        yield Vertical(id="ports")

    def _selections(self):
        out = []
        plugins = registry.load_plugins()    # their rows join the catalog's
        groups = list(catalog.GROUP_ORDER)
        for svc in sorted(catalog.SERVICES.values(),
                          key=lambda s: (groups.index(s.group) if s.group in groups else 99,
                                         list(catalog.SERVICES).index(s.name))):
            if svc.name in registry.hidden_services():
                continue    # come with n-cpu when its driver is libvirt, never chosen by hand
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append(f"{svc.group:<9} ", style="dim")
            t.append(f"{svc.name:<16} ", style="bold")
            t.append(f"{svc.ram_mb:>4} MB  " if svc.ram_mb else "        ")
            t.append(svc.title)
            if svc.module in plugins:
                t.append(f"  (plugin {registry.plugin_dist(svc.module)})", style="dim italic")
            if not svc.implemented:
                t.append("  (not yet deployable)", style="dim italic")
            out.append(Selection(t, svc.name, svc.name in self.chosen,
                                 disabled=not svc.implemented and svc.name not in self.chosen))
        return out

    def on_mount(self) -> None:
        self.update_estimate()
        self.query_one("#services").focus()

    # ------------------------------------------------------------ choosing

    def set_chosen(self, names, why: Text | str = "") -> None:
        self.chosen = catalog.ordered(dict.fromkeys(names))
        sl = self.query_one("#services", SelectionList)
        self._syncing = True
        try:
            sl.deselect_all()
            for n in self.chosen:
                sl.select(n)
        finally:
            self._syncing = False
        self.query_one("#why", Static).update(why)
        self.update_estimate()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        p = (event.pressed.id or "").removeprefix("profile-")
        self.draft.ui["profile"] = p
        if p in catalog.PROFILES:
            keep, left_out = catalog.profile_services(p)
            why = f"profile {p}: {len(keep)} services"
            if left_out:
                why += "; left out: " + ", ".join(sorted(left_out))
            self.set_chosen(catalog.with_needs(keep), Text(why, style="dim"))

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        if self._syncing:
            return
        now = list(event.selection_list.selected)
        added = [n for n in now if n not in self.chosen]
        removed = [n for n in self.chosen if n not in now]
        # Our own select()/deselect() calls echo back here later, matching.
        if not added and not removed:
            return
        why = Text()
        names = list(now)
        if added:
            full = catalog.with_needs(names)
            pulled = [n for n in full if n not in names]
            for n in pulled:
                by = [a for a in full if n in catalog.get(a).needs and a in full]
                why.append(f"+ {n}", style="bold green")
                why.append(f" added: {', '.join(by[:3])} need{'s' if len(by) == 1 else ''} it\n")
            names = full
        if removed:
            gone = set(removed)
            changed = True
            while changed:
                changed = False
                for n in list(names):
                    if n not in gone and any(d in gone for d in catalog.get(n).needs):
                        gone.add(n)
                        names.remove(n)
                        changed = True
                        why.append(f"- {n}", style="bold yellow")
                        need = [d for d in catalog.get(n).needs if d in gone]
                        why.append(f" removed too: it needs {', '.join(need)}\n")
        why.rstrip()
        self._to_custom()
        self.set_chosen(names, why)

    def _to_custom(self) -> None:
        self.draft.ui["profile"] = "custom"
        rb = self.query_one("#profile-custom", RadioButton)
        if not rb.value:
            with self.prevent(RadioSet.Changed):
                rb.value = True

    def action_toggle_group(self) -> None:
        """The highlighted service's whole group in (or, when all of it is
        chosen, out): nova is n-api, n-cond, n-sch, n-cpu and the rest."""
        sl = self.query_one("#services", SelectionList)
        if sl.highlighted is None:
            return
        name = sl.get_option_at_index(sl.highlighted).value
        group = catalog.get(name).group
        members = group_members(group)
        if all(m in self.chosen for m in members):
            gone = set(members)
            names = [n for n in self.chosen if n not in gone
                     and not any(d in gone for d in catalog.get(n).needs)]
            why = Text(f"- {group}: {', '.join(members)}", style="bold yellow")
        else:
            names = catalog.with_needs(self.chosen + members)
            why = Text(f"+ {group}: {', '.join(members)}", style="bold green")
        self._to_custom()
        self.set_chosen(names, why)

    # ------------------------------------------------------------ ports

    def port_services(self) -> list[str]:
        return [n for n in self.chosen if catalog.get(n).port]

    def sync_ports(self) -> None:
        """One field per chosen service with a port, rebuilt only when that
        set changes (never under the user's cursor while typing)."""
        box = self.query_one("#ports", Vertical)
        want = self.port_services()
        if getattr(self, "_port_rows", None) == want:
            return
        typed = self.form_ports()
        self._port_rows = want
        ports = self.draft.get("ports") or {}
        values = {n: typed.get(n, ports.get(n) or catalog.get(n).port) for n in want}
        self.run_worker(self._rebuild_ports(want, values), group="ports")

    async def _rebuild_ports(self, want: list[str], values: dict) -> None:
        import asyncio
        lock = self.__dict__.setdefault("_ports_lock", asyncio.Lock())
        async with lock:       # removal is awaited: a second rebuild must not overlap it
            if want != self._port_rows:
                return          # a newer set is on its way
            box = self.query_one("#ports", Vertical)
            await box.remove_children()
            rows = []
            for n in want:
                rows.append(Horizontal(Label(n, classes="label"),
                                       Input(str(values[n]), id=f"port-{n}", compact=True,
                                             restrict=r"[0-9]*", max_length=5),
                                       classes="row"))
                rows.append(Static("", id=f"msg-port-{n}", classes="fieldmsg"))
            await box.mount_all(rows)
            self.validate_ports()

    def form_ports(self) -> dict:
        out = {}
        for w in self.query("#ports Input"):
            n = (w.id or "").removeprefix("port-")
            v = w.value.strip()
            out[n] = int(v) if v.isdigit() else v
        return out

    def validate_ports(self) -> list:
        """answers.py's rules (a number, one port per service), then what
        listens on the port right now, which the install would trip over."""
        form = self.form_ports()
        problems = self.draft.problems(extra={"enabled_services": self.chosen, "ports": form},
                                       keys=("ports",))
        held = listening()
        for n, port in form.items():
            try:
                msg = self.query_one(f"#msg-port-{n}", Static)
                field = self.query_one(f"#port-{n}", Input)
            except Exception:  # noqa: BLE001 - rows being rebuilt
                continue
            mine = [p for p in problems if p.key == f"ports.{n}"]
            if not str(port):
                mine = [Problem("empty: give a port number", key=f"ports.{n}")]
            if mine:
                msg.update(problem_text(mine))
            elif port in held:
                msg.update(Text(f"! {n}'s port: {port} is in use now by {held[port]} "
                                "(fine if that is this stack's own service)", style="yellow"))
            else:
                msg.update(Text(f"✓ {port} free", style="green"))
            field.set_class(bool(mine), "-invalid")
        return problems + [Problem("empty", key=f"ports.{n}") for n, v in form.items() if v == ""]

    def on_input_changed(self, event: Input.Changed) -> None:
        if (event.input.id or "").startswith("port-"):
            self.validate_ports()

    def update_estimate(self) -> None:
        self.sync_ports()
        self.query_one("#groups", Static).update(partial_groups(self.chosen))
        text, level = ram_text(self.chosen, self.avail)
        self.query_one("#ram", Static).update(text)
        self.ram_level = level
        ps = self.draft.problems(extra={"enabled_services": self.chosen},
                                 keys=("enabled_services",))
        self.query_one("#svc-problems", Static).update(problem_text(ps))
        self.problems = ps

    # ------------------------------------------------------------ draft

    def save(self) -> None:
        self.draft.set(enabled_services=list(self.chosen))
        form = {n: v for n, v in self.form_ports().items() if isinstance(v, int)}
        if form:
            # Only ports that differ from the catalog's: the answers file stays short.
            ports = {k: v for k, v in (self.draft.get("ports") or {}).items()
                     if k not in form}
            ports.update({n: v for n, v in form.items() if v != catalog.get(n).port})
            self.draft.set(ports=ports)

    def ready(self) -> bool:
        self.update_estimate()
        if self.validate_ports():
            self.say("fix the ports marked ✗ first", "bold red")
            return False
        if not self.chosen:
            self.say("choose at least one service", "bold red")
            return False
        if self.problems:
            self.say("these choices cannot be deployed yet (see above)", "bold red")
            return False
        if self.ram_level == "fail" and not self.draft.ui.get("ram_confirmed") == self.chosen:
            self.draft.ui["ram_confirmed"] = list(self.chosen)
            self.say("more RAM than is free: press Next again to go on anyway", "bold red")
            return False
        return True
