"""One-line header: the stack's overall health (every pane up, memory fine,
the supervisor answering), then RAM, swap, memory pressure and the monitor's
level, then DEST."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

MB = 1024 * 1024
LEVEL_STYLE = {"ok": "bold green", "watch": "bold black on yellow", "danger": "bold white on red"}


def _size(n: float) -> str:
    return f"{n / MB:,.0f}M" if n < 10 * 1024 * MB else f"{n / (1024 * MB):,.1f}G"


def health_text(health: dict | None, level: str | None) -> Text:
    """One word first (ok / WARN / DOWN / GONE), then why: readable without colour."""
    t = Text()
    if health is None:
        return t
    if health.get("gone"):
        t.append(" GONE ", style="bold white on red")
        t.append(" supervisor not answering")
        return t
    down, starting = health.get("down") or [], health.get("starting") or []
    worst = "DOWN" if down else ("WARN" if starting or level in ("watch", "danger") else "ok")
    t.append(f" {worst} ", style={"ok": "bold green reverse", "WARN": "bold black on yellow",
                                  "DOWN": "bold white on red"}[worst])
    t.append(f" {health.get('up', 0)}/{health.get('total', 0)} up")
    if down:
        t.append(": " + ", ".join(f"{n} {s}" for n, s in down[:3]))
        if len(down) > 3:
            t.append(f" +{len(down) - 3}")
    elif starting:
        t.append(": starting " + ", ".join(starting[:3]))
    return t


def memory_line(title: str, status: dict | None, health: dict | None = None) -> Text:
    """The header text for a monitor status (client.monitor())."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(" stacktui ", style="bold reverse")
    h = health_text(health, (status or {}).get("level"))
    if h.plain:
        t.append(" ")
        t.append_text(h)
    s = (status or {}).get("sample") or {}
    if s.get("mem_total"):
        used = s["mem_total"] - s.get("mem_available", 0)
        t.append(f"  RAM {_size(used)}/{_size(s['mem_total'])}")
        if s.get("swap_total"):
            t.append(f"  swap {_size(s.get('swap_used', 0))}/{_size(s['swap_total'])}")
        else:
            t.append("  no swap")
        psi = s.get("psi") or {}
        if psi.get("some") is not None:
            t.append(f"  psi {psi['some']:.0f}%")
        cg = s.get("cgroup") or {}
        if cg.get("limit"):
            t.append(f"  cgroup {_size(cg.get('usage') or 0)}/{_size(cg['limit'])}")
    elif status is None:
        t.append("  memory: …")
    level = (status or {}).get("level")
    if level:
        t.append("  mem ")
        t.append(f" {level} ", style=LEVEL_STYLE.get(level, "bold"))
        fc = (status or {}).get("forecast_s")
        if fc is not None and level != "ok":
            t.append(f" out in ~{fc:.0f}s")
    if title:
        t.append(f"  {title}", style="dim")
    return t


class MemHeader(Static):
    """Header fed with client.monitor() results; warnings go to the line below."""

    DEFAULT_CSS = """
    MemHeader { height: auto; max-height: 3; background: $panel; text-wrap: nowrap;
                text-overflow: ellipsis; }
    """

    status: reactive[dict | None] = reactive(None, always_update=True)
    health: reactive[dict | None] = reactive(None, always_update=True)

    def __init__(self, title: str, **kw):
        super().__init__("", **kw)
        self.title_text = title
        self._rows = 0

    def watch_health(self, health: dict | None) -> None:
        self.watch_status(self.status)

    def watch_status(self, status: dict | None) -> None:
        text = memory_line(self.title_text, status, self.health)
        for w in ((status or {}).get("warnings") or [])[:2]:
            text.append("\n ")
            text.append(w, style="bold yellow" if status.get("level") == "watch" else "bold red")
        # A layout pass only when the warning lines come or go: the header's
        # height is all that can change, and a pass costs a whole-screen reflow.
        rows = text.plain.count("\n") + 1
        self.update(text, layout=rows != self._rows)
        self._rows = rows

    def on_mount(self) -> None:
        self.watch_status(self.status)
