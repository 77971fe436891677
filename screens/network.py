"""Step 4: HOST_IP, IP version, FIXED_RANGE, FLOATING_RANGE, PUBLIC_INTERFACE,
validated as typed by answers.py's own rules."""

from __future__ import annotations

import ipaddress

from textual.containers import Horizontal
from textual.widgets import Input, Label, Select, Static

from stacktui import hostinfo

from .base import WizardScreen, problem_text

FIELDS = ("service_ip_version", "host_ip", "fixed_range", "floating_range", "public_interface")
NO_INTERFACE = "(none)"


def addresses(version: int) -> list[str]:
    out = []
    for a in hostinfo.local_addresses():
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            continue
        if ip.version == version and not ip.is_link_local:
            out.append(a)
    return sorted(out, key=lambda a: (ipaddress.ip_address(a).is_loopback, ipaddress.ip_address(a)))


class NetworkScreen(WizardScreen):
    NAME = "network"

    def body(self):
        d = self.draft
        version = int(d.get("service_ip_version") or 4)
        yield Static("Network", classes="title")
        with Horizontal(classes="row"):
            yield Label("IP version", classes="label")
            yield Select([("IPv4", 4), ("IPv6", 6)], value=version, allow_blank=False,
                         id="service_ip_version", compact=True)
        yield Static("", id="msg-service_ip_version", classes="fieldmsg")
        with Horizontal(classes="row"):
            yield Label("HOST_IP", classes="label")
            yield Select(self._ip_options(version), id="host_ip", allow_blank=False,
                         value=self._host_ip(version), compact=True)
        yield Static("services listen here (never on a wildcard)", id="msg-host_ip",
                     classes="fieldmsg")
        with Horizontal(classes="row"):
            yield Label("FIXED_RANGE", classes="label")
            yield Input(str(d.get("fixed_range")), id="fixed_range", compact=True)
        yield Static("", id="msg-fixed_range", classes="fieldmsg")
        with Horizontal(classes="row"):
            yield Label("FLOATING_RANGE", classes="label")
            yield Input(str(d.get("floating_range")), id="floating_range", compact=True)
        yield Static("", id="msg-floating_range", classes="fieldmsg")
        with Horizontal(classes="row"):
            yield Label("PUBLIC_IFACE", classes="label")
            ifaces = [(NO_INTERFACE, "")] + [(i, i) for i in hostinfo.interfaces()]
            cur = d.get("public_interface") or ""
            yield Select(ifaces, value=cur if cur in dict(ifaces).values() else "",
                         allow_blank=False, id="public_interface", compact=True)
        yield Static("", id="msg-public_interface", classes="fieldmsg")

    def _ip_options(self, version: int):
        opts = addresses(version)
        cur = self.draft.get("host_ip")
        if cur and cur not in opts:
            opts.append(cur)     # keep a loaded value visible, validation will say why it is wrong
        return [(a, a) for a in opts] or [("127.0.0.1", "127.0.0.1")]

    def _host_ip(self, version: int) -> str:
        cur = self.draft.get("host_ip")
        if cur:
            return cur
        default = hostinfo.default_host_ip(version)
        opts = addresses(version)
        return default if default in opts or not opts else opts[0]

    def on_mount(self) -> None:
        self.validate_fields()
        self.query_one("#host_ip").focus()

    def form(self) -> dict:
        out = {}
        for f in FIELDS:
            w = self.query_one(f"#{f}")
            v = w.value
            if isinstance(w, Select) and v is Select.NULL:
                v = None
            out[f] = v.strip() if isinstance(v, str) and f != "public_interface" else v
        return out

    def validate_fields(self) -> list:
        problems = self.draft.problems(extra=self.form(), keys=FIELDS)
        for f in FIELDS:
            mine = [p for p in problems if (p.key or "").split(".")[0] == f]
            w = self.query_one(f"#msg-{f}", Static)
            if mine:
                w.update(problem_text(mine))
            elif f == "host_ip":
                w.update("[green]✓[/] services listen here (never on a wildcard)")
            elif f in ("fixed_range", "floating_range"):
                w.update("[green]✓[/] valid, no overlap")
            else:
                w.update("")
            self.query_one(f"#{f}").set_class(bool(mine), "-invalid")
        return problems

    def on_input_changed(self, event: Input.Changed) -> None:
        self.validate_fields()

    def on_select_changed(self, event: Select.Changed) -> None:
        hs = self.query_one("#host_ip", Select)
        cur = hs.value if isinstance(hs.value, str) else ""
        # Select also reports its initial value: only a real change of version
        # may replace the chosen address.
        if event.select.id == "service_ip_version" and event.value in (4, 6) and \
                (":" in cur) != (event.value == 6):
            opts = addresses(event.value)
            hs.set_options([(a, a) for a in opts] or [("-", "-")])
            if opts:
                hs.value = hostinfo.default_host_ip(event.value) \
                    if hostinfo.default_host_ip(event.value) in opts else opts[0]
        self.validate_fields()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def save(self) -> None:
        self.draft.set(**{k: v for k, v in self.form().items() if v is not None})

    def ready(self) -> bool:
        problems = self.validate_fields()
        if problems:
            self.say("fix the fields marked ✗ first", "bold red")
            return False
        return True
