"""The real terminal: tmux runs `stacktui` on a fresh DEST, keys drive the
wizard to a finished minimal install, then the dashboard restarts keystone,
quitting leaves it running, and `stacktui attach` shows it again with its
scrollback. Everything started is stopped and cleaned at the end.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.tmuxterm import Term

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]

_spec = importlib.util.spec_from_file_location("_tmux_conftest", Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)


def http_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            return r.status < 500
    except urllib.error.HTTPError as e:
        return e.code < 500
    except OSError:
        return False


def pane(client, name):
    return next(p for p in client.status() if p["name"] == name)


@contextmanager
def terms_then_nothing_left(root: Path, dest: Path, stop, wait: float):
    """The terminals a test opens, then at the end: they are closed, ``stop``
    ends the stack, no process of it is left, and ``root`` is removed."""
    terms: list[Term] = []
    try:
        yield terms
    finally:
        for t in terms:
            t.kill()
        stop()
        try:
            cf.assert_none_left(dest, wait=wait)
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def world():
    root = Path(tempfile.mkdtemp(prefix="stx", dir="/tmp"))   # short: the socket path is limited
    dest = root / "d"
    answers = cf.write_answers(root, dest)
    env = {"XDG_CONFIG_HOME": root / "cfg", "XDG_STATE_HOME": root / "state",
           "PATH": os.environ["PATH"], "TERM": "xterm-256color", "HOME": os.environ.get("HOME", "/root")}
    def stop():
        run_env = {**os.environ, **{k: str(v) for k, v in env.items()}}
        cf.stacktui("--dest", dest, "unstack", "--all", check=False, timeout=120, env=run_env)
        cf.stacktui("--dest", dest, "clean", "--yes", check=False, timeout=120, env=run_env)

    with terms_then_nothing_left(root, dest, stop, wait=20) as terms:
        yield {"root": root, "dest": dest, "answers": answers, "env": env, "terms": terms}


def test_wizard_install_dashboard_attach(world):
    from stacktui.client import Client
    from stacktui.paths import Layout

    dest, env = world["dest"], world["env"]
    exe = f"{sys.executable} -m stacktui.cli"
    ports = cf.yaml.safe_load(world["answers"].read_text())["ports"]

    t = Term("wizard")
    world["terms"].append(t)
    t0 = t.start(f"{exe} --dest {dest}", env)
    t.wait("Welcome to stacktui", timeout=20, every=0.01)
    first_paint = time.monotonic() - t0
    print(f"first paint (tmux, incl. interpreter start): {first_paint:.2f} s")

    # Welcome: the load box has the focus; type the answers file and Enter.
    t.type(str(world["answers"]))
    t.keys("Enter")
    t.wait("✓ loaded")
    t.keys("C-n")
    s = t.wait("Host check")
    s = t.wait(" ok", timeout=60)
    deadline = time.monotonic() + 60
    while "failed" not in t.screen() and time.monotonic() < deadline:
        time.sleep(0.2)
    if " 0 failed" not in t.screen():
        t.keys("o")                       # the explicit override of a failed check
    t.keys("C-n")
    t.wait("Passwords")
    assert "confirmation does not match" not in t.screen()
    assert cf.NASTY["admin"] not in t.screen()          # masked
    t.keys("C-n")
    s = t.wait("HOST_IP")
    assert "127.0.0.1" in s
    t.keys("C-n")
    t.wait("RAM ")
    t.keys("C-n")
    t.wait("stacktui.yaml")
    t.keys("C-n")
    t.wait("preflight", timeout=30)
    s = t.wait("stacktui completed", timeout=600, every=1, fail="install failed")
    time.sleep(0.5)
    s = t.screen()
    assert f"http://127.0.0.1:{ports['key']}" in s, s
    assert "openrc" in s

    # Dashboard: restart keystone with one key.
    client = Client(Layout(dest))
    t.keys("d")
    t.wait("FOLLOW", timeout=30)
    names = [p["name"] for p in sorted(client.status(), key=lambda p: (p.get("order", 0), p["name"]))]
    t.keys("C-a", str(names.index("key")))
    t.wait(" key ", timeout=10)
    old = pane(client, "key")["pid"]
    assert old and http_ok(ports["key"])
    t.keys("r")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        p = pane(client, "key")
        if p["pid"] not in (None, old) and p["state"] == "running" and http_ok(ports["key"]):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"keystone did not come back: {pane(client, 'key')}\n{t.screen()}")
    new = p["pid"]
    t.wait(f"pid {new}", timeout=10)

    # Quit = detach: keystone keeps running.
    t.keys("q")
    t.wait("STACKTUI-EXITED 0", timeout=15)
    time.sleep(1)
    assert pane(client, "key")["pid"] == new and http_ok(ports["key"])

    # Attach again: the pane is there with its scrollback.
    t2 = Term("attach")
    world["terms"].append(t2)
    t2.start(f"{exe} --dest {dest} attach", env)
    t2.wait("FOLLOW", timeout=20)
    t2.keys("C-a", str(names.index("key")))
    tail = [line for line in client.tail("key", 50) if line.strip()]
    assert tail
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        s = t2.screen()
        if f"pid {new}" in s and any(line.strip()[:30] in s for line in tail[-20:]):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no scrollback of key on attach:\n{t2.screen()}")
    t2.keys("q")
    t2.wait("STACKTUI-EXITED 0", timeout=15)


# ------------------------------------------------------------ issue 16: keys a screen user expects

FLOOD = """
import sys, time
for i in range(12000):
    sys.stdout.write(f"line {i:05d} of the flood\\n")
sys.stdout.flush()
print("FLOOD-DONE", flush=True)
time.sleep(600)
"""

DEBUGGEE = """
import pdb, time
x = 6
print("before the breakpoint", flush=True)
pdb.set_trace()
print("after the breakpoint", x * 7, flush=True)
time.sleep(600)
"""


@pytest.fixture
def tiny_stack():
    """A supervisor running two tiny Python panes: no OpenStack needed for keys."""
    from stacktui.client import Client
    from stacktui.errors import StackError
    from tests.test_supervisor import Stack

    root = Path(tempfile.mkdtemp(prefix="stk", dir="/tmp"))
    dest = root / "d"
    dest.mkdir()
    st = Stack(dest)
    st.pane("flood", st.script("flood", FLOOD))
    st.pane("dbg", st.script("dbg", DEBUGGEE))
    st.client.start(["flood", "dbg"])
    def stop():
        try:
            Client(st.layout).shutdown(stop_panes=True)
        except StackError:
            pass

    with terms_then_nothing_left(root, dest, stop, wait=10) as terms:
        yield {"stack": st, "root": root, "dest": dest, "terms": terms}


def test_dashboard_scrollback_search_copy_and_pdb_input(tiny_stack):
    dest, root = tiny_stack["dest"], tiny_stack["root"]
    log = dest / "logs" / "flood.log"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if log.exists() and b"FLOOD-DONE" in log.read_bytes():
            break
        time.sleep(0.1)
    env = {"XDG_STATE_HOME": root / "state", "XDG_CONFIG_HOME": root / "cfg",
           "PATH": os.environ["PATH"], "TERM": "xterm-256color",
           "HOME": os.environ.get("HOME", "/root")}
    t = Term("dash")
    tiny_stack["terms"].append(t)
    # tmux keeps what an application copies with OSC 52 as a buffer when told to.
    t.start(f"{sys.executable} -m stacktui.cli --dest {dest} attach", env)
    t.tmux("set-option", "-s", "set-clipboard", "on")
    t.wait("FOLLOW", timeout=20)
    t.keys("C-a", "0")
    t.wait("FLOOD-DONE", timeout=10)

    # Keyboard scrollback: PageUp pages the output (the list stays on flood).
    t.keys("PPage")
    s = t.wait("PAUSED")
    assert "FLOOD-DONE" not in s and " flood " in s
    t.keys("Home")
    # 10,000 lines kept: the ring's 5,000 and 5,000 more from the log file.
    t.wait("line 02002 of the flood")
    t.keys("End")
    t.wait("FOLLOW")
    t.wait("FLOOD-DONE")

    # Search a line 9,000 lines back, then one older than the scrollback.
    t.keys("/")
    t.type("line 0300[0]")
    s = t.wait("line 03000 of the flood")
    t.keys("Escape")
    t.keys("/")
    t.type("line 00500 ")
    t.keys("Enter")
    s = t.wait("HISTORY", timeout=15)
    assert "line 00500 of the flood" in s
    t.keys("Escape", "n")
    t.wait("no older match", timeout=5)
    t.keys("End")
    t.wait("FOLLOW", timeout=10)
    t.wait("FLOOD-DONE")
    t.keys("Escape")                       # the search term goes; n switches panes again

    # Copy mode: two lines to the clipboard (tmux's buffer) and to a file.
    t.keys("[")
    t.wait("COPY")
    t.keys("Space", "Up")                  # the cursor starts on the last line shown
    t.wait("2 lines")
    t.keys("W")
    t.wait("written to")
    copies = list((dest / "logs" / "copies").glob("flood-*.txt"))
    assert [c.read_text() for c in copies] == ["line 11999 of the flood\nFLOOD-DONE\n"]
    t.keys("y")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        buf = t.tmux("show-buffer", check=False)
        if buf:
            break
        time.sleep(0.1)
    assert buf.rstrip("\n") == "line 11999 of the flood\nFLOOD-DONE"

    # Input mode: type into the pdb prompt of the other pane.
    t.keys("C-a", "1")
    t.wait("(Pdb)", timeout=10)
    t.keys("i")
    t.wait("INPUT")
    t.type("p x * 7")
    t.keys("Enter")
    t.wait("42", timeout=10)
    t.type("c")
    t.keys("Enter")
    t.wait("after the breakpoint 42", timeout=10)
    t.keys("Escape")
    s = t.wait("FOLLOW")
    assert "INPUT" not in s
    t.keys("q")
    t.wait("STACKTUI-EXITED 0", timeout=15)


def test_unfinished_install_offers_resume(tmp_path):
    """`stacktui` on a DEST whose install stopped half-way: Resume, Change
    answers or the dashboard, instead of a dashboard of one pane. (Resuming
    itself is the engine's, tested by test_e2e_lifecycle; this is the way in.)"""
    root = Path(tempfile.mkdtemp(prefix="str", dir="/tmp"))
    try:
        dest = root / "d"
        layout, _ = cf.stopped_install(dest, "10.77.0.0/22", failed="venv")
        env = {"XDG_STATE_HOME": root / "state", "XDG_CONFIG_HOME": root / "cfg",
               "PATH": os.environ["PATH"], "TERM": "xterm-256color",
               "HOME": os.environ.get("HOME", "/root")}
        t = Term("resume")
        try:
            t.start(f"{sys.executable} -m stacktui.cli --dest {dest}", env)
            s = t.wait("Resume the install?", timeout=20)
            assert "stopped at venv" in s and "Change answers" in s
            t.keys("c")
            s = t.wait("Welcome to stacktui", timeout=10)
            assert str(layout.answers_file) in s            # loaded from the saved answers
            t.keys("C-q")
            t.wait("STACKTUI-EXITED 0", timeout=10)
        finally:
            t.kill()
    finally:
        shutil.rmtree(root, ignore_errors=True)
