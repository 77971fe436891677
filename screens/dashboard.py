"""The service dashboard: panes owned by the supervisor daemon, watched and
controlled here. Quitting detaches; the services keep running, as in screen.

Everything that talks to the daemon runs off the UI loop: status and monitor
polls in short thread workers, each followed pane in a daemon thread that
feeds the log view in batches (a flood must not freeze the keys).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from stacktui.widgets.logview import LogView
from stacktui.widgets.memheader import MemHeader
from stacktui.widgets.panelist import PaneList, rss, state_text, uptime

SCROLLBACK = 2000     # lines fetched when a pane is selected
MAX_LINES = 10_000    # lines kept in the view


class DashboardScreen(Screen):
    NAME = "dashboard"
    BINDINGS = [
        Binding("r", "control('restart')", "Restart"),
        Binding("s", "control('start')", "Start"),
        Binding("x", "control('stop')", "Stop"),
        Binding("g", "group_restart", "Restart group"),
        Binding("n", "move(1)", "Next", show=False),
        Binding("p", "move(-1)", "Prev", show=False),
        Binding("f", "follow", "Follow/pause"),
        Binding("space", "follow", show=False),
        Binding("slash", "search", "Search"),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("end", "follow_end", show=False),
        Binding("G", "follow_end", show=False),     # less: to the end, following
        Binding("q", "detach", "Detach"),
        Binding("escape", "close_search", show=False),
    ]

    def __init__(self, dest: Path | str, client=None):
        super().__init__()
        self.dest = Path(dest)
        self.client = client
        self.panes: list[dict] = []
        self.prefix = False
        self.previous: str | None = None
        self.following: str | None = None
        self._follower = None
        self._follow_token = 0
        self._follow_lock = threading.Lock()
        self._polling = False
        self._monitoring = False
        self.error: str | None = None
        self.last_key_at: float | None = None

    def compose(self):
        yield MemHeader(f"stacktui {self.dest}", id="memheader")
        with Horizontal(id="dash-main"):
            yield PaneList(id="panes")
            with Vertical(id="pane-side"):
                yield Static("", id="pane-title")
                yield LogView(id="pane-log", max_lines=MAX_LINES)
        yield Input(placeholder="search (Enter: next older match, Esc: close)", id="search",
                    compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        self.query_one("#panes").focus()
        self.connect()

    def on_unmount(self) -> None:
        self.stop_follow()

    # ------------------------------------------------------------ daemon

    @work(thread=True, group="connect")
    def connect(self) -> None:
        if self.client is None:
            try:
                from stacktui.client import Client
                from stacktui.paths import Layout
                # Attaching looks, it never starts: a stopped stack stays
                # stopped until its user says `stacktui up`.
                client = Client(Layout(self.dest))
                if not client.ping():
                    self.app.call_from_thread(
                        self.show_error, f"the stack in {self.dest} is stopped: its supervisor is not "
                                         f"running. `stacktui up --dest {self.dest}` brings it back")
                    return
                self.client = client
            except Exception as e:  # noqa: BLE001 - shown in the title line
                self.app.call_from_thread(self.show_error, str(e))
                return
        self.app.call_from_thread(self.connected)

    def connected(self) -> None:
        self.poll_status()
        self.poll_monitor()
        self.set_interval(getattr(self.app, "status_interval", 1.0), self.poll_status)
        self.set_interval(getattr(self.app, "monitor_interval", 2.0), self.poll_monitor)

    def show_error(self, text: str) -> None:
        self.error = text
        try:
            self.query_one("#pane-title", Static).update(Text(text, style="bold red"))
        except NoMatches:
            pass    # an answer from a worker that outlived the screen (quitting)

    def poll_status(self) -> None:
        if not self._polling and self.client is not None:
            self._polling = True
            self._status_worker()

    @work(thread=True, group="status")
    def _status_worker(self) -> None:
        try:
            panes = self.client.status()
            err = None
        except Exception as e:  # noqa: BLE001
            panes, err = None, str(e)
        self.app.call_from_thread(self.got_status, panes, err)

    def got_status(self, panes: list[dict] | None, err: str | None) -> None:
        self._polling = False
        if not self.is_attached:
            return
        if panes is None:
            self.show_error(f"supervisor: {err}")
            return
        if self.error:
            self.error = None
        panes = sorted(panes, key=lambda p: (p.get("order", 0), p["name"]))
        self.panes = panes
        table = self.query_one("#panes", PaneList)
        table.update_panes(panes)
        if self.following is None and panes:
            self.select_pane(table.selected or panes[0]["name"])
        self.update_title()

    def poll_monitor(self) -> None:
        if not self._monitoring and self.client is not None and hasattr(self.client, "monitor"):
            self._monitoring = True
            self._monitor_worker()

    @work(thread=True, group="monitor")
    def _monitor_worker(self) -> None:
        try:
            st = self.client.monitor()
        except Exception:  # noqa: BLE001 - the header just keeps its last reading
            st = None
        self.app.call_from_thread(self.got_monitor, st)

    def got_monitor(self, st: dict | None) -> None:
        self._monitoring = False
        if st is not None and self.is_attached:
            self.query_one("#memheader", MemHeader).status = st

    # ------------------------------------------------------------ following

    def select_pane(self, name: str) -> None:
        table = self.query_one("#panes", PaneList)
        if table.selected != name:
            table.select(name)
        if name == self.following:
            return
        if self.following:
            self.previous = self.following
        self.start_follow(name)
        self.update_title()

    def start_follow(self, name: str) -> None:
        self.stop_follow()
        log = self.query_one("#pane-log", LogView)
        log.reset()
        log.set_follow(True)
        self.following = name
        with self._follow_lock:
            self._follow_token += 1
            token = self._follow_token
        threading.Thread(target=self._follow_thread, args=(name, token, log),
                         name=f"follow-{name}", daemon=True).start()

    def stop_follow(self) -> None:
        with self._follow_lock:
            self._follow_token += 1
            f, self._follower = self._follower, None
        if f is not None:
            f.close()

    def _follow_thread(self, name: str, token: int, log: LogView) -> None:
        lines = SCROLLBACK
        while True:
            try:
                f = self.client.follow(name, lines)
            except Exception as e:  # noqa: BLE001
                log.push([f"[stacktui: cannot follow {name}: {e}]"])
                return
            with self._follow_lock:
                if token != self._follow_token:
                    f.close()
                    return
                self._follower = f
            batches = f.batches() if hasattr(f, "batches") else ([line] for line in f)
            for batch in batches:
                if token != self._follow_token:
                    break
                log.push(batch)
            f.close()
            if token != self._follow_token:
                return
            # The daemon went away or restarted the stream: pick up live output again.
            time.sleep(0.5)
            lines = 0

    # ------------------------------------------------------------ title

    def current(self) -> dict | None:
        return next((p for p in self.panes if p["name"] == self.following), None)

    def update_title(self) -> None:
        if self.error:
            return
        p = self.current()
        t = Text(no_wrap=True, overflow="ellipsis")
        log = self.query_one("#pane-log", LogView)
        # The mode first: a narrow terminal cuts the end of this line.
        t.append("FOLLOW" if log.following else "PAUSED",
                 style="bold green" if log.following else "bold black on yellow")
        if self.prefix:
            t.append(" C-a", style="bold reverse")
        t.append(" ")
        if p is None:
            t.append("no panes yet" if not self.panes else "")
        else:
            t.append(f" {p['name']} ", style="bold reverse")
            t.append(" ")
            t.append_text(state_text(p))
            if p.get("pid"):
                t.append(f" pid {p['pid']}")
            if p.get("state") in ("running", "starting") and p.get("uptime") is not None:
                t.append(f" up {uptime(p['uptime'])}")
            if p.get("rss"):
                t.append(f" {rss(p['rss'])}")
            if p.get("restarts"):
                t.append(f" {p['restarts']} restarts", style="yellow")
            if p.get("port"):
                t.append(f" :{p['port']}")
            if p.get("cause") and p.get("state") not in ("running", "starting"):
                t.append(f" {p['cause']}", style="yellow")
        if log.search_term:
            t.append(f"  /{log.search_term}", style="bold yellow")
            if log.current_match is None:
                t.append(" (no match)", style="red")
        self.query_one("#pane-title", Static).update(t)

    # ------------------------------------------------------------ keys

    def on_key(self, event) -> None:
        self.last_key_at = time.monotonic()
        if isinstance(self.focused, Input):
            return
        if self.prefix:
            self.prefix = False
            event.stop()
            event.prevent_default()
            k = event.key
            if k.isdigit():
                self.action_goto(int(k))
            elif k in ("n", "space"):
                self.action_move(1)
            elif k in ("p", "backspace"):
                self.action_move(-1)
            elif k in ("ctrl+a", "a"):
                if self.previous:
                    self.select_pane(self.previous)
            elif k == "d":
                self.action_detach()
            elif k == "k":
                self.action_control("stop")
            self.update_title()
        elif event.key == "ctrl+a":
            self.prefix = True
            event.stop()
            event.prevent_default()
            self.update_title()

    def on_data_table_row_highlighted(self, event) -> None:
        table = self.query_one("#panes", PaneList)
        name = table.selected
        if name and name != self.following:
            self.select_pane(name)

    def action_goto(self, i: int) -> None:
        if 0 <= i < len(self.panes):
            self.select_pane(self.panes[i]["name"])

    def action_move(self, delta: int) -> None:
        if not self.panes:
            return
        names = [p["name"] for p in self.panes]
        i = names.index(self.following) if self.following in names else 0
        self.select_pane(names[(i + delta) % len(names)])

    def action_follow(self) -> None:
        log = self.query_one("#pane-log", LogView)
        log.set_follow(not log.following)
        self.update_title()

    def action_follow_end(self) -> None:
        self.query_one("#pane-log", LogView).set_follow(True)
        self.update_title()

    def action_page(self, direction: int) -> None:
        log = self.query_one("#pane-log", LogView)
        log.set_follow(False)
        log.scroll_page_up(animate=False) if direction < 0 else log.scroll_page_down(animate=False)
        self.update_title()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        event.stop()
        log = self.query_one("#pane-log", LogView)
        again = event.value == log.search_term
        found = log.search(event.value, again=again)
        if found is None and again and event.value:
            self.notify("no older match", timeout=2)
        self.update_title()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search":
            log = self.query_one("#pane-log", LogView)
            log.current_match = None
            log.search(event.value)
            self.update_title()

    def action_close_search(self) -> None:
        box = self.query_one("#search", Input)
        if box.display:
            box.display = False
            self.query_one("#panes").focus()
            self.update_title()

    def action_detach(self) -> None:
        self.stop_follow()
        self.app.exit(message="detached: the services keep running "
                              f"(stacktui --dest {self.dest} attach)")

    # ------------------------------------------------------------ control

    def action_control(self, verb: str) -> None:
        name = self.following
        if name and self.client is not None:
            self.notify(f"{verb} {name}", timeout=2)
            self._control(verb, [name])

    def action_group_restart(self) -> None:
        p = self.current()
        if p and self.client is not None:
            group = p.get("group") or p["name"]
            members = [q["name"] for q in self.panes if (q.get("group") or q["name"]) == group]
            self.notify(f"restart group {group}: {', '.join(members)}", timeout=3)
            self._control("restart", [group])

    @work(thread=True, group="control")
    def _control(self, verb: str, names: list[str]) -> None:
        try:
            getattr(self.client, verb)(names)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"{verb} {' '.join(names)} failed: {e}",
                                      severity="error", timeout=6)
        self.app.call_from_thread(self.poll_status)
