"""The service dashboard: panes owned by the supervisor daemon, watched and
controlled here. Quitting detaches; the services keep running, as in screen.

Everything that talks to the daemon runs off the UI loop: status and monitor
polls in short thread workers, each followed pane in a daemon thread that
feeds the log view in batches (a flood must not freeze the keys).

Three modes take every key while they are on, each named in the title line
with the key that leaves it: copy mode (screen's ``ctrl+a [``), input mode
(typing into the pane, as into its screen window) and the history view (a
search hit older than the scrollback, read from the pane's log files).
"""

from __future__ import annotations

import os
import queue
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

from stacktui.widgets import logfile
from stacktui.widgets.logview import LogView, compile_search, plain
from stacktui.widgets.memheader import MemHeader
from stacktui.widgets.panelist import ALIVE, LAYOUTS, PaneList, rss, state_text, uptime

SCROLLBACK = 5000     # lines asked of the supervisor (its ring holds 5,000)
MAX_LINES = 10_000    # lines kept in the view; older ones come from the log file
HISTORY_WINDOW = 5000  # lines either side of a search hit older than the view
DOWN_STATES = ("exited", "killed")
NARROW_BELOW = 100    # terminal columns under which the pane list starts narrow

# Every key of the dashboard, for `?` (bindings below, and the keys that
# on_key handles itself: ctrl+a chords and the two typing modes).
HELP = [
    ("Panes", [
        ("↑ ↓, n p", "select the next / previous pane (n: next search match while searching)"),
        ("ctrl+a 0-9", "select pane by number (screen's way)"),
        ("ctrl+a n / p / space / backspace", "next / previous pane"),
        ("ctrl+a ctrl+a", "back to the pane shown before"),
        ("r / s / x", "restart / start / stop the selected pane"),
        ("g", "restart its whole group (all of nova)"),
        ("ctrl+a k", "stop the selected pane"),
    ]),
    ("Output", [
        ("PageUp / PageDown", "scroll the output a page (pauses)"),
        ("Home", "to the oldest line kept"),
        ("End, G", "to the end, following"),
        ("f, space", "pause / follow"),
        ("/", "search (regular expression; case ignored unless the term has a capital)"),
        ("Enter in the box, n / N", "next older / newer match, then the log files' older lines"),
        ("e / E", "next / previous ERROR, CRITICAL or Traceback"),
        ("w", "wrap long lines on / off"),
        ("t", "timestamps on / off (when each line arrived; blank for older scrollback)"),
        ("z, ctrl+a z", "zoom: the output alone / back"),
        ("l", "pane list: full, narrow, hidden"),
    ]),
    ("The list's auto column", [
        ("on / off", "restart policy: on-failure (started again after a failure) / never "
                     "(set per service in the answers: restart)"),
        ("4s", "an exited pane the policy starts again in 4 s (the wait doubles per failure)"),
    ]),
    ("Copy mode", [
        ("[, ctrl+a [", "enter copy mode (a cursor line in the output)"),
        ("↑ ↓ k j, PageUp PageDown, Home End", "move the cursor"),
        ("space, v", "start / drop the selection at the cursor"),
        ("y, Enter", "copy the selection to the clipboard (OSC 52) and leave"),
        ("W", "write the selection to a file under DEST/logs/copies/"),
        ("Esc, q", "leave copy mode"),
    ]),
    ("Input mode", [
        ("i, ctrl+a i", "type into the selected pane (a pdb prompt, say)"),
        ("Esc, ctrl+a i", "leave input mode"),
        ("ctrl+a a", "send a literal ctrl+a to the pane"),
    ]),
    ("Screen", [
        ("?", "this help"),
        ("q, ctrl+a d", "detach: the services keep running"),
        ("ctrl+q", "quit (the same: detach)"),
    ]),
]

# Keys sent to a pane in input mode, as a terminal would send them.
INPUT_KEYS = {"enter": "\r", "tab": "\t", "backspace": "\x7f", "delete": "\x1b[3~",
              "up": "\x1b[A", "down": "\x1b[B", "right": "\x1b[C", "left": "\x1b[D",
              "home": "\x1b[H", "end": "\x1b[F", "pageup": "\x1b[5~", "pagedown": "\x1b[6~"}


class DashboardScreen(Screen):
    NAME = "dashboard"
    BINDINGS = [
        Binding("r", "control('restart')", "Restart"),
        Binding("s", "control('start')", "Start"),
        Binding("x", "control('stop')", "Stop"),
        Binding("g", "group_restart", "Group", show=False),
        Binding("n", "next_key(1)", "Next", show=False),
        Binding("N", "search_again(False)", show=False),
        Binding("p", "move(-1)", "Prev", show=False),
        Binding("f", "follow", "Follow"),
        Binding("space", "follow", show=False),
        Binding("slash", "search", "Search"),
        Binding("left_square_bracket", "copy_mode", "Copy"),
        Binding("i", "input_mode", "Input"),
        Binding("w", "wrap", "Wrap", show=False),
        Binding("t", "timestamps", "Times", show=False),
        Binding("z", "zoom", "Zoom"),
        Binding("l", "list_layout", "List", show=False),
        Binding("e", "problem(False)", show=False),
        Binding("E", "problem(True)", show=False),
        Binding("G", "follow_end", show=False),     # less: to the end, following
        Binding("question_mark", "help", "Help"),
        Binding("q", "detach", "Detach"),
        Binding("escape", "close_search", show=False),
    ]

    def __init__(self, dest: Path | str, client=None):
        super().__init__()
        self.dest = Path(dest)
        self.logs = self.dest / "logs"
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
        self.gone = False                     # the supervisor stopped answering
        self.last_key_at: float | None = None
        self.mode: str | None = None          # None, "copy", "input"
        self.history: dict | None = None      # a window of the log files, see search_files
        self.zoomed = False
        self.alerts: set[str] = set()         # panes that exited on their own, unseen
        self._last_state: dict[str, str] = {}
        self._cpu = CpuMeter()
        self._input_q: queue.Queue | None = None

    def compose(self):
        yield MemHeader(f"{self.dest}", id="memheader")
        with Horizontal(id="dash-main"):
            yield PaneList(id="panes")
            with Vertical(id="pane-side"):
                yield Static("", id="pane-title")
                yield LogView(id="pane-log", max_lines=MAX_LINES)
        yield Input(placeholder="search: a regular expression (Enter: older, Esc: close)",
                    id="search", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        table = self.query_one("#panes", PaneList)
        # Below 100 columns the full list would leave the output some 36
        # columns; the title line still shows the selected pane's figures.
        if self.app.size.width < NARROW_BELOW:
            table.set_layout("narrow")
        table.focus()
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
        if panes:
            # Plain dicts (the client's PaneStatus is a read-only mapping):
            # the view adds its own figures (CPU) and marks to them.
            panes = [p.to_dict() if hasattr(p, "to_dict") else dict(p) for p in panes]
            cpu = self._cpu.sample({p["name"]: p.get("pid") for p in panes
                                    if p.get("state") in ALIVE})
            for p in panes:
                p.setdefault("cpu", cpu.get(p["name"]))
        self.app.call_from_thread(self.got_status, panes, err)

    def got_status(self, panes: list[dict] | None, err: str | None) -> None:
        self._polling = False
        if not self.is_attached:
            return
        table = self.query_one("#panes", PaneList)
        header = self.query_one("#memheader", MemHeader)
        if panes is None:
            # What the list showed is no longer known: say so rather than
            # keep saying `running` about panes nobody watches now.
            self.gone = True
            self.show_error(f"supervisor not answering: {err}")
            stale = [{**p, "state": "unknown", "uptime": None, "cpu": None,
                      "rss": None} for p in self.panes]
            table.update_panes(stale, self.alerts)
            header.health = {"gone": True}
            return
        if self.error:
            self.error = None
        self.gone = False
        panes = sorted(panes, key=lambda p: (p.get("order", 0), p["name"]))
        self._alert_exits(panes)
        self.panes = panes
        table.update_panes(panes, self.alerts)
        header.health = health(panes)
        if self.following is None and panes:
            self.select_pane(table.selected or panes[0]["name"])
        self.update_title()

    def _alert_exits(self, panes: list[dict]) -> None:
        """A bell and a mark in the list when a pane ends on its own (a
        stop from here or the CLI says `stopped` and rings nothing)."""
        for p in panes:
            was = self._last_state.get(p["name"])
            now = p.get("state")
            if was in ("running", "starting") and now in DOWN_STATES:
                self.alerts.add(p["name"])
                self.app.bell()
                self.notify(f"{p['name']} ended: {p.get('cause') or now}", severity="error",
                            timeout=6)
            elif now in ("running", "starting") and was not in ("running", "starting", None):
                self.alerts.discard(p["name"])
            self._last_state[p["name"]] = now

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
        if name == self.following and self.history is None:
            return
        if self.mode:
            self.set_mode(None)
        if self.following and self.following != name:
            self.previous = self.following
        self.start_follow(name)
        self.update_title()

    def start_follow(self, name: str) -> None:
        self.stop_follow()
        self.history = None
        log = self.query_one("#pane-log", LogView)
        log.reset()
        log.set_follow(True)
        self.following = name
        if name in self.alerts and self._last_state.get(name) not in DOWN_STATES:
            self.alerts.discard(name)
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
            # The file as it is before the supervisor's ring is taken: the
            # lines older than the ring come from it (the ring holds 5,000).
            paths = logfile.log_paths(self.logs, name)
            size0 = logfile.size_of(self.logs / f"{name}.log")
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
            ring_given = bool(getattr(f, "_pending", None) or getattr(f, "first", None))
            batches = f.batches() if hasattr(f, "batches") else ([line] for line in f)
            first = lines > 0
            for batch in batches:
                if token != self._follow_token:
                    break
                live = not first
                if first:
                    first = False
                    batch = self._with_history(paths, size0, batch if ring_given else [], batch)
                log.push(batch, live=live)
            f.close()
            if token != self._follow_token:
                return
            # The daemon went away or restarted the stream: pick up live output again.
            time.sleep(0.5)
            lines = 0

    @staticmethod
    def _with_history(paths, size0: int, ring: list[str], batch: list[str]) -> list[str]:
        room = MAX_LINES - len(ring)
        if room <= 0 or not paths:
            return batch
        try:
            tail = logfile.tail_lines(paths, MAX_LINES, size0)
        except OSError:
            return batch
        older = logfile.older_than_ring(tail, ring)
        if not older:
            return batch
        return older[-room:] + batch

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
        if self.mode == "input":
            t.append(" INPUT ", style="bold reverse")
            t.append(f" typing into {self.following} · Esc leaves ", style="bold")
        elif self.mode == "copy":
            sel = log.selected_range()
            t.append(" COPY ", style="bold reverse")
            n = 0 if sel is None else sel[1] - sel[0] + 1
            t.append(f" {n} line{'s' if n != 1 else ''} · space mark · y copy · W file · Esc ",
                     style="bold")
        elif self.history is not None:
            h = self.history
            t.append(" HISTORY ", style="bold reverse")
            t.append(f" {h['name']}.log line {h['line'] + 1:,}/{len(h['lines']):,} · End: live ",
                     style="bold")
        else:
            t.append("FOLLOW" if log.following else "PAUSED",
                     style="bold green" if log.following else "bold reverse")
        if self.prefix:
            t.append(" C-a", style="bold reverse")
        if self.zoomed:
            t.append(" ZOOM", style="bold")
        if log.wrap:
            t.append(" WRAP", style="bold")
        if log.timestamps:
            t.append(" TIME", style="bold")
        t.append(" ")
        if p is None:
            t.append("no panes yet" if not self.panes else "")
        else:
            t.append(f" {p['name']} ", style="bold reverse")
            t.append(" ")
            t.append_text(state_text(p))
            if p.get("pid"):
                t.append(f" pid {p['pid']}")
            if p.get("state") in ALIVE and p.get("uptime") is not None:
                t.append(f" up {uptime(p['uptime'])}")
            if p.get("cpu") is not None:
                t.append(f" cpu {p['cpu']:.0f}%")
            if p.get("rss"):
                t.append(f" {rss(p['rss'])}")
            if p.get("restarts"):
                t.append(f" {p['restarts']} restarts", style="yellow")
            if p.get("restart_in") is not None:
                t.append(f" on-failure: again in {p['restart_in']:.0f}s", style="bold yellow")
            elif p.get("restart") == "on-failure":
                t.append(" on-failure")
            if p.get("port"):
                t.append(f" :{p['port']}")
            if p.get("cause") and p.get("state") not in ("running", "starting"):
                t.append(f" {p['cause']}", style="yellow")
        if log.search_term:
            t.append(f"  /{log.search_term}", style="bold")
            if log.literal:
                t.append(" (literal)")
            if log.current_match is None:
                t.append(" (no match)", style="bold red")
        # One row high whatever it says: no layout pass (a keypress under a
        # flood would otherwise wait for the whole screen to be laid out again).
        self.query_one("#pane-title", Static).update(t, layout=False)

    # ------------------------------------------------------------ keys

    def on_key(self, event) -> None:
        self.last_key_at = time.monotonic()
        if isinstance(self.focused, Input):
            return
        k = event.key
        if self.prefix:
            self.prefix = False
            self._stop(event)
            self._prefix_key(k)
            self.update_title()
            return
        if k == "ctrl+a":
            self.prefix = True
            self._stop(event)
            self.update_title()
            return
        if self.mode == "input":
            self._stop(event)
            if k == "escape":
                self.set_mode(None)
            else:
                data = INPUT_KEYS.get(k) or event.character
                if data:
                    self._send_input(self.following, data)
            return
        if self.mode == "copy":
            self._stop(event)
            self._copy_key(k, event.character)
            return
        # The pane list would take these for itself; here they scroll the output.
        if k in ("pageup", "pagedown", "home", "end"):
            self._stop(event)
            {"pageup": lambda: self.action_page(-1), "pagedown": lambda: self.action_page(1),
             "home": self.action_top, "end": self.action_follow_end}[k]()

    @staticmethod
    def _stop(event) -> None:
        event.stop()
        event.prevent_default()

    def _prefix_key(self, k: str) -> None:
        if self.mode == "input":
            if k in ("i", "escape"):
                self.set_mode(None)
            elif k == "a":
                self._send_input(self.following, "\x01")
            return
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
        elif k == "z":
            self.action_zoom()
        elif k == "left_square_bracket":
            self.action_copy_mode()
        elif k == "i":
            self.action_input_mode()
        elif k == "question_mark":
            self.action_help()

    def _copy_key(self, k: str, ch: str | None) -> None:
        log = self.query_one("#pane-log", LogView)
        h = max(1, log.size.height - 1)
        moves = {"up": -1, "k": -1, "down": 1, "j": 1, "pageup": -h, "pagedown": h}
        if k in moves:
            log.move_cursor(moves[k])
        elif k in ("home", "g"):
            log.move_cursor(to=0)
        elif k in ("end", "G"):
            log.move_cursor(to=len(log.lines) - 1)
        elif k in ("space", "v"):
            log.toggle_anchor()
        elif k in ("y", "enter"):
            self.copy_selection(to_file=False)
            self.set_mode(None)
            return
        elif k == "W":
            self.copy_selection(to_file=True)
        elif k in ("escape", "q"):
            self.set_mode(None)
            return
        elif k == "question_mark":
            self.action_help()
        self.update_title()

    def set_mode(self, mode: str | None) -> None:
        log = self.query_one("#pane-log", LogView)
        if self.mode == "copy" and mode != "copy":
            log.copy_mode(False)
        self.mode = mode
        if mode == "copy":
            log.copy_mode(True)
        log.set_class(mode == "input", "-input")
        log.set_class(mode == "copy", "-copy")
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

    def action_next_key(self, delta: int) -> None:
        # less's n while a search is on; screen's next pane otherwise.
        if self.query_one("#pane-log", LogView).search_term:
            self.action_search_again(True)
        else:
            self.action_move(delta)

    def action_follow(self) -> None:
        if self.history is not None:
            self.action_follow_end()
            return
        log = self.query_one("#pane-log", LogView)
        log.set_follow(not log.following)
        self.update_title()

    def action_follow_end(self) -> None:
        if self.history is not None and self.following:
            term = self.query_one("#pane-log", LogView).search_term
            self.start_follow(self.following)
            self.query_one("#pane-log", LogView).set_search(term)
        self.query_one("#pane-log", LogView).set_follow(True)
        self.update_title()

    def action_top(self) -> None:
        log = self.query_one("#pane-log", LogView)
        log.set_follow(False)
        log.scroll_home(animate=False, immediate=True)
        self.update_title()

    def action_page(self, direction: int) -> None:
        log = self.query_one("#pane-log", LogView)
        log.set_follow(False)
        if direction < 0:
            log.scroll_page_up(animate=False)
        else:
            log.scroll_page_down(animate=False)
        self.update_title()

    def action_wrap(self) -> None:
        log = self.query_one("#pane-log", LogView)
        log.set_wrap(not log.wrap)
        self.update_title()

    def action_timestamps(self) -> None:
        log = self.query_one("#pane-log", LogView)
        log.set_timestamps(not log.timestamps)
        self.update_title()

    def action_zoom(self) -> None:
        self.zoomed = not self.zoomed
        for sel in ("#memheader", "Footer"):
            self.query_one(sel).display = not self.zoomed
        table = self.query_one("#panes", PaneList)
        table.display = not self.zoomed and table.layout_name != "hidden"
        if not table.display:
            self.set_focus(None)
        else:
            table.focus()
        self.update_title()

    def action_list_layout(self) -> None:
        table = self.query_one("#panes", PaneList)
        table.set_layout(LAYOUTS[(LAYOUTS.index(table.layout_name) + 1) % len(LAYOUTS)])
        table.update_panes(self.panes, self.alerts, force=True)
        table.display = table.layout_name != "hidden" and not self.zoomed
        if table.display:
            table.focus()
        else:
            self.set_focus(None)

    def action_problem(self, backwards: bool) -> None:
        log = self.query_one("#pane-log", LogView)
        if log.next_problem(backwards) is None:
            self.notify(f"no {'earlier' if backwards else 'later'} ERROR or Traceback in view",
                        timeout=2)
        self.update_title()

    def action_help(self) -> None:
        from stacktui.widgets.help import HelpScreen
        self.app.push_screen(HelpScreen("Dashboard keys", HELP))

    # ------------------------------------------------------------ search

    def action_search(self) -> None:
        # A fresh prompt, as less gives: the last term stays highlighted
        # (n / N go on with it) until a new one is typed.
        box = self.query_one("#search", Input)
        with box.prevent(Input.Changed):
            box.value = ""
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        event.stop()
        log = self.query_one("#pane-log", LogView)
        again = event.value == log.search_term and log.current_match is not None
        if again or self.history is not None:
            self.action_search_again(True)
            return
        found = log.search(event.value)
        if found is None and event.value:
            self.search_files(event.value, older=True)
        self.update_title()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search" and self.history is None:
            log = self.query_one("#pane-log", LogView)
            log.current_match = None
            log.search(event.value)
            self.update_title()

    def action_search_again(self, older: bool = True) -> None:
        log = self.query_one("#pane-log", LogView)
        if not log.search_term:
            return
        if self.history is not None:
            self._history_step(older)
            return
        found = log.search(log.search_term, backwards=older, again=True)
        if found is None:
            if older:
                self.search_files(log.search_term, older=True)
            else:
                self.notify("no newer match", timeout=2)
        self.update_title()

    def action_close_search(self) -> None:
        box = self.query_one("#search", Input)
        if box.display:
            box.display = False
            if self.query_one("#panes").display:
                self.query_one("#panes").focus()
            else:
                self.set_focus(None)
        else:
            log = self.query_one("#pane-log", LogView)
            log.set_search("")
            log.current_match = None
        self.update_title()

    def search_files(self, term: str, older: bool = True) -> None:
        """Past the oldest line in view: the pane's log files, as less
        searches a whole file. The view's own matches are the files' newest
        ones, so the next older hit is the one before them."""
        if not self.following:
            return
        log = self.query_one("#pane-log", LogView)
        in_view = log.count_matches()
        self.notify(f"searching {self.following}'s log files…", timeout=2)
        self._file_search(self.following, term, in_view)

    @work(thread=True, group="filesearch", exclusive=True)
    def _file_search(self, name: str, term: str, in_view: int) -> None:
        pattern, _ = compile_search(term)
        lines = logfile.all_lines(logfile.log_paths(self.logs, name))
        hits = logfile.find_all(lines, pattern, plain) if pattern else []
        idx = len(hits) - in_view - 1
        self.app.call_from_thread(self._file_result, name, term, lines, hits, idx)

    def _file_result(self, name, term, lines, hits, idx) -> None:
        if name != self.following or not self.is_attached:
            return
        if idx < 0 or not hits:
            self.notify(f"no older match for /{term} in {name}'s log files", timeout=3)
            self.update_title()
            return
        self.history = {"name": name, "lines": lines, "hits": hits, "idx": idx, "line": hits[idx]}
        self.stop_follow()
        self._show_history()

    def _history_step(self, older: bool) -> None:
        h = self.history
        i = h["idx"] + (-1 if older else 1)
        if not 0 <= i < len(h["hits"]):
            self.notify(f"no {'older' if older else 'newer'} match in the log files"
                        + ("" if older else " (End: back to live output)"), timeout=3)
            return
        h["idx"], h["line"] = i, h["hits"][i]
        log = self.query_one("#pane-log", LogView)
        lo = h["lo"]
        if lo <= h["line"] < lo + len(log.raw_lines()) and not log.wrap:
            log.show_match(h["line"] - lo)
            self.update_title()
        else:
            self._show_history()

    def _show_history(self) -> None:
        h = self.history
        log = self.query_one("#pane-log", LogView)
        term = log.search_term
        lo = max(0, h["line"] - HISTORY_WINDOW)
        h["lo"] = lo
        log.reset()
        log.set_follow(False)
        log.push(h["lines"][lo:h["line"] + HISTORY_WINDOW], live=False)
        log.flush()
        log.set_search(term)
        row = h["line"] - lo
        if log.wrap:
            row = next((y for y in range(len(log.lines)) if log.matches(y)
                        and plain(log.lines[y]) in plain(h["lines"][h["line"]])), 0)
        self.call_after_refresh(log.show_match, row)
        self.call_after_refresh(self.update_title)

    # ------------------------------------------------------------ copy mode

    def action_copy_mode(self) -> None:
        if self.query_one("#pane-log", LogView).lines:
            self.set_mode("copy")

    def copy_selection(self, to_file: bool) -> None:
        log = self.query_one("#pane-log", LogView)
        text = log.selected_text()
        if not text:
            return
        n = text.count("\n")
        if to_file:
            path = self._write_copy(text)
            if path:
                self.notify(f"{n} lines written to {path}", timeout=6)
            return
        # OSC 52: the terminal (or tmux with set-clipboard on) takes it, also over ssh.
        self.app.copy_to_clipboard(text)
        self.notify(f"{n} line{'s' if n != 1 else ''} copied to the clipboard (OSC 52)",
                    timeout=4)

    def _write_copy(self, text: str) -> Path | None:
        folder = self.logs / "copies"
        path = folder / f"{self.following or 'pane'}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            self.notify(f"cannot write {path}: {e}", severity="error", timeout=6)
            return None
        return path

    # ------------------------------------------------------------ input mode

    def action_input_mode(self) -> None:
        p = self.current()
        if p is None:
            return
        if p.get("state") not in ("running", "starting"):
            self.notify(f"{p['name']} is not running: nothing reads what is typed",
                        severity="warning", timeout=4)
            return
        if not hasattr(self.client, "send_input"):
            self.notify("this supervisor cannot take input (too old); `stacktui up` restarts it",
                        severity="error", timeout=6)
            return
        log = self.query_one("#pane-log", LogView)
        log.set_follow(True)
        self.set_mode("input")

    def _send_input(self, name: str | None, data: str) -> None:
        """Keys reach the pane in the order typed: one sender thread takes
        them from a queue, several at once when they come faster than it sends."""
        if not name:
            return
        if self._input_q is None:
            self._input_q = queue.Queue()
            threading.Thread(target=self._input_sender, name="input-sender", daemon=True).start()
        self._input_q.put((name, data))

    def _input_sender(self) -> None:
        q = self._input_q
        while True:
            name, data = q.get()
            while True:
                try:
                    n2, d2 = q.get_nowait()
                except queue.Empty:
                    break
                if n2 != name:
                    self._send_now(name, data)
                    name, data = n2, d2
                else:
                    data += d2
            self._send_now(name, data)

    def _send_now(self, name: str, data: str) -> None:
        try:
            self.client.send_input(name, data)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"typing into {name}: {e}",
                                      severity="error", timeout=6)

    # ------------------------------------------------------------ control

    def action_detach(self) -> None:
        self.stop_follow()
        self.app.exit(message="detached: the services keep running "
                              f"(stacktui --dest {self.dest} attach)")

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


def health(panes: list[dict]) -> dict:
    """What the header says of the panes: how many are up, which are not."""
    up = [p for p in panes if p.get("state") == "running"]
    starting = [p["name"] for p in panes if p.get("state") == "starting"]
    down = [(p["name"], state_text(p).plain) for p in panes
            if p.get("state") not in ("running", "starting")]
    return {"up": len(up), "total": len(panes), "starting": starting, "down": down}


class CpuMeter:
    """CPU per pane (its whole process tree) between two status polls, as a
    percentage of one core, read from /proc by the dashboard itself."""

    def __init__(self):
        self._last: dict[str, tuple[float, float]] = {}

    def sample(self, pids: dict[str, int | None]) -> dict[str, float]:
        import psutil
        now = time.monotonic()
        out: dict[str, float] = {}
        seen = {}
        for name, pid in pids.items():
            if not pid:
                continue
            try:
                root = psutil.Process(pid)
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                continue
            total = 0.0
            for pr in procs:
                try:
                    ct = pr.cpu_times()
                    total += ct.user + ct.system + ct.children_user + ct.children_system
                except psutil.Error:
                    pass
            seen[name] = (now, total)
            last = self._last.get(name)
            if last and now > last[0] and total >= last[1]:
                out[name] = 100.0 * (total - last[1]) / (now - last[0])
        self._last = seen
        return out
