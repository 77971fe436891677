"""A real OOM kill, warned about in time.

A memory hog grows steadily inside a memory-limited cgroup made by the test
(v1 or v2, whichever the machine has) until the kernel kills it. The warning
must come at least 5 s before the kill and name the hog; the pane must then
say "killed by the OOM killer". Once through the whole supervisor (pane spec
with a ``cgroup``, the daemon's own Monitor, `monitor` over the socket) and
once with a bare Monitor fed the hog's pid, as a library user would.
Skipped, with the reason, where cgroups cannot be written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from stacktui import cgroups
from stacktui.monitor import Monitor, killed_by_oom, oom_kill_count

LIMIT = 256 * 1024 * 1024
STEP_MB = 8          # per second: the kill comes about 30 s after the start
LEAD_S = 5.0

HOG = f"""
import time
chunks = []
while True:
    # Filled, not zeroed: untouched pages would never count as resident.
    chunks.append(b"x" * ({STEP_MB} << 20))
    print(f"t={{time.time():.3f}} mb={{len(chunks) * {STEP_MB}}}", flush=True)
    time.sleep(1.0)
"""


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _make_cgroup(name: str) -> tuple[Path, int]:
    """A fresh memory cgroup limited to LIMIT: (directory, cgroup version)."""
    own = cgroups.memory_cgroup()
    if own is None:
        pytest.skip("no memory cgroup on this machine (/proc/self/cgroup)")
    bases = [own.path, own.top] if own.version == 1 else [own.top]
    last = None
    for base in bases:
        d = base / name
        try:
            d.mkdir()
        except OSError as e:
            last = e
            continue
        try:
            if own.version == 1:
                _write(d / "memory.limit_in_bytes", str(LIMIT))
                if (d / "memory.memsw.limit_in_bytes").exists():
                    # With swap the hog would page out instead of dying.
                    _write(d / "memory.memsw.limit_in_bytes", str(LIMIT))
            else:
                ctl = base / "cgroup.subtree_control"
                if "memory" not in ctl.read_text():
                    _write(ctl, "+memory")
                _write(d / "memory.max", str(LIMIT))
                _write(d / "memory.swap.max", "0")
            return d, own.version
        except OSError as e:
            last = e
            _remove_cgroup(d)
    pytest.skip(f"cannot create a memory-limited cgroup under {bases[0]}: {last}")


def _remove_cgroup(d: Path) -> None:
    for name in ("cgroup.procs", "tasks"):
        try:
            pids = [int(x) for x in (d / name).read_text().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


@pytest.fixture
def memcg():
    d, version = _make_cgroup(f"stacktui-oomtest-{os.getpid()}-{time.monotonic_ns()}")
    try:
        yield d
    finally:
        _remove_cgroup(d)


def _last_stamp(lines) -> float:
    """When the hog last allocated: the kill came after this."""
    stamps = [float(ln.split()[0][2:]) for ln in lines if ln.startswith("t=")]
    assert stamps, f"the hog never ran: {lines[-10:]}"
    return stamps[-1]


def _first_warning_naming(status: dict, pane: str) -> str | None:
    if status.get("level") in ("watch", "danger"):
        for w in status.get("warnings") or ():
            if pane in w:
                return w
    return None


# ---------------------------------------------------------------- supervisor

def test_supervisor_warns_before_the_oom_kill(memcg):
    from stacktui.client import Client, ensure_daemon
    from stacktui.errors import StackError
    from stacktui.paths import Layout

    dest = Path(tempfile.mkdtemp(prefix="oom", dir="/tmp"))   # short: socket path
    layout = Layout(dest)
    layout.panes_file.parent.mkdir(parents=True, exist_ok=True)
    script = dest / "hog.py"
    script.write_text(textwrap.dedent(HOG))
    layout.panes_file.write_text(json.dumps([{
        "name": "hog", "argv": [sys.executable, "-u", str(script)], "env": {}, "cwd": str(dest),
        "group": "hog", "infra": False, "port": None, "ready": None, "stop_timeout": 5,
        "cgroup": str(memcg), "order": 0}]))
    client = None
    try:
        client = ensure_daemon(layout)
        mon = client.monitor()
        if mon.get("available") is False:
            pytest.fail("the supervisor runs no memory monitor")
        client.start(["hog"])
        warned_at = warning = None
        st = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if warning is None:
                warning = _first_warning_naming(client.monitor(), "hog")
                if warning:
                    warned_at = time.time()
            st = next(s for s in client.status() if s["name"] == "hog")
            if st["state"] not in ("running", "starting", "defined"):
                break
            time.sleep(0.25)
        assert st.get("state") == "killed", f"the hog was not killed: {st}"
        assert st["oom_killed"] is True and st["cause"] == "killed by the OOM killer"
        killed_after = _last_stamp(client.tail("hog", 200))
        assert warning, "no warning naming the hog before it was killed"
        lead = killed_after - warned_at
        assert lead >= LEAD_S, f"warning only {lead:.1f} s before the kill: {warning}"
        assert "stop hog" in warning
        log = (layout.logs / "monitor.log").read_text()
        assert "hog" in log and ("-> watch" in log or "-> danger" in log)
        print(f"\nwarned {lead:.1f} s before the OOM kill: {warning}")
    finally:
        try:
            Client(layout).shutdown(stop_panes=True)
        except StackError:
            pass
        if client is not None and getattr(client, "_proc", None) is not None:
            try:
                client._proc.wait(10)
            except subprocess.TimeoutExpired:
                client._proc.kill()
        subprocess.run(["rm", "-rf", str(dest)])


# ---------------------------------------------------------------- bare monitor

def test_monitor_alone_warns_before_the_oom_kill(memcg, tmp_path):
    """What the supervisor does, spelled out: start the process in the cgroup,
    snapshot oom_kill_count(), hand its pid to a Monitor, and on SIGKILL ask
    killed_by_oom()."""
    def join():
        for name in ("cgroup.procs", "tasks"):
            try:
                _write(memcg / name, "0")
                return
            except OSError:
                pass

    out = tmp_path / "hog.out"
    with open(out, "w") as f:
        hog = subprocess.Popen([sys.executable, "-u", "-c", HOG], stdout=f, preexec_fn=join)
    # Keep the cgroup at hand: once the hog is dead its pid leads nowhere.
    cg = cgroups.memory_cgroup(hog.pid)
    assert cg is not None and cg.path == memcg
    before = oom_kill_count() + cg.oom_kills()
    mon = Monitor(pane_pids=lambda: {"hog": hog.pid} if hog.poll() is None else {},
                  log_path=tmp_path / "monitor.log")
    mon.start(interval=1.0)
    warned_at = warning = None
    try:
        deadline = time.monotonic() + 120
        while hog.poll() is None and time.monotonic() < deadline:
            if warning is None:
                warning = _first_warning_naming(mon.status(), "hog")
                if warning:
                    warned_at = time.time()
            time.sleep(0.2)
    finally:
        mon.stop()
        if hog.poll() is None:
            hog.kill()
        hog.wait()
    assert hog.returncode == -9, f"the hog ended with {hog.returncode}, not SIGKILL"
    assert killed_by_oom(hog.returncode, before, after=oom_kill_count() + cg.oom_kills())
    killed_after = _last_stamp(out.read_text().splitlines())
    assert warning, "no warning naming the hog"
    assert killed_after - warned_at >= LEAD_S, warning
    assert f"cgroup {memcg}" in warning
    assert "hog" in (tmp_path / "monitor.log").read_text()
