"""Pilot tests of the dashboard against a fake supervisor client with the
real client's interface (status, start/stop/restart, follow, monitor)."""

from __future__ import annotations

import threading
import time

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
                          "oom_killed": False, "cause": None}
                      for i, (n, g) in enumerate(panes)}
        self.lines = {n: [f"{n} line {j}" for j in range(50)] for n, _ in panes}
        self.lines["key"] += ["\x1b[31mERROR\x1b[0m token expired", "INFO all good"]
        self._monitor = monitor or {"level": "ok", "forecast_s": None, "warnings": [],
                                    "sample": {"mem_total": 8 * 2**30,
                                               "mem_available": 5 * 2**30,
                                               "swap_total": 0, "swap_used": 0,
                                               "psi": {"some": 0.0, "full": 0.0}}}
        self.followers: list[FakeFollower] = []

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


def dash(client, **kw):
    return StackApp("dashboard", "/tmp/stacktui-test-dest", client=client,
                    status_interval=0.1, monitor_interval=0.1, **kw)


async def settle(pilot, t=0.25):
    await pilot.pause(t)


async def test_lists_panes_and_follows_first(tmp_path):
    c = FakeClient()
    app = dash(c)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
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
    app = dash(c)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
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
    app = dash(c)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
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
    app = dash(c)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
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
    app = dash(FakeClient(monitor=mon))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        h = str(app.screen.query_one("#memheader").render())
        assert "danger" in h and "out in ~42s" in h and "q-svc 900 MB" in h
        assert "swap 512M/1,024M" in h and "psi 35%" in h


async def test_quit_detaches_without_stopping(tmp_path):
    c = FakeClient()
    app = dash(c)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
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
    app = dash(Down())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "connection refused" in str(app.screen.query_one("#pane-title").render())
