"""The list of panes: state, uptime, CPU, RSS, restarts, restart policy, one row each."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

STATE_STYLE = {"running": "green", "starting": "yellow", "exited": "bold red", "killed": "bold red",
               "stopped": "dim", "defined": "dim", "unknown": "bold red",
               "not answering": "bold yellow"}
# The pid is in the dashboard title; leaving it out keeps the list usable at 80 columns.
# Widths fit the longest value each column can hold, so no label or state is cut.
COLUMNS = {"#": 2, "pane": 14, "state": 13, "up": 5, "cpu": 4, "rss": 5, "rst": 3, "auto": 4}
LAYOUT_COLUMNS = {"full": tuple(COLUMNS), "narrow": ("#", "pane", "state"), "hidden": ()}
LAYOUTS = ("full", "narrow", "hidden")
ALIVE = ("running", "starting", "not answering")     # a process is there


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


def policy_text(p: dict) -> Text:
    """The restart policy in the list's `auto` column: `on` (on-failure),
    `off` (never), or the wait before the policy starts an exited pane
    again (`4s`). Four columns: the full list still fits 55% of 120."""
    if p.get("restart_in") is not None:
        return Text(f"{p['restart_in']:.0f}s", style="bold yellow")
    if p.get("restart") == "on-failure":
        return Text("on")
    return Text("off", style="dim")


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
    PaneList { width: auto; min-width: 20; max-width: 55%; height: 1fr; }
    """

    def __init__(self, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.names: list[str] = []
        self._cells: dict[str, tuple] = {}
        self.layout_name = "full"
        self.columns_shown = LAYOUT_COLUMNS["full"]

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self, names=()) -> None:
        # The name column as wide as the longest name: the others stay visible.
        widths = {**COLUMNS, "pane": max([4, *map(len, names)])}
        for c in self.columns_shown:
            self.add_column(c, key=c, width=widths[c])

    def set_layout(self, name: str) -> None:
        self.layout_name = name
        self.columns_shown = LAYOUT_COLUMNS[name] or LAYOUT_COLUMNS["narrow"]
        keep = self.selected
        self.clear(columns=True)
        self._add_columns()
        self.names = []
        self._keep = keep

    @property
    def selected(self) -> str | None:
        if not self.names or self.cursor_row < 0 or self.cursor_row >= len(self.names):
            return None
        return self.names[self.cursor_row]

    def select(self, name: str) -> None:
        if name in self.names:
            self.move_cursor(row=self.names.index(name))

    def update_panes(self, panes: list[dict], alerts=(), force: bool = False) -> None:
        names = [p["name"] for p in panes]
        keep = self.selected or getattr(self, "_keep", None)
        if names != self.names or force:
            self.clear(columns=True)
            self._add_columns(names)
            self._cells = {}
            for i, p in enumerate(panes):
                self._cells[p["name"]] = cells = self.cells(i, p, p["name"] in alerts)
                self.add_row(*cells, key=p["name"])
            self.names = names
            if keep in names:
                self.move_cursor(row=names.index(keep))
            return
        # Only changed cells: every update_cell re-renders the table, which is
        # the costliest thing on screen while a pane floods.
        for i, p in enumerate(panes):
            new = self.cells(i, p, p["name"] in alerts)
            old = self._cells.get(p["name"], ())
            for col, cell, was in zip(self.columns_shown, new, old):
                if cell != was:
                    self.update_cell(p["name"], col, cell)
            self._cells[p["name"]] = new

    def cells(self, i: int, p: dict, alert: bool = False) -> tuple:
        # The mark is a character, not a colour: `!` beside the number.
        num = Text(f"{i if i < 10 else ''}!", style="bold reverse") if alert else \
            Text(str(i) if i < 10 else "")
        state = state_text(p)
        if p.get("restart_in") is not None and "auto" not in self.columns_shown:
            # The narrow list has no auto column: the wait goes beside the state.
            state.append(f" {p['restart_in']:.0f}s", style="bold yellow")
        all_cells = {
            "#": num, "pane": p["name"], "state": state,
            "up": uptime(p.get("uptime")) if p.get("state") in ALIVE else "",
            "cpu": "" if p.get("cpu") is None else f"{p['cpu']:.0f}%",
            "rss": rss(p.get("rss")), "rst": str(p.get("restarts") or 0),
            "auto": policy_text(p)}
        return tuple(all_cells[c] for c in self.columns_shown)
