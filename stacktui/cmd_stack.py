"""install, status, start/stop/restart, logs, up, unstack, clean."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import answers as answers_mod
from . import catalog, events
from .errors import Problem, StackError, UserError
from .credentials import user_clouds_path
from .paths import Layout, check_owned, forget_last, read_marker
from .stacks import find_answers_file, installed, resolve_dest


def register(sub) -> None:
    p = sub.add_parser("install", help="install (or resume, or update) the stack headless")
    p.add_argument("--answers", metavar="FILE", help="answers file (default ./stacktui.yaml, "
                                                     "else the minimal cloud)")
    p.add_argument("--yes", "-y", action="store_true", help="ask nothing")
    p.add_argument("--force", action="store_true", help="go on even when a host check fails")
    p.add_argument("--verbose", "-v", action="store_true", help="print every command's output")
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("status", help="each service: state, pid, uptime, restarts, RSS, port")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    for verb in ("start", "stop", "restart"):
        p = sub.add_parser(verb, help=f"{verb} services by DevStack name or group (nova = n-*)")
        p.add_argument("names", nargs="+", metavar="NAME")
        p.set_defaults(func=cmd_control, verb=verb)

    p = sub.add_parser("logs", help="a service's output")
    p.add_argument("name")
    p.add_argument("--follow", "-f", action="store_true")
    p.add_argument("--lines", "-n", type=int, default=100)
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("up", help="bring an installed stack back (after unstack, a crash, a reboot)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("unstack", help="stop the services (--all: the database and queue too)")
    p.add_argument("--all", action="store_true")
    p.set_defaults(func=cmd_unstack)

    p = sub.add_parser("clean", help="unstack --all, then remove everything install made under DEST")
    p.add_argument("--yes", "-y", action="store_true")
    p.set_defaults(func=cmd_clean)


# ------------------------------------------------------------------ install

def load_for_install(args) -> answers_mod.Answers:
    """The answers to install with. A stack already in DEST is resumed or
    rerun with the answers it was installed with (ports, services, ranges);
    only an explicit --answers changes them."""
    explicit = getattr(args, "answers", None)
    dest = Path(args.dest).expanduser().resolve() if getattr(args, "dest", None) else None
    f = find_answers_file(args)
    if not explicit:
        target = dest or (answers_mod.load(f).dest if f else answers_mod.default_dest())
        saved = Layout(target).answers_file
        if saved.exists():
            check_owned(Layout(target))
            print(f"resuming the stack in {target} with its saved answers ({saved}); "
                  f"--answers FILE changes them")
            return answers_mod.load(saved, dest=target)
    ans = answers_mod.load(f, dest=dest) if f else None
    if ans is None:
        # No answers file: the minimal cloud, into --dest or the default DEST.
        ans = answers_mod.load(None, dest=dest)
    reuse_installed_passwords(ans)
    if ans.data.get("profile") and "enabled_services" not in (ans.given or ()):
        _, left_out = catalog.profile_services(ans.profile)
        for name, why in left_out.items():
            print(f"profile {ans.data['profile']}: leaving out {name}: {why}")
    return ans


def reuse_installed_passwords(ans: answers_mod.Answers) -> None:
    """Passwords this run would make up are taken from the stack already in
    DEST, so a rerun changes nothing."""
    if not ans.generated:
        return
    layout = Layout(ans.dest)
    if not layout.secrets_file.exists():
        return
    try:
        old = answers_mod.load(layout.answers_file).passwords
    except UserError:
        return
    for k in list(ans.generated):
        if k in old:
            ans.passwords[k] = old[k]
            ans.generated.remove(k)


class Printer:
    """The CLI's view of engine events: a line per step, a live status line on
    a terminal, the command output only with --verbose or on failure."""

    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.tty = sys.stdout.isatty()
        self.total = 0
        self.n = 0                  # steps finished (done or skipped)
        # Steps run side by side: each running one with its progress fraction.
        self.running: dict[str, float] = {}
        self.estimates: dict[str, float] = {}
        self.done_estimate = 0.0

    def __call__(self, ev: events.Event) -> None:
        match ev:
            case events.Plan(steps=steps):
                self.total = len(steps)
                self.estimates = {s.id: s.estimate for s in steps}
            case events.StepStart():
                self.running[ev.step] = 0.0
                self._status(", ".join(self.running) + " ...")
            case events.Progress():
                if ev.step in self.running:
                    self.running[ev.step] = ev.fraction
                self._status(f"{ev.step} {ev.text}")
            case events.StepSkip():
                self.n += 1
                self.done_estimate += self.estimates.get(ev.step, 0)
                if self.verbose:
                    self._line(f"[{self.n:2}/{self.total}] {ev.step}: done before, unchanged")
            case events.StepDone():
                self.n += 1
                self.running.pop(ev.step, None)
                self.done_estimate += self.estimates.get(ev.step, 0)
                self._line(f"[{self.n:2}/{self.total}] {ev.step} {ev.seconds:.1f}s")
            case events.StepFail():
                self.running.pop(ev.step, None)
                # The cause only: the full output (deprecations, migration
                # chatter) stays in the log, which -v shows as it runs.
                self._line(f"[{self.n:2}/{self.total}] {ev.step} FAILED: {ev.error}")
                self._line(f"    log: {ev.log}")
            case events.Output() if self.verbose:
                self._line(f"    {ev.text}")
            case events.Output() if self.tty and ev.text.strip():
                self._status(f"{ev.step or ''}: {ev.text.strip()[:60]}")

    def _bar(self) -> str:
        """Overall progress weighted by each step's usual duration."""
        total = sum(self.estimates.values()) or 1
        cur = sum(self.estimates.get(s, 0) * f for s, f in self.running.items())
        frac = min(1.0, (self.done_estimate + cur) / total)
        width = 20
        full = int(frac * width)
        return "[" + "#" * full + "." * (width - full) + f"] {frac * 100:3.0f}% "

    def _status(self, text: str) -> None:
        if self.tty:
            cols = shutil.get_terminal_size().columns
            line = f"{self._bar()}[{self.n:2}/{self.total}] {text}"
            sys.stdout.write("\r\033[K" + line[:cols - 1])
            sys.stdout.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            sys.stdout.write("\r\033[K")
        print(text, flush=True)


def cmd_install(args) -> int:
    from .engine import Engine
    ans = load_for_install(args)
    if not args.yes and sys.stdin.isatty():
        names = ", ".join(ans.services)
        reply = input(f"Install {names} into {ans.dest} on {ans.data['host_ip']}? [Y/n] ")
        if reply.strip().lower() not in ("", "y", "yes"):
            return 1
    bus = events.Bus()
    bus.subscribe(Printer(args.verbose))
    summary = Engine(ans, bus, force=args.force, sudo_password=ask_sudo_password(ans)).run()
    print_summary(summary)
    return 0


def ask_sudo_password(ans) -> str | None:
    """An ordinary user whose sudo wants a password types it once, here,
    when distro packages must be installed or DEST made; the engine answers
    sudo's prompts with it. Root, passwordless sudo, or nothing to do: no question."""
    import getpass
    import os
    if os.geteuid() == 0 or not sys.stdin.isatty():
        return None
    from . import sudopass
    if not sudopass.wanted(ans):
        return None
    return getpass.getpass("sudo password (to install distro packages, make DEST or write the "
                           "stack's sudoers rule; kept in memory only): ")


def print_summary(s: dict) -> None:
    print()
    print(f"This is your host IP address: {s.get('host_ip')}")
    for name, url in (s.get("urls") or {}).items():
        print(f"  {catalog.get(name).title:28} {url}")
    print(f"The default user is admin; passwords are in {s.get('passwords_file')} (mode 0600)")
    print(f"Credentials: source {s.get('openrc')} admin   or   "
          f"openstack --os-cloud devstack-admin ...  ({s.get('clouds_yaml')})")
    if s.get("client_note"):
        print(f"Note: {s['client_note']}")
    if s.get("nova_compute"):
        print(f"nova-compute runs on {s['nova_compute']}")
    print(f"Logs: {s.get('log')}; services: stacktui status")
    print(f"stacktui completed in {s.get('seconds', 0):.1f} seconds.")


# ------------------------------------------------------------------ panes

STATUS_TIMEOUT = 4.0    # a supervisor that answers does so in milliseconds


def _client(args, start: bool = False, timeout: float | None = None):
    from .client import DEFAULT_TIMEOUT, Client, ensure_daemon
    layout = Layout(resolve_dest(args))
    # A supervisor that still answers is reason enough: a half-removed DEST
    # must not leave its services unreachable.
    if not layout.answers_file.exists() and not layout.socket.exists():
        raise UserError(Problem(f"no stack installed in {layout.dest}", key="dest",
                                fix="run `stacktui install`, or pass --dest DIR"))
    check_owned(layout)
    return layout, (ensure_daemon(layout) if start else Client(layout, timeout or DEFAULT_TIMEOUT))


def _fmt_uptime(sec) -> str:
    if not sec:
        return "-"
    sec = int(sec)
    return f"{sec // 3600}h{sec % 3600 // 60:02}m" if sec >= 3600 else f"{sec // 60}m{sec % 60:02}s"


def cmd_status(args) -> int:
    from .client import NotAnswering
    layout, client = _client(args, timeout=STATUS_TIMEOUT)
    try:
        panes = client.status()
        mon = client.monitor() if hasattr(client, "monitor") else {}
    except NotAnswering as e:
        if args.json:
            print(json.dumps({"supervisor": "not answering", "pid": e.pid, "panes": []}))
        else:
            print(str(e))
        return 3
    except StackError:
        panes, mon = [], {}
        if args.json:
            print(json.dumps({"supervisor": "not running", "panes": []}))
        else:
            print(f"the supervisor of {layout.dest} is not running: `stacktui up` brings the stack back")
        return 3
    if args.json:
        print(json.dumps({"supervisor": "running", "panes": [p.to_dict() for p in panes],
                          "monitor": mon}, default=str))
        return 0
    print(f"{'NAME':16} {'STATE':13} {'PID':>7} {'UPTIME':>8} {'RESTARTS':>8} {'RSS':>8} {'PORT':>6}  CAUSE")
    for p in panes:
        rss = f"{(p.rss or 0) / 2**20:.0f}M" if p.rss else "-"
        cause = p.cause or ""
        if p.not_answering_since:
            cause = f"no answer since {time.strftime('%H:%M:%S', time.localtime(p.not_answering_since))}"
        print(f"{p.name:16} {p.state:13} {p.pid or '-':>7} {_fmt_uptime(p.uptime):>8} "
              f"{p.restarts:>8} {rss:>8} {p.port or '-':>6}  {cause}")
    for w in (mon or {}).get("warnings") or []:
        print(f"! {w if isinstance(w, str) else w.get('text', w)}")
    return 0


def _check_names(client, names) -> list[str]:
    known = client.status()
    valid = {p["name"] for p in known} | {p.get("group") for p in known} | {"all"}
    bad = [n for n in names if n not in valid]
    if bad:
        raise UserError([Problem(f"no service or group named {n!r} in this stack", key="NAME",
                                 fix=f"one of {', '.join(sorted(x for x in valid if x))}")
                         for n in bad])
    return names


def cmd_control(args) -> int:
    layout, client = _client(args, start=args.verb != "stop")
    names = _check_names(client, args.names)
    getattr(client, args.verb)(names)
    if args.verb != "stop":
        client.wait_ready(names, timeout=120)
    for p in client.status():
        if p["name"] in names or p.get("group") in names or "all" in names:
            print(f"{p['name']}: {p['state']} pid {p.get('pid') or '-'}")
    return 0


def cmd_logs(args) -> int:
    layout = Layout(resolve_dest(args))
    from .client import Client
    from .termtext import for_terminal
    client = Client(layout)
    colour = sys.stdout.isatty()
    try:
        if args.follow:
            for line in client.follow(args.name, args.lines):
                print(for_terminal(line, colour), flush=True)
        else:
            for line in client.tail(args.name, args.lines):
                print(for_terminal(line, colour))
        return 0
    except StackError:
        log = layout.logs / f"{args.name}.log"
        if not log.exists():
            raise UserError(Problem(f"no log for {args.name!r} in {layout.logs}", key="NAME")) from None
        lines = log.read_text(errors="replace").splitlines()[-args.lines:]
        print("\n".join(for_terminal(ln, colour) for ln in lines))
        return 0


def cmd_up(args) -> int:
    from .engine import service_specs
    layout, ans = installed(args)
    from .client import ensure_daemon
    t0 = time.monotonic()
    # Modules that keep state outside DEST (a loop device, /run dirs) restore it.
    for spec in service_specs(ans):
        if spec.before_up:
            spec.before_up(ans, layout)
    client = ensure_daemon(layout)
    client.reload()
    with _up_context(layout, ans) as ctx:
        from . import bringup
        known = [p["name"] for p in sorted(client.status(rss=False), key=lambda p: p.get("order", 0))]
        # Panes answering is not yet a cloud that serves: nova-compute must
        # have reported to the conductor, cinder-volume to c-api, OVN's
        # chassis caught up. Each module's own check runs in bring_up, as
        # soon as its panes and keystone answer.
        bringup.bring_up(client, bringup.plan(ctx, known), lambda line: print(line, flush=True))
    print(f"stack in {layout.dest} is up ({time.monotonic() - t0:.1f}s)")
    return 0


@contextmanager
def _up_context(layout: Layout, ans):
    from .engine import Context
    from .masking import Masker
    from .runner import Runner
    runner = Runner(layout.logs / "up.log", Masker(ans.secret_values))
    try:
        yield Context(ans, layout, events.Bus(), runner)
    finally:
        runner.close()


def cmd_unstack(args) -> int:
    layout, client = _client(args)
    try:
        if args.all:
            client.shutdown(stop_panes=True)
            # With no process left in it, the stack's network namespace
            # (and its link and route on the host) goes too; `up` remakes it.
            from . import netns
            netns.remove(layout)
        else:
            client.stop(["all"])
    except StackError:
        print("nothing running")
        return 0
    print("stopped " + ("every service, the database and the queue" if args.all else "the services"))
    return 0


def _module_cleanups(layout: Layout) -> None:
    """Each service's cleanup(): what it made outside the folders clean
    removes (cinder's loop device and volume group)."""
    from .engine import Context, service_specs
    from .masking import Masker
    from .runner import Runner
    try:
        ans = answers_mod.load(layout.answers_file)
    except UserError:
        return
    runner = Runner(layout.logs / "clean.log", Masker(ans.secret_values))
    try:
        ctx = Context(ans, layout, events.Bus(), runner)
        for spec in service_specs(ans):
            if spec.cleanup:
                try:
                    spec.cleanup(ctx)
                except Exception as e:  # noqa: BLE001 - clean goes on; the user is told
                    print(f"cleanup of {spec.name}: {e}", file=sys.stderr)
    finally:
        runner.close()


def _refuse_unsafe_clean(layout: Layout) -> list[str]:
    """What `clean` may remove in DEST: the names the stack marker says
    install made there. Refuses /, the home folder (and what holds it), and
    any folder without stacktui's marker."""
    dest = layout.dest
    home = Path.home().resolve()
    if dest == Path("/") or dest == home or dest in home.parents:
        raise UserError(Problem(f"refusing to clean {dest}: it is / or holds your home folder",
                                key="dest", fix="pass the --dest of the stack itself"))
    marker = read_marker(layout)
    if marker is None:
        # Stacks installed before the marker existed: both of these are
        # files only install writes, in names no one else uses.
        if layout.answers_file.exists() and layout.state_file.exists():
            return [p.name for p in layout.created()]
        raise UserError(Problem(f"{dest} holds no stack made by stacktui (no {layout.marker.name}); "
                                f"nothing removed", key="dest",
                                fix="pass the --dest of an installed stack"))
    if marker.get("uid") not in (None, os.geteuid()):
        raise UserError(Problem(f"the stack in {dest} was installed by another user", key="dest",
                                fix="run clean as that user"))
    return [str(n) for n in marker["made"]]


def cmd_clean(args) -> int:
    from .credentials import remove_user_clouds
    dest = resolve_dest(args)
    layout = Layout(dest)
    made = _refuse_unsafe_clean(layout)
    check_owned(layout)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError(Problem(f"clean removes the stack in {dest} and asks first, but there "
                                    f"is no terminal to ask on", key="--yes",
                                    fix="run it in a terminal, or pass --yes"))
        if input(f"Remove the stack in {dest} (venv, configs, data, logs)? [y/N] ").strip().lower() \
                not in ("y", "yes"):
            return 1
    from .client import Client
    try:
        Client(layout).shutdown(stop_panes=True)
    except StackError:
        pass
    _module_cleanups(layout)
    from . import sudoers
    said = sudoers.remove(layout)
    if said:
        print(said, file=sys.stderr if said.startswith("could not") else sys.stdout)
    from .client_link import unlink_client
    unlink_client(layout)
    gone = remove_user_clouds(layout)
    if gone:
        print(f"removed {', '.join(gone)} from {user_clouds_path()}")
    for path in layout.created():
        if path.name not in made:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    layout.marker.unlink(missing_ok=True)
    forget_last(dest)
    try:
        dest.rmdir()   # only if nothing else of the user's is in it
    except OSError:
        pass
    print(f"removed the stack in {dest}")
    return 0
