"""Pilot tests of the dashboard against a fake supervisor client with the
real client's interface (status, start/stop/restart, follow, monitor)."""

from __future__ import annotations

import re
import threading
import time
from contextlib import asynccontextmanager

import pytest

from stacktui.app import StackApp

pytestmark = pytest.mark.asyncio

PANES = [("key", "keystone"), ("g-api", "glance"), ("placement-api", "placement"),
         ("n-api", "nova"), ("n-cond", "nova"), ("n-sch", "nova")]


class FakeFollower:
    def __init__(self, client, name, lines):
        self.client, self.name = client, name
        self.closed = threading.Event()
        self.first = client.lines[name][-lines:] if lines else []

    def batches(self):
        if self.first:
            yield list(self.first)
        seen = len(self.client.lines[self.name])
        while not self.closed.is_set():
            cur = self.client.lines[self.name]
            if len(cur) > seen:
                yield cur[seen:]
                seen = len(cur)
            self.closed.wait(0.01)

    def close(self):
        self.closed.set()


class FakeClient:
    def __init__(self, panes=PANES, monitor=None):
        self.calls: list[tuple[str, list[str]]] = []
        self.state = {n: {"name": n, "group": g, "state": "running", "pid": 1000 + i,
                          "uptime": 65 * (i + 1), "restarts": 0, "rss": (100 + i) * 2**20,
                          "port": 5000 + i, "order": i, "exit_code": None, "signal": None,
                          "oom_killed": False, "cause": None, "cpu": 0.5 * i}
                      for i, (n, g) in enumerate(panes)}
        self.lines = {n: [f"{n} line {j}" for j in range(50)] for n, _ in panes}
        self.lines["key"] += ["\x1b[31mERROR\x1b[0m token expired", "INFO all good"]
        self._monitor = monitor or {"level": "ok", "forecast_s": None, "warnings": [],
                                    "sample": {"mem_total": 8 * 2**30,
                                               "mem_available": 5 * 2**30,
                                               "swap_total": 0, "swap_used": 0,
                                               "psi": {"some": 0.0, "full": 0.0}}}
        self.followers: list[FakeFollower] = []
        self.inputs: list[tuple[str, str]] = []

    def _expand(self, names):
        out = []
        for n in names:
            out += [p for p, s in self.state.items() if n in (p, s["group"], "all")]
        return out

    def status(self):
        return [dict(s) for s in self.state.values()]

    def restart(self, names):
        self.calls.append(("restart", list(names)))
        for n in self._expand(names):
            self.state[n]["pid"] += 100
            self.state[n]["restarts"] += 1
        return []

    def stop(self, names):
        self.calls.append(("stop", list(names)))
        for n in self._expand(names):
            self.state[n].update(state="stopped", pid=None)
        return []

    def start(self, names):
        self.calls.append(("start", list(names)))
        for n in self._expand(names):
            self.state[n].update(state="running", pid=4242)
        return []

    def follow(self, name, lines=100):
        f = FakeFollower(self, name, lines)
        self.followers.append(f)
        return f

    def monitor(self):
        return self._monitor

    def send_input(self, name, data):
        self.inputs.append((name, data))


def dash(client, dest="/tmp/stacktui-test-dest", **kw):
    return StackApp("dashboard", dest, client=client,
                    status_interval=0.1, monitor_interval=0.1, **kw)


@asynccontextmanager
async def running(client, size=(80, 24), **kw):
    """The dashboard on ``client``, started and settled: (app, pilot)."""
    app = dash(client, **kw)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        yield app, pilot


async def settle(pilot, t=0.25):
    await pilot.pause(t)
    # On a loaded machine (2 cores, other test runs) the status worker and
    # the follower thread may not have run yet: wait for the first answer
    # and the first lines, never for more than 10 s.
    s = pilot.app.screen
    if type(s).__name__ != "DashboardScreen":
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and s.error is None and (
            not s.panes or (s.following and not s.query_one("#pane-log").lines)):
        await pilot.pause(0.05)


async def test_lists_panes_and_follows_first(tmp_path):
    c = FakeClient()
    async with running(c) as (app, pilot):
        s = app.screen
        assert s.query_one("#panes").names == [n for n, _ in PANES]
        assert s.following == "key"
        log = s.query_one("#pane-log")
        assert "INFO all good" in log.lines[-1]
        title = str(s.query_one("#pane-title").render())
        assert "key" in title and "pid 1000" in title and "FOLLOW" in title
        header = str(s.query_one("#memheader").render())
        assert "RAM 3,072M/8,192M" in header and "ok" in header


async def test_one_key_restart_stop_start_and_group(tmp_path):
    c = FakeClient()
    async with running(c) as (app, pilot):
        await pilot.press("r")
        await settle(pilot)
        assert c.calls[-1] == ("restart", ["key"])
        assert "pid 1100" in str(app.screen.query_one("#pane-title").render())
        await pilot.press("x")
        await settle(pilot)
        assert c.calls[-1] == ("stop", ["key"])
        assert "stopped" in str(app.screen.query_one("#pane-title").render())
        await pilot.press("s")
        await settle(pilot)
        assert c.calls[-1] == ("start", ["key"])
        await pilot.press("ctrl+a", "4")           # n-cond
        await settle(pilot)
        assert app.screen.following == "n-cond"
        await pilot.press("g")
        await settle(pilot)
        assert c.calls[-1] == ("restart", ["nova"])
        assert all(c.state[n]["restarts"] == 1 for n in ("n-api", "n-cond", "n-sch"))


async def test_screen_habits_switch_panes(tmp_path):
    c = FakeClient()
    async with running(c) as (app, pilot):
        s = app.screen
        await pilot.press("n")
        assert s.following == "g-api"
        await pilot.press("n", "n")
        assert s.following == "n-api"
        await pilot.press("p")
        assert s.following == "placement-api"
        await pilot.press("ctrl+a", "0")
        assert s.following == "key"
        await pilot.press("ctrl+a", "ctrl+a")      # back to the previous pane
        assert s.following == "placement-api"
        await pilot.press("ctrl+a", "n")
        assert s.following == "n-api"
        await pilot.press("down")
        assert s.following == "n-cond"
        await settle(pilot)
        assert "n-cond line 49" in s.query_one("#pane-log").lines[-1]
        # the old followers were closed, only the current one streams
        assert sum(not f.closed.is_set() for f in c.followers) == 1


async def test_follow_pause_and_search(tmp_path):
    c = FakeClient()
    async with running(c) as (app, pilot):
        s = app.screen
        log = s.query_one("#pane-log")
        await pilot.press("f")
        assert not log.following
        assert "PAUSED" in str(s.query_one("#pane-title").render())
        n = len(log.lines)
        c.lines["key"].append("arrives while paused")
        await settle(pilot)
        assert len(log.lines) == n + 1                # kept, the view just does not move
        await pilot.press("f")
        assert log.following
        await pilot.press("slash")
        assert s.query_one("#search").has_focus
        await pilot.press(*"token")
        await pilot.press("enter")
        assert log.current_match is not None
        assert "token expired" in log.line_text(log.current_match)
        assert "\x1b" not in log.line_text(log.current_match)
        assert not log.following                       # a search pauses
        await pilot.press(*"zzz", "enter")
        assert "no match" in str(s.query_one("#pane-title").render())
        await pilot.press("escape")
        assert not s.query_one("#search").display
        await pilot.press("G")
        assert log.following


async def test_memory_warnings_in_header(tmp_path):
    mon = {"level": "danger", "forecast_s": 42.0,
           "warnings": ["memory danger: host memory 3% available; largest: q-svc 900 MB"],
           "sample": {"mem_total": 4 * 2**30, "mem_available": 100 * 2**20,
                      "swap_total": 2**30, "swap_used": 2**29, "psi": {"some": 35.0}}}
    async with running(FakeClient(monitor=mon)) as (app, pilot):
        h = str(app.screen.query_one("#memheader").render())
        assert "danger" in h and "out in ~42s" in h and "q-svc 900 MB" in h
        assert "swap 512M/1,024M" in h and "psi 35%" in h


async def test_quit_detaches_without_stopping(tmp_path):
    c = FakeClient()
    async with running(c) as (app, pilot):
        await pilot.press("q")
        await settle(pilot, 0.1)
    assert not any(v in ("stop", "shutdown") for v, _ in c.calls)
    assert all(f.closed.is_set() for f in c.followers)


async def test_flood_keeps_keys_responsive(tmp_path):
    c = FakeClient()
    app = dash(c)
    stop = threading.Event()

    def flood():
        i = 0
        while not stop.is_set() and i < 200_000:
            c.lines["key"].extend(f"flood {j}" for j in range(i, i + 2000))
            i += 2000
            time.sleep(0.001)

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        t = threading.Thread(target=flood, daemon=True)
        t.start()
        delays = []
        for _ in range(10):
            t0 = time.perf_counter()
            await pilot.press("f")
            delays.append(time.perf_counter() - t0)
            await pilot.pause(0.05)
        stop.set()
        t.join()
        # In-process the flood shares the GIL with the UI (worse than the real
        # supervisor, a separate process; bench/bench_tui.py measures that).
        delays.sort()
        assert delays[len(delays) // 2] < 0.5 and delays[-1] < 2.0
        assert len(app.screen.query_one("#pane-log").lines) <= 10_000


async def test_daemon_unreachable_is_shown(tmp_path):
    class Down(FakeClient):
        def status(self):
            raise OSError("connection refused")
    async with running(Down()) as (app, pilot):
        assert "connection refused" in str(app.screen.query_one("#pane-title").render())


# ------------------------------------------------------------------ issue 16

def title(app) -> str:
    return str(app.screen.query_one("#pane-title").render())


async def test_page_keys_scroll_the_output_not_the_list(tmp_path):
    c = FakeClient()
    c.lines["key"] = [f"key line {j}" for j in range(300)]
    async with running(c) as (app, pilot):
        s = app.screen
        log = s.query_one("#pane-log")
        bottom = log.scroll_offset.y
        assert bottom > 0
        await pilot.press("pageup")
        assert log.scroll_offset.y < bottom and not log.following
        assert s.following == "key" and s.query_one("#panes").selected == "key"
        await pilot.press("pagedown", "pagedown")
        assert s.following == "key"                      # not the last pane
        await pilot.press("home")
        assert log.scroll_offset.y == 0 and "PAUSED" in title(app)
        await pilot.press("end")
        assert log.following and log.scroll_offset.y == bottom


async def test_copy_mode_to_clipboard_and_file(tmp_path):
    c = FakeClient()
    async with running(c, dest=tmp_path) as (app, pilot):
        s = app.screen
        await pilot.press("left_square_bracket")
        assert s.mode == "copy" and "COPY" in title(app)
        await pilot.press("up")                           # on "ERROR token expired"
        await pilot.press("space", "up", "up")
        assert "3 lines" in title(app)
        await pilot.press("W")
        files = list((tmp_path / "logs" / "copies").glob("key-*.txt"))
        assert len(files) == 1
        text = files[0].read_text()
        assert text == "key line 48\nkey line 49\nERROR token expired\n"
        assert files[0].stat().st_mode & 0o777 == 0o600
        await pilot.press("y")
        assert app.clipboard == text
        assert s.mode is None and "FOLLOW" not in title(app)
        await pilot.press("ctrl+a", "left_square_bracket", "escape")
        assert s.mode is None


async def test_regex_search_n_and_N(tmp_path):
    c = FakeClient()
    async with running(c) as (app, pilot):
        s = app.screen
        log = s.query_one("#pane-log")
        await pilot.press("slash", *r"line 4\d$")
        assert log.line_text(log.current_match) == "key line 49"   # found while typing
        await pilot.press("enter")
        assert log.line_text(log.current_match) == "key line 48"
        await pilot.press("escape")                       # closes the box, keeps the search
        await pilot.press("n")
        assert log.line_text(log.current_match) == "key line 47"
        assert s.following == "key"                       # n searched, did not switch panes
        await pilot.press("N")
        assert log.line_text(log.current_match) == "key line 48"
        await pilot.press("escape")                       # clears the search: n switches again
        await pilot.press("n")
        assert s.following == "g-api"


def write_log(dest, name, lines):
    logs = dest / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{name}.log.1").write_text("".join(f"{x}\n" for x in lines[:len(lines) // 2]))
    (logs / f"{name}.log").write_text("".join(f"{x}\n" for x in lines[len(lines) // 2:]))


async def test_ten_thousand_lines_from_ring_and_log_file(tmp_path):
    c = FakeClient()
    everything = [f"key line {j}" for j in range(12_000)]
    write_log(tmp_path, "key", everything)
    c.lines["key"] = everything[-5000:]                   # the supervisor's ring
    app = dash(c, dest=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 0.5)
        log = app.screen.query_one("#pane-log")
        assert len(log.lines) == 10_000
        assert log.lines[0] == "key line 2000" and log.lines[-1] == "key line 11999"
        assert len(set(log.lines)) == 10_000             # nothing shown twice


async def test_search_reaches_older_lines_in_the_log_files(tmp_path):
    c = FakeClient()
    everything = [f"key line {j}" + (" needle" if j in (100, 3000) else "")
                  for j in range(30_000)]
    write_log(tmp_path, "key", everything)
    c.lines["key"] = everything[-5000:]
    app = dash(c, dest=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 0.5)
        s = app.screen
        log = s.query_one("#pane-log")
        await pilot.press("slash", *"needle", "enter")
        await settle(pilot, 0.5)
        assert s.history is not None and "HISTORY" in title(app)
        assert log.line_text(log.current_match) == "key line 3000 needle"
        await pilot.press("escape", "n")
        await settle(pilot, 0.3)
        assert log.line_text(log.current_match) == "key line 100 needle"
        assert "line 101/" in title(app)
        await pilot.press("N")
        await settle(pilot, 0.3)
        assert log.line_text(log.current_match) == "key line 3000 needle"
        await pilot.press("end")                           # back to live output
        await settle(pilot, 0.5)
        assert s.history is None and log.following and log.lines[-1] == "key line 29999"


async def test_wrap_zoom_and_narrow_list(tmp_path):
    c = FakeClient()
    c.lines["key"].append("W" * 200)
    async with running(c) as (app, pilot):
        s = app.screen
        log = s.query_one("#pane-log")
        n = len(log.lines)
        await pilot.press("w")
        await settle(pilot, 0.1)      # the layout after the key, not before
        width = log.scrollable_content_region.width
        assert len(log.lines) == n - 1 + -(-200 // width) and "WRAP" in title(app)
        assert max(len(x) for x in log.lines) <= width
        await pilot.press("w")
        await settle(pilot, 0.1)      # the layout after the key, not before
        assert len(log.lines) == n
        wide = log.size.width
        await pilot.press("z")
        await settle(pilot, 0.1)      # the layout after the key, not before
        assert not s.query_one("#panes").display and not s.query_one("#memheader").display
        assert log.size.width > wide and "ZOOM" in title(app)
        await pilot.press("ctrl+a", "z")
        await settle(pilot, 0.1)      # the layout after the key, not before
        assert s.query_one("#panes").display
        table = s.query_one("#panes")
        # 80 columns: the list starts narrow; l: hidden, full, narrow.
        assert [str(col.label) for col in table.columns.values()] == ["#", "pane", "state"]
        await pilot.press("l")
        assert not table.display
        await pilot.press("n")                               # keys still switch panes
        assert s.following == "g-api"
        await pilot.press("l")
        await settle(pilot, 0.1)
        assert table.display and len(table.columns) == 8
        assert log.size.width < wide


async def test_help_lists_every_dashboard_key(tmp_path):
    from screens.dashboard import HELP, DashboardScreen
    async with running(FakeClient(), size=(120, 40)) as (app, pilot):
        await pilot.press("question_mark")
        await settle(pilot, 0.1)
        assert type(app.screen).__name__ == "HelpScreen"
        text = " ".join(k for _, rows in HELP for k, _ in rows)
        shown = {"slash": "/", "left_square_bracket": "[", "question_mark": "?", "space": "space",
                 "escape": "Esc"}
        for b in DashboardScreen.BINDINGS:
            assert shown.get(b.key, b.key) in text, b.key
        await pilot.press("escape")
        assert type(app.screen).__name__ == "DashboardScreen"


async def test_header_health_exit_alert_and_supervisor_gone(tmp_path):
    c = FakeClient()
    async with running(c, size=(120, 40)) as (app, pilot):
        header = app.screen.query_one("#memheader")
        assert " ok  6/6 up" in str(header.render())
        bells = []
        app.bell = lambda: bells.append(1)
        c.state["g-api"].update(state="exited", exit_code=1, pid=None, cause="exit code 1")
        await settle(pilot, 0.3)
        h = str(header.render())
        assert "DOWN" in h and "5/6 up: g-api exit1" in h
        assert bells
        table = app.screen.query_one("#panes")
        assert "!" in str(table.get_row("g-api")[0])
        c.status = lambda: (_ for _ in ()).throw(OSError("connection refused"))
        await settle(pilot, 0.3)
        assert "GONE" in str(header.render())
        assert str(table.get_row("key")[2]) == "unknown"
        assert "not answering" in title(app)


async def test_input_mode_types_into_the_pane(tmp_path):
    c = FakeClient()
    async with running(c) as (app, pilot):
        s = app.screen
        await pilot.press("i")
        assert s.mode == "input" and "INPUT" in title(app)
        assert s.query_one("#pane-log").has_class("-input")
        await pilot.press("p", "space", "x", "enter", "r", "q")   # r and q go to the pane
        await settle(pilot, 0.2)
        assert "".join(d for _, d in c.inputs) == "p xrq" .replace("xrq", "x\rrq")
        assert all(n == "key" for n, _ in c.inputs) and not c.calls
        await pilot.press("escape")
        assert s.mode is None and "INPUT" not in title(app)
        await pilot.press("ctrl+a", "i", "ctrl+a", "a", "ctrl+a", "i")
        await settle(pilot, 0.2)
        assert c.inputs[-1] == ("key", "\x01") and s.mode is None


async def test_jump_to_errors(tmp_path):
    c = FakeClient()
    c.lines["key"] += ["fine", "Traceback (most recent call last):", "  boom", "CRITICAL x"]
    async with running(c) as (app, pilot):
        log = app.screen.query_one("#pane-log")
        await pilot.press("home", "e")
        assert log.line_text(log.current_match) == "ERROR token expired"
        await pilot.press("e")
        assert log.line_text(log.current_match).startswith("Traceback")
        await pilot.press("e", "E")
        assert log.line_text(log.current_match).startswith("Traceback")


async def test_timestamps_toggle(tmp_path):
    c = FakeClient()
    async with running(c, size=(120, 40)) as (app, pilot):
        log = app.screen.query_one("#pane-log")
        await pilot.press("t")
        assert "TIME" in title(app)
        assert log.lines[-1] == " " * 9 + "INFO all good"          # scrollback: time unknown
        c.lines["key"].append("fresh line")
        await settle(pilot)
        assert re.fullmatch(r"\d\d:\d\d:\d\d fresh line", log.lines[-1])
        await pilot.press("t")
        assert log.lines[-1] == "fresh line" and "TIME" not in title(app)


async def test_restart_policy_in_the_list_and_title(tmp_path):
    c = FakeClient()
    c.state["key"]["restart"] = "on-failure"
    c.state["g-api"].update(state="killed", pid=None, signal="SIGKILL", cause="killed by SIGKILL",
                            restart="on-failure", restart_in=3.2, restarts=2)
    app = dash(c)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#panes")
        assert [str(col.label) for col in table.columns.values()][-1] == "auto"
        assert str(table.get_row("key")[-1]) == "on"
        assert str(table.get_row("g-api")[-1]) == "3s"
        assert str(table.get_row("n-api")[-1]) == "off"         # a daemon without the key
        # The whole list is on screen at 120 columns, the policy column included.
        assert table.virtual_size.width <= table.size.width
        assert " on-failure" in title(app)
        await pilot.press("n")
        await settle(pilot)
        assert "2 restarts on-failure: again in 3s" in title(app)
        c.state["g-api"].update(state="running", pid=1200, restart_in=None, restarts=3)
        await settle(pilot)
        assert str(table.get_row("g-api")[-1]) == "on"
        assert "again in" not in title(app)
        c.state["g-api"].update(state="killed", pid=None, restart_in=3.2)
        await pilot.press("l", "l")                  # full -> hidden -> narrow
        await settle(pilot)
        assert [str(col.label) for col in table.columns.values()] == ["#", "pane", "state"]
        assert str(table.get_row("g-api")[2]) == "sigSIGKILL 3s"     # the wait beside the state
