"""The list of panes: state, pid, uptime, restarts, RSS, one row each."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

STATE_STYLE = {"running": "green", "starting": "yellow", "exited": "red", "killed": "bold red",
               "stopped": "dim", "defined": "dim", "not answering": "bold yellow"}
# The pid is in the dashboard title; leaving it out keeps the list usable at 80 columns.
COLUMNS = ("#", "pane", "state", "up", "rss", "rst")


def uptime(sec) -> str:
    if sec is None:
        return ""
    sec = int(sec)
    if sec < 60:
        return f"{sec}s"
    if sec < 3600:
        return f"{sec // 60}m"
    if sec < 86400:
        return f"{sec // 3600}h{sec % 3600 // 60:02d}"
    return f"{sec // 86400}d{sec % 86400 // 3600}h"


def rss(n) -> str:
    if not n:
        return ""
    return f"{n / 2**20:.0f}M" if n < 10 * 2**30 else f"{n / 2**30:.1f}G"


def state_text(p: dict) -> Text:
    st = p.get("state") or "?"
    label = st
    if p.get("oom_killed"):
        label = "OOM"
    elif st in ("exited", "killed") and p.get("signal"):
        label = f"sig{p['signal']}"
    elif st == "exited" and p.get("exit_code") not in (None, 0):
        label = f"exit{p['exit_code']}"
    return Text(label, style=STATE_STYLE.get(st, ""))


class PaneList(DataTable):
    """Rows keyed by pane name; update() keeps the cursor on the same pane."""

    DEFAULT_CSS = """
    PaneList { width: auto; min-width: 30; max-width: 55%; height: 1fr; }
    """

    def __init__(self, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.names: list[str] = []
        self._cells: dict[str, tuple] = {}

    def on_mount(self) -> None:
        for c in COLUMNS:
            self.add_column(c, key=c)

    @property
    def selected(self) -> str | None:
        if not self.names or self.cursor_row < 0 or self.cursor_row >= len(self.names):
            return None
        return self.names[self.cursor_row]

    def select(self, name: str) -> None:
        if name in self.names:
            self.move_cursor(row=self.names.index(name))

    def update_panes(self, panes: list[dict]) -> None:
        names = [p["name"] for p in panes]
        keep = self.selected
        if names != self.names:
            self.clear()
            self._cells = {}
            for i, p in enumerate(panes):
                self._cells[p["name"]] = cells = self.cells(i, p)
                self.add_row(*cells, key=p["name"])
            self.names = names
            if keep in names:
                self.move_cursor(row=names.index(keep))
            return
        # Only changed cells: every update_cell re-renders the table, which is
        # the costliest thing on screen while a pane floods.
        for i, p in enumerate(panes):
            new = self.cells(i, p)
            old = self._cells.get(p["name"], ())
            for col, cell, was in zip(COLUMNS, new, old):
                if cell != was:
                    self.update_cell(p["name"], col, cell)
            self._cells[p["name"]] = new

    @staticmethod
    def cells(i: int, p: dict) -> tuple:
        return (str(i) if i < 10 else "", p["name"], state_text(p),
                uptime(p.get("uptime")) if p.get("state") in ("running", "starting", "not answering") else "",
                rss(p.get("rss")), str(p.get("restarts") or 0))
