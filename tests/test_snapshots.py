"""SVG snapshots of every screen at 80x24 and 120x40 (pytest-textual-snapshot).

Everything machine-dependent (addresses, interfaces, free memory, checks, the
supervisor) is replaced by fixed values so the pictures are the same on any
host. Update with `pytest tests/test_snapshots.py --snapshot-update` and look
at the SVGs before committing them.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from pathlib import Path

import pytest

from stacktui import hostinfo
from stacktui.app import StackApp
from stacktui.checks import Check

HERE = Path(__file__).parent
SIZES = [(80, 24), (120, 40)]
DEST = "/opt/stack-snapshot"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_snap_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


wizard_tests = _load("test_screens_wizard")
dash_tests = _load("test_screens_dashboard")

CHECKS = [
    Check("memory", "ok", "6.1 GB available of 8.0 GB", "1,202 MB (3 services 690 MB + 512 MB)"),
    Check("memory limit", "ok", "no cgroup memory limit", "1,202 MB"),
    Check("swap", "warn", "no swap", "some swap when RAM is under twice the estimate",
          "add swap: fallocate -l 4G /swapfile && mkswap /swapfile && swapon /swapfile"),
    Check("cpu", "ok", "4 cores", ">= 2 cores"),
    Check("disk", "ok", "40.0 GB free at /opt", "3,048 MB"),
    Check("hostname", "fail", "devbox does not resolve", "resolves to an address of this machine",
          "add '192.168.50.10 devbox' to /etc/hosts"),
    Check("port 5000", "ok", "free", "192.168.50.10:5000 free for key"),
    Check("distro", "ok", "Debian GNU/Linux 12 (bookworm)", "Debian 12/13, Ubuntu 24.04"),
]


@pytest.fixture(autouse=True)
def fixed_host(monkeypatch):
    addrs = {"127.0.0.1", "192.168.50.10", "::1", "fd00::10"}
    nets = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("192.168.50.0/24"),
            ipaddress.ip_network("::1/128"), ipaddress.ip_network("fd00::/64")]
    monkeypatch.setattr(hostinfo, "local_addresses", lambda: set(addrs))
    monkeypatch.setattr(hostinfo, "local_networks", lambda: list(nets))
    monkeypatch.setattr(hostinfo, "interfaces", lambda: ["eth0", "lo"])
    monkeypatch.setattr(hostinfo, "default_host_ip",
                        lambda version=4: "192.168.50.10" if version == 4 else "fd00::10")
    from stacktui.screens import services
    monkeypatch.setattr(services, "available_mb", lambda: 6144)
    monkeypatch.setattr(services, "listening", lambda: {})     # what listens here varies
    # The review screen offers to save into the working folder: the same
    # folder on every machine, whatever the checkout's path.
    # DEST's fixes name a folder in the user's home: the same home everywhere.
    monkeypatch.setenv("HOME", "/home/stacker")
    work = Path("/tmp/stacktui-snapshot-cwd")
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)


def wizard(start="welcome", **kw):
    kw.setdefault("checks_fn", lambda ans: CHECKS)
    return StackApp(start, DEST, **kw)


def steady_cursors(pilot):
    """A blinking cursor makes the frame depend on when it is taken (the
    snapshots differed with the machine's load alone); a steady one does not."""
    from textual.widgets import Input
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


async def _pause(pilot):
    steady_cursors(pilot)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", ["welcome", "hostcheck", "passwords", "network", "services",
                                    "review"])
def test_wizard_screen(snap_compare, screen, size):
    async def before(pilot):
        steady_cursors(pilot)
        if screen == "passwords":
            await pilot.press(*"correct horse", "tab", *"correct hors")
        await _pause(pilot)
    assert snap_compare(wizard(screen), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_network_errors(snap_compare, size):
    async def before(pilot):
        pilot.app.screen.query_one("#fixed_range").value = "10.0.0.0/33"
        pilot.app.screen.query_one("#floating_range").value = "192.168.50.0/25"
        await _pause(pilot)
    assert snap_compare(wizard("network"), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_hostcheck_dest_problem(snap_compare, size):
    async def before(pilot):
        await _pause(pilot)
        field = pilot.app.screen.query_one("#dest")
        field.value = "/usr"
        field.focus()
        await pilot.press("enter")
        # Away from the field: its blinking cursor would make the frame depend on timing.
        pilot.app.screen.query_one("#checks").focus()
        await _pause(pilot)
    assert snap_compare(wizard("hostcheck"), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_services_pull_in(snap_compare, size, monkeypatch):
    from stacktui.screens import services
    monkeypatch.setattr(services, "available_mb", lambda: 1100)

    async def before(pilot):
        sl = pilot.app.screen.query_one("#services")
        sl.deselect("key")
        await pilot.pause(0.1)
        sl.select("g-api")
        await _pause(pilot)
    assert snap_compare(wizard("services"), terminal_size=size, run_before=before)


class StuckEngine(wizard_tests.FakeEngine):
    """Fails at start:keystone so the picture has done, failed and pending steps."""

    def __init__(self, answers, bus):
        super().__init__(answers, bus, fail_first=True)
        type(self).runs = 0


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_install_failed(snap_compare, size):
    async def before(pilot):
        pilot.app.draft.set(host_ip="192.168.50.10")
        pilot.app.goto("install")
        await pilot.pause(0.5)
    assert snap_compare(wizard(engine_factory=StuckEngine), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_done(snap_compare, size):
    summary = {"dest": DEST, "host_ip": "192.168.50.10",
               "urls": {"keystone": "http://192.168.50.10:5000/identity",
                        "glance": "http://192.168.50.10:9292",
                        "placement": "http://192.168.50.10:8778"},
               "admin_user": "admin", "passwords_file": f"{DEST}/etc/stacktui/secrets.yaml",
               "openrc": f"{DEST}/openrc", "clouds_yaml": f"{DEST}/clouds.yaml",
               "log": f"{DEST}/logs/stack.log", "seconds": 58.2}

    async def before(pilot):
        pilot.app.show_done(summary)
        await _pause(pilot)
    assert snap_compare(wizard(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard(snap_compare, size):
    mon = {"level": "watch", "forecast_s": 95.0,
           "warnings": ["memory watch: host memory 9% available (700 MB free of 8,192 MB); "
                        "largest: n-api 112 MB, n-cond 113 MB"],
           "sample": {"mem_total": 8 * 2**30, "mem_available": 700 * 2**20,
                      "swap_total": 2**31, "swap_used": 2**29, "psi": {"some": 12.0}}}
    client = dash_tests.FakeClient(monitor=mon)
    # Restart policy: n-sch waits for its next start after failures, key would be started again.
    client.state["n-sch"].update(state="exited", pid=None, exit_code=1,
                                 cause="exit code 1 after 3 s", restart="on-failure",
                                 restart_in=4.0, restarts=2)
    client.state["key"]["restart"] = "on-failure"
    app = StackApp("dashboard", DEST, client=client, status_interval=60, monitor_interval=60)

    async def before(pilot):
        await pilot.pause(0.4)
        await pilot.press("slash", *"token")
        await pilot.pause(0.2)
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", ["help", "copy", "zoom-wrap", "input", "narrow", "gone"])
def test_dashboard_modes(snap_compare, size, mode):
    if mode == "narrow" and size == (120, 40):
        # At 120 columns `l` rebuilds the list with other columns while the
        # status refreshes every 0.1 s: the frame taken depends on timing
        # (it differed between runs with nothing changed). The 80x24 narrow
        # snapshot and the dashboard's Pilot tests of `l` cover the mode.
        pytest.skip("timing-dependent frame at 120x40; covered at 80x24 and by Pilot tests")
    client = dash_tests.FakeClient()
    client.lines["key"].append("a long line " + "that wraps " * 20)
    client.state["g-api"].update(state="exited", pid=None, exit_code=1, cause="exit code 1")
    app = StackApp("dashboard", DEST, client=client, status_interval=0.1, monitor_interval=60)

    async def before(pilot):
        await pilot.pause(0.4)
        keys = {"help": ["question_mark"], "copy": ["left_square_bracket", "up", "space", "up"],
                "zoom-wrap": ["z", "w"], "input": ["i"], "narrow": ["l"], "gone": []}[mode]
        if mode == "gone":
            client.status = lambda: (_ for _ in ()).throw(OSError("connection refused"))
        await pilot.press(*keys)
        # The list is rebuilt with other columns: give a busy machine time for it.
        await pilot.pause(0.8 if mode == "narrow" else 0.3)
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_resume(snap_compare, size):
    info = {"dest": DEST, "answers": f"{DEST}/etc/stacktui/stacktui.yaml", "done": 7,
            "failed": "start:keystone"}
    assert snap_compare(StackApp("resume", DEST, resume=info), terminal_size=size,
                        run_before=_pause)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_wizard_help(snap_compare, size):
    async def before(pilot):
        await pilot.press("f1")
        await _pause(pilot)
    assert snap_compare(wizard("hostcheck"), terminal_size=size, run_before=before)
