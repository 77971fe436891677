"""Shared fixtures: a real minimal stack on loopback, isolated user config.

The stack is installed once per test session (about a minute) on free ports
in a temporary DEST with passwords made of every character that breaks
naive quoting, and torn down at the end with no process left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from tests import freshhost, hostscan

FRESH_HOST: dict = {"hidden": [], "why": None}


def pytest_configure(config):
    """Before any test and before any thread: the whole session, and every
    install it runs, sees a fresh host (tests/freshhost.py)."""
    if os.geteuid() != 0:
        FRESH_HOST["why"] = "not root: OpenStack's system folders are not masked"
        return
    FRESH_HOST["hidden"] = freshhost.mask()
    FRESH_HOST["why"] = "private mount namespace"


def pytest_report_header(config):
    hidden = ", ".join(FRESH_HOST["hidden"]) or "none existed"
    return f"fresh host: {FRESH_HOST['why']}; hidden: {hidden}"


NASTY = {
    "admin": "a'd\"m $HOME %41 #x @:/ ü",
    "database": "d`id` $(id) ; & | \\ %2F",
    "rabbit": "r 日本 ' \" $$ :@/?#[]",
    "service": "s%s %% ${x} \\n 'q' \"q\" #",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture(scope="session", autouse=True)
def isolated_user_dirs(tmp_path_factory):
    """Tests must not touch the developer's ~/.config/openstack/clouds.yaml or
    the remembered last stack."""
    base = tmp_path_factory.mktemp("xdg")
    old = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_BIN_HOME")}
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")
    os.environ["XDG_STATE_HOME"] = str(base / "state")
    os.environ["XDG_BIN_HOME"] = str(base / "bin")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def stacktui(*args, check=True, timeout=900, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "stacktui.cli", *map(str, args)], capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"stacktui {' '.join(map(str, args))} exited {r.returncode}\n"
                             f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def stack_processes(dest: Path) -> list[psutil.Process]:
    """Every process that belongs to the stack in ``dest`` (by command line,
    executable or working directory)."""
    out = []
    d = str(dest)
    for p in psutil.process_iter(["pid", "cmdline", "cwd", "exe"]):
        try:
            info = p.info
            text = " ".join(info["cmdline"] or []) + " " + (info["exe"] or "") + " " + (info["cwd"] or "")
            if d in text and p.pid != os.getpid():
                out.append(p)
        except psutil.Error:
            continue
    return out


def stopped_install(dest: Path, fixed_range: str, failed: str):
    """A DEST whose install stopped half-way: its answers and secrets saved,
    preflight done and step ``failed`` failed. Returns its Layout and answers."""
    from stacktui import answers as answers_mod
    from stacktui.paths import Layout
    layout = Layout(dest)
    ans = answers_mod.load(None, dest=dest, overrides={"host_ip": "127.0.0.1",
                                                       "fixed_range": fixed_range})
    layout.answers_file.parent.mkdir(parents=True)
    answers_mod.save(ans, layout.answers_file)
    answers_mod.save_generated(ans)
    layout.state_file.write_text(json.dumps({"version": 1, "steps": {
        "preflight": {"status": "done"}, failed: {"status": "failed"}}}))
    return layout, ans


def write_under(root: Path, path: str, text: str) -> Path:
    """Write ``text`` at the absolute ``path`` re-rooted under ``root`` (a
    fake /proc or /sys tree)."""
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def assert_none_left(dest: Path, wait: float = 20) -> None:
    """After a stack's shutdown: its processes gone within ``wait`` seconds;
    any still there are killed, and the test fails naming them."""
    deadline = time.time() + wait
    while stack_processes(dest) and time.time() < deadline:
        time.sleep(0.3)
    left = [(p.pid, p.name()) for p in stack_processes(dest)]
    for p in stack_processes(dest):
        try:
            p.kill()
        except psutil.Error:
            pass
    assert not left, f"left behind: {left}"


def write_answers(folder: Path, dest: Path, **extra) -> Path:
    ports = free_ports(3)
    data = {"dest": str(dest), "host_ip": "127.0.0.1",
            "ports": {"key": ports[0], "g-api": ports[1], "placement-api": ports[2]},
            "passwords": dict(NASTY)}
    data.update(extra)
    path = folder / "stacktui.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def teardown_stack(dest: Path) -> None:
    stacktui("--dest", dest, "unstack", "--all", check=False, timeout=120)
    deadline = time.time() + 20
    while stack_processes(dest) and time.time() < deadline:
        time.sleep(0.5)
    left = stack_processes(dest)
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    assert not left, f"processes left after unstack --all: {[(p.pid, p.name()) for p in left]}"


@pytest.fixture(scope="session")
def minimal_stack(tmp_path_factory):
    """A real keystone + glance + placement on SQLite, installed by the CLI."""
    root = tmp_path_factory.mktemp("stack")
    dest = root / "dest"
    answers = write_answers(root, dest)
    t0 = time.monotonic()
    # The install inside the try: a failed install still stops what it started.
    try:
        before = hostscan.snapshot()
        r = stacktui("install", "--answers", answers, "--yes")
        info = {
            "dest": dest, "answers": answers, "root": root,
            "install_seconds": time.monotonic() - t0,
            "install_output": r.stdout + r.stderr, "passwords": dict(NASTY),
            "ports": yaml.safe_load(answers.read_text())["ports"],
            "env": {**os.environ, "OS_CLIENT_CONFIG_FILE": str(dest / "clouds.yaml")},
            "host_changes": hostscan.changes(before, hostscan.snapshot()),
        }
        yield info
    finally:
        teardown_stack(dest)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def devstack_stack():
    """DevStack's default cloud, installed once per session for every test
    that needs it (tests/stackfix.py, devstack_profile_stack)."""
    from tests.stackfix import devstack_profile_stack
    with devstack_profile_stack() as stack:
        yield stack


def pytest_collection_modifyitems(session, config, items):
    """Chaos tests (marked ``chaos``) run after every other user of the
    shared DevStack stack, and before the one that stops it (marked
    ``stops_stack``): the stack is installed once, the other tests see it
    undisturbed, and the chaos test leaves it healthy for that last one."""
    chaos = [i for i in items if i.get_closest_marker("chaos")]
    if not chaos:
        return
    rest = [i for i in items if not i.get_closest_marker("chaos")]
    users = [n for n, i in enumerate(rest) if "devstack_stack" in i.fixturenames]
    if not users:
        return
    stops = [n for n in users if rest[n].get_closest_marker("stops_stack")]
    at = stops[0] if stops else users[-1] + 1
    items[:] = rest[:at] + chaos + rest[at:]
