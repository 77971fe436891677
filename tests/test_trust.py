"""Issue 12: a stack touches only what is its own. Fast tests with real
files, folders and processes; no OpenStack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacktui import credentials, paths
from stacktui.paths import Layout


def cli(*args, env=None, input=None):
    return subprocess.run([sys.executable, "-m", "stacktui.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL if input is None else None, input=input,
                          env={**os.environ, **(env or {})})


def fake_stack(dest: Path, before: tuple[str, ...] = ()) -> Layout:
    """What install leaves, without installing: the marker written first
    (as the engine does), then the folders and credential files."""
    layout = Layout(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in before:
        (dest / name).mkdir()
        (dest / name / "mine.txt").write_text("the user's own\n")
    paths.claim(layout)
    for d in (layout.etc, layout.data, layout.logs, layout.run, layout.venv, layout.src):
        d.mkdir(parents=True, exist_ok=True)
    (layout.data / "db").write_text("x")
    cloud = {"auth": {"auth_url": f"http://127.0.0.1:1/{dest.name}/v3", "password": "pw"}}
    (dest / "clouds.yaml").write_text(yaml.safe_dump({"clouds": {"devstack-admin": cloud}}))
    credentials.merge_user_clouds({"devstack-admin": cloud, })
    paths.remember_last(dest)
    return layout


def test_clean_refuses_a_folder_without_marker(tmp_path):
    d = tmp_path / "notastack"
    for sub in ("src", "etc", "data", "logs", "run", "venv"):
        (d / sub).mkdir(parents=True)
    (d / "openrc").write_text("x")
    r = cli("clean", "--dest", d, "--yes")
    assert r.returncode == 2, r
    assert "no stack made by stacktui" in r.stderr
    assert sorted(p.name for p in d.iterdir()) == ["data", "etc", "logs", "openrc", "run", "src", "venv"]


def test_clean_refuses_root_and_home(tmp_path):
    home = tmp_path / "home"
    fake_stack(home)           # even a marked home folder is refused
    for target in ("/", home, tmp_path):
        r = cli("clean", "--dest", target, "--yes", env={"HOME": str(home)})
        assert r.returncode == 2, (target, r)
        assert "refusing to clean" in r.stderr
    assert (home / "data" / "db").exists()


def test_clean_without_terminal_needs_yes(tmp_path):
    d = tmp_path / "st"
    fake_stack(d)
    r = cli("clean", "--dest", d, input="y\n")   # `echo y | stacktui clean`: no terminal
    assert r.returncode == 2, r
    assert "--yes" in r.stderr
    assert (d / "data" / "db").exists()


def test_clean_removes_only_what_install_made_and_the_user_clouds(tmp_path, monkeypatch):
    # A user file of its own: a real stack installed earlier in the session
    # leaves its clouds in the session's file, and clean must keep those too.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    d = tmp_path / "st"
    layout = fake_stack(d, before=("src",))
    other = {"auth": {"auth_url": "http://elsewhere/v3"}}
    credentials.merge_user_clouds({"mycloud": other})
    assert paths.last_dest() == d
    r = cli("clean", "--dest", d, "--yes")
    assert r.returncode == 0, r
    assert (d / "src" / "mine.txt").read_text() == "the user's own\n"
    assert sorted(p.name for p in d.iterdir()) == ["src"]
    clouds = yaml.safe_load(credentials.user_clouds_path().read_text())["clouds"]
    assert clouds == {"mycloud": other}
    assert paths.last_dest() is None
    assert not layout.marker.exists()


def test_clean_keeps_a_cloud_of_the_same_name_from_another_stack(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    fake_stack(a)
    fake_stack(b)              # b's devstack-admin replaced a's in the user file
    assert cli("clean", "--dest", a, "--yes").returncode == 0
    clouds = yaml.safe_load(credentials.user_clouds_path().read_text())["clouds"]
    assert clouds["devstack-admin"]["auth"]["auth_url"].endswith("/b/v3")


# ------------------------------------------------------------------ resume

def test_resume_uses_the_saved_answers(tmp_path, monkeypatch, capsys):
    import argparse

    from stacktui import answers as answers_mod
    from stacktui.cmd_stack import load_for_install
    d = tmp_path / "st"
    ans = answers_mod.load(None, dest=d, overrides={"ports": {"key": 15123}, "region": "Saved"})
    answers_mod.save(ans, Layout(d).answers_file)
    monkeypatch.chdir(tmp_path)        # no ./stacktui.yaml here
    got = load_for_install(argparse.Namespace(dest=str(d), answers=None))
    assert got.port("key") == 15123 and got.data["region"] == "Saved"
    assert got.password("admin") == ans.password("admin")
    assert "saved answers" in capsys.readouterr().out
    # An explicit --answers file is what changes them.
    other = tmp_path / "new.yaml"
    other.write_text("region: Other\n")
    got = load_for_install(argparse.Namespace(dest=str(d), answers=str(other)))
    assert got.data["region"] == "Other" and got.port("key") == 5000


# ------------------------------------------------- symlinks and ownership

import shutil  # noqa: E402
import stat  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from stacktui.client import Client, ensure_daemon  # noqa: E402
from stacktui.errors import StackError, UserError  # noqa: E402


@pytest.fixture
def short_dest():
    # A Unix socket path must fit in 108 bytes: tmp_path is too long.
    d = Path(tempfile.mkdtemp(prefix="tr", dir="/tmp"))
    try:
        yield d
    finally:
        try:
            Client(Layout(d)).shutdown(stop_panes=True)
        except (StackError, UserError):
            pass
        shutil.rmtree(d, ignore_errors=True)


def write_panes(layout: Layout, specs: list[dict]) -> None:
    layout.panes_file.parent.mkdir(parents=True, exist_ok=True)
    layout.panes_file.write_text(json.dumps(specs))


def test_pane_log_symlink_is_not_followed(short_dest, tmp_path):
    layout = Layout(short_dest)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o600)
    layout.logs.mkdir(parents=True)
    (layout.logs / "p.log").symlink_to(victim)
    (layout.logs / "stack.log").symlink_to(victim)
    write_panes(layout, [{"name": "p", "argv": [sys.executable, "-c", "print('hello'*3)"]}])
    c = ensure_daemon(layout)
    c.start(["p"])
    deadline = time.monotonic() + 10
    while not any("hellohello" in ln for ln in c.tail("p", 10)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("hellohello" in ln for ln in c.tail("p", 10))     # the ring still has it
    from stacktui.masking import Masker
    from stacktui.runner import Runner
    with pytest.raises(OSError):
        Runner(layout.stack_log, Masker([]))
    assert victim.read_text() == "precious\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_copy_file_and_make_dirs_do_not_write_through_links(tmp_path):
    from stacktui.fsutil import copy_file, make_dirs
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o600)
    etc = tmp_path / "etc" / "glance"
    etc.mkdir(parents=True)
    (etc / "paste.ini").symlink_to(victim)
    src = tmp_path / "src.ini"
    src.write_text("[pipeline]\n")
    copy_file(src, etc / "paste.ini")
    assert (etc / "paste.ini").read_text() == "[pipeline]\n" and not (etc / "paste.ini").is_symlink()
    (etc / "images").symlink_to(tmp_path)
    with pytest.raises(OSError, match="symlink"):
        make_dirs(etc / "images", mode=0o777)
    assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) != 0o777


def test_run_folder_is_private_whatever_it_was(short_dest):
    layout = Layout(short_dest)
    layout.run.mkdir(mode=0o755)
    os.chmod(layout.run, 0o755)
    write_panes(layout, [])
    ensure_daemon(layout)
    assert stat.S_IMODE(layout.run.stat().st_mode) == 0o700


def test_a_dest_of_another_user_is_refused(short_dest):
    """panes.json written by another user is never run by us (root here)."""
    layout = Layout(short_dest)
    proof = short_dest / "ran"
    write_panes(layout, [{"name": "evil", "argv": ["/bin/sh", "-c", f"touch {proof}"]}])
    (layout.etc / "stacktui" / "stacktui.yaml").write_text("{}\n")
    nobody = 65534
    for p in (short_dest, layout.etc, layout.etc / "stacktui", layout.panes_file):
        os.chown(p, nobody, nobody)
    r = cli("start", "evil", "--dest", short_dest)
    assert r.returncode == 2, r
    assert "belongs to nobody" in r.stderr and "--dest" in r.stderr
    with pytest.raises(UserError, match="belongs to"):
        ensure_daemon(layout)
    r = subprocess.run([sys.executable, "-m", "stacktui.supervisor", "--dest", str(short_dest)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "belongs to" in r.stderr
    assert not proof.exists() and not layout.socket.exists()


def test_a_dest_writable_by_everyone_is_refused(short_dest):
    layout = Layout(short_dest)
    write_panes(layout, [])
    os.chmod(layout.etc, 0o777)
    with pytest.raises(UserError, match="chmod o-w"):
        ensure_daemon(layout)


# ------------------------------------------------------ someone else's stack

def _installed_look(dest: Path, uid: int | None = None) -> Layout:
    """A stopped stack as install leaves it: marker, saved answers, panes."""
    from stacktui import answers as answers_mod
    layout = Layout(dest)
    paths.claim(layout)
    answers_mod.save(answers_mod.load(None, dest=dest), layout.answers_file)
    write_panes(layout, [{"name": "p", "argv": ["sleep", "600"]}])
    if uid is not None:
        for root, dirs, files in os.walk(dest):
            for n in [root, *(os.path.join(root, f) for f in files)]:
                os.chown(n, uid, uid)
    return layout


def _supervisors(dest: Path) -> list:
    import psutil
    return [p for p in psutil.process_iter(["cmdline"])
            if "stacktui.supervisor" in " ".join(p.info["cmdline"] or [])
            and str(dest) in " ".join(p.info["cmdline"] or [])]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_attach_never_starts_a_stopped_stack_and_no_dest_opens_only_ones_own(short_dest, tmp_path):
    from bench.tmuxterm import Term
    layout = _installed_look(short_dest)
    env = {"XDG_STATE_HOME": tmp_path / "state", "XDG_CONFIG_HOME": tmp_path / "config",
           "PYTHONPATH": Path(__file__).parent.parent}
    t = Term("trust")
    try:
        t.start(f"sh -c 'cd {tmp_path} && exec {sys.executable} -m stacktui.cli attach --dest {short_dest}'", env)
        t.wait("is stopped", timeout=30)
        time.sleep(1.0)
        assert not _supervisors(short_dest) and not layout.socket.exists()
        t.keys("q")
        t.wait("STACKTUI-EXITED 0")
        t.kill()
        # Without --dest: the last stack of this home, owned by someone else
        # now, is not opened; the wizard is.
        (tmp_path / "state" / "stacktui").mkdir(parents=True)
        (tmp_path / "state" / "stacktui" / "last-dest").write_text(f"{short_dest}\n")
        for root, dirs, files in os.walk(short_dest):
            for n in [root, *(os.path.join(root, f) for f in files)]:
                os.chown(n, 65534, 65534)
        t = Term("trust2")
        t.start(f"sh -c 'cd {tmp_path} && exec {sys.executable} -m stacktui.cli'", env)
        t.wait("Welcome to stacktui", timeout=30)
        assert not _supervisors(short_dest)
    finally:
        t.kill()


# ------------------------------------------------------------- health

def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


def test_a_stopped_service_shows_not_answering_and_a_stopped_supervisor_is_named(short_dest):
    import signal
    layout = Layout(short_dest)
    port = _free_port()
    write_panes(layout, [{"name": "web", "argv": [sys.executable, "-m", "http.server", "--bind",
                                                  "127.0.0.1", str(port)],
                          "ready": {"http": f"http://127.0.0.1:{port}/"}, "port": port}])
    c = ensure_daemon(layout)
    c.start(["web"])
    c.wait_ready(["web"], timeout=20)
    st = c.status()[0]
    assert st.state == "running" and st.not_answering_since is None
    os.killpg(st.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        hung = _wait(lambda: c.status()[0].state == "not answering", 20)
        assert hung, c.status()
        assert time.monotonic() - t0 < 5          # a stopped leader is seen at once
        r = cli("status", "--dest", short_dest)
        assert "not answering" in r.stdout and "no answer since" in r.stdout
    finally:
        os.killpg(st.pid, signal.SIGCONT)
    assert _wait(lambda: c.status()[0].state == "running", 15)
    sup = json.loads(json.dumps(c.call("ping")))["pid"]
    os.kill(sup, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = cli("status", "--dest", short_dest)
        took = time.monotonic() - t0
    finally:
        os.kill(sup, signal.SIGCONT)
    assert r.returncode == 3, r
    assert f"not answering (pid {sup})" in r.stdout
    assert took < 8, took


# ------------------------------------------------- a port someone else holds

def test_a_pane_is_not_ready_on_a_port_another_process_answers(short_dest):
    layout = Layout(short_dest)
    port = _free_port()
    squatter = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/"]
                                     ).returncode == 0, 10)
        # Like a service that cannot bind: it starts, tries, and exits 3.
        script = (f"import socket, sys, time; time.sleep(1.5); s = socket.socket(); "
                  f"s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                  f"try:\n    s.bind(('127.0.0.1', {port}))\n"
                  f"except OSError as e:\n    print('bind failed:', e); sys.exit(3)\n")
        write_panes(layout, [
            {"name": "svc", "argv": [sys.executable, "-c", script], "port": port,
             "ready": {"http": f"http://127.0.0.1:{port}/"}},
            {"name": "idle", "argv": ["sleep", "60"], "ready": {"tcp": ["127.0.0.1", port]}}])
        c = ensure_daemon(layout)
        c.start(["svc", "idle"])
        with pytest.raises(StackError) as e:
            c.wait_ready(["svc"], timeout=20)
        msg = str(e.value)
        assert "svc: exited with code 3" in msg, msg
        assert f"port {port} is held by pid {squatter.pid}" in msg and "http.server" in msg
        assert "bind failed" in msg
        # Alive but never listening: not ready, and the wait says who answers instead.
        with pytest.raises(StackError) as e:
            c.wait_ready(["idle"], timeout=3)
        assert "not ready after 3 s" in str(e.value) and f"pid {squatter.pid}" in str(e.value)
        assert {p.name: p.state for p in c.status()}["idle"] == "starting"
    finally:
        squatter.kill()
        squatter.wait()


# ------------------------------------------------------- socket protocol

import socket as _socket  # noqa: E402

import psutil  # noqa: E402

from stacktui.panetypes import PROTOCOL  # noqa: E402


def _talk(path: Path, payload: bytes, timeout: float = 5.0) -> tuple[_socket.socket, bytes]:
    s = _socket.socket(_socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(str(path))
    if payload:
        s.sendall(payload)
    return s, _read_line(s)


def _read_line(s) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


@pytest.fixture
def own_supervisor(short_dest):
    """A supervisor started by hand, with a short idle timeout and a small
    connection cap, so the limits can be reached in a second or two."""
    layout = Layout(short_dest)
    write_panes(layout, [{"name": "p", "argv": ["sleep", "600"]}])
    proc = subprocess.Popen([sys.executable, "-m", "stacktui.supervisor", "--dest", str(short_dest),
                             "--idle-timeout", "2", "--max-connections", "3", "--health-every", "1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _wait(lambda: Client(layout).ping(), 10)
    yield layout
    Client(layout).shutdown()
    proc.wait(10)


def test_protocol_answers_every_malformed_request_and_bounds_connections(own_supervisor):
    layout = own_supervisor
    info = Client(layout).call("ping")
    assert info["protocol"] == PROTOCOL == 2
    s, answer = _talk(layout.socket, b"[" * 200000 + b"\n")
    assert json.loads(answer) == {"ok": False, "error": "bad request: nested too deeply",
                                  "code": "bad_request"}
    for bad in (b"not json\n", b"[1,2]\n", b'{"op": 7}\n', b'{"op": "tail", "name": "p", "lines": "x"}\n',
                b'{"op": "nope"}\n'):
        s.sendall(bad)
        msg = json.loads(_read_line(s))
        assert msg["ok"] is False and msg["code"] in ("bad_request", "failed"), (bad, msg)
    s.sendall(b'{"op": "ping"}\n')
    assert json.loads(_read_line(s))["ok"] is True       # the connection survived all of that
    s.close()
    # Idle: closed with a word after 2 s.
    t0 = time.monotonic()
    s, answer = _talk(layout.socket, b"")
    assert json.loads(answer)["code"] == "idle" and 1.5 < time.monotonic() - t0 < 5
    assert s.recv(10) == b""
    s.close()
    # Cap: three idle connections are served, the fourth is told it is busy.
    held = []
    for _ in range(3):
        c = _socket.socket(_socket.AF_UNIX)
        c.connect(str(layout.socket))
        held.append(c)
    time.sleep(0.3)
    s, answer = _talk(layout.socket, b"")
    assert json.loads(answer)["code"] == "busy"
    for c in held + [s]:
        c.close()
    time.sleep(0.3)
    assert Client(layout).ping()
    assert "Traceback" not in (layout.logs / "supervisor.log").read_text()


def test_a_follower_that_never_reads_is_bounded_and_told_what_it_missed(short_dest):
    layout = Layout(short_dest)
    flood = "import sys\nline = 'x' * 120 + '\\n'\nwhile True:\n    sys.stdout.write(line * 200)\n"
    write_panes(layout, [{"name": "flood", "argv": [sys.executable, "-c", flood]}])
    c = ensure_daemon(layout)
    sup = psutil.Process(c.call("ping")["pid"])
    c.start(["flood"])
    pane_pid = c.status()[0].pid
    sup_adj = int(Path(f"/proc/{sup.pid}/oom_score_adj").read_text())
    pane_adj = int(Path(f"/proc/{pane_pid}/oom_score_adj").read_text())
    # -800 for the supervisor where the kernel lets it lower itself (not in
    # every sandbox, root or not); the panes rank above it either way.
    assert sup_adj in (-800, 0) and pane_adj >= 0 and pane_adj - sup_adj >= 300, (sup_adj, pane_adj)
    time.sleep(1.0)
    base = sup.memory_info().rss
    s = _socket.socket(_socket.AF_UNIX)
    s.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 4096)
    s.connect(str(layout.socket))
    s.sendall(b'{"op": "follow", "name": "flood", "lines": 1}\n')
    peak = base
    for _ in range(16):                       # 8 s of flood while the follower reads nothing
        time.sleep(0.5)
        peak = max(peak, sup.memory_info().rss)
    s.settimeout(10)
    got = b""
    while b"\"skipped\": " not in got and len(got) < 50 << 20:
        got += s.recv(1 << 20)
    s.close()
    c.stop(["flood"])
    assert b"lines skipped: this reader was too slow" in got and b'"skipped":' in got
    print(f"supervisor RSS {base / 2**20:.0f} MB -> peak {peak / 2**20:.0f} MB with a stalled follower")
    assert peak - base < 20 << 20, f"supervisor grew {(peak - base) >> 20} MB"


# ------------------------------------------------------ terminal escapes

HOSTILE = ("GET /\x1b]0;pwned\x07\x1b[2J\x1b[H\x1bP+q544e\x1b\\\x9b31m\x1b[31mred\x1b[0m"
           "\x07\x08\x1b[6n\x1b(0 HTTP/1.1")


def test_logs_prints_no_terminal_escapes_from_a_request(short_dest):
    from stacktui.termtext import for_terminal
    layout = Layout(short_dest)
    script = f"import sys; sys.stdout.write({HOSTILE!r} + '\\n'); sys.stdout.flush(); import time; time.sleep(60)"
    write_panes(layout, [{"name": "web", "argv": [sys.executable, "-c", script]}])
    c = ensure_daemon(layout)
    c.start(["web"])
    assert _wait(lambda: any("HTTP/1.1" in ln for ln in c.tail("web", 5)), 10)
    for args in (("logs", "web", "--dest", short_dest), ("logs", "web", "-n", "5", "--dest", short_dest)):
        out = cli(*args).stdout
        line = next(ln for ln in out.splitlines() if ln.startswith("GET"))
        assert line == "GET /31mred HTTP/1.1", repr(line)
        assert not any(ch in out for ch in "\x1b\x07\x08\x9b")
    # A terminal keeps colour (as the dashboard does), nothing else.
    assert for_terminal(HOSTILE, colour=True) == "GET /31m\x1b[31mred\x1b[0m HTTP/1.1\x1b[0m"


# -------------------------------------------------------------- injection

@pytest.mark.parametrize("yaml_text, line, key", [
    ('region: "Region\\rOne"\n', 1, "region"),
    ('post_config:\n  nova:\n    "DEFAULT\\n[database]":\n      debug: "true"\n', 3, "post_config.nova"),
    ('post_config:\n  nova:\n    DEFAULT:\n      "debug\\nconnection": x\n', 4, "post_config.nova.DEFAULT"),
    ('post_config:\n  nova:\n    DEFAULT:\n      debug: "true\\r[database]\\rconnection = evil"\n', 4,
     "post_config.nova.DEFAULT.debug"),
    ('fixed_range: "10.0.0.0/22\\u2028x"\n', 1, "fixed_range"),
])
def test_control_characters_in_answers_are_refused_with_file_and_line(tmp_path, yaml_text, line, key):
    from stacktui import answers as answers_mod
    f = tmp_path / "stacktui.yaml"
    f.write_text(yaml_text)
    with pytest.raises(UserError) as e:
        answers_mod.load(f)
    text = str(e.value)
    assert f"{f}:{line}" in text and key in text and "control character or line separator" in text, text
    assert e.value.exit_code == 2
    r = cli("install", "--answers", f, "--dest", tmp_path / "d", "--yes")
    assert r.returncode == 2 and f"{f}:{line}" in r.stderr
    assert not (tmp_path / "d").exists()


def test_the_ovn_controller_script_does_not_run_dest(tmp_path, monkeypatch):
    """DEST with shell syntax in it reaches the ovn-controller pane's script
    only as an argument. The OVS/OVN programs are not installed on every
    test host, so stand-ins (that print their arguments) take their place."""
    from stacktui.answers import Answers
    from stacktui.phases import ovn
    dest = tmp_path / "st $(touch PWNED) `touch PWNED2`"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("ovs-vsctl", "ovn-controller"):
        (bindir / name).write_text("#!/bin/sh\necho \"$0\" \"$@\"\n")
        (bindir / name).chmod(0o755)
    monkeypatch.setattr(ovn, "_exe", lambda name: str(bindir / name))
    a = Answers()
    a.data.update(host_ip="127.0.0.1", dest=str(dest), enabled_services=["ovn-controller"])

    class Ctx:
        answers, layout = a, Layout(dest)

    spec = next(s for s in ovn.panes(Ctx()) if s["name"] == "ovn-controller")
    r = subprocess.run(spec["argv"], capture_output=True, text=True, cwd=tmp_path, timeout=20)
    assert r.returncode == 0, r
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()
    assert f"unix:{dest}" in r.stdout and r.stdout.split()[0].endswith("ovn-controller")


def test_up_restarts_a_service_that_does_not_answer(short_dest):
    import signal
    layout = _installed_look(short_dest)
    port = _free_port()
    write_panes(layout, [{"name": "web", "argv": [sys.executable, "-m", "http.server", "--bind",
                                                  "127.0.0.1", str(port)],
                          "ready": {"http": f"http://127.0.0.1:{port}/"}, "stop_timeout": 1}])
    c = ensure_daemon(layout)
    c.start(["web"])
    c.wait_ready(["web"], timeout=20)
    pid = c.status()[0].pid
    os.killpg(pid, signal.SIGSTOP)
    assert _wait(lambda: c.status()[0].state == "not answering", 20)
    r = cli("up", "--dest", short_dest)
    assert r.returncode == 0, r
    assert "web: not answering; restarting it" in r.stdout and "is up" in r.stdout
    st = c.status()[0]
    assert st.state == "running" and st.pid != pid


def test_a_hung_service_that_still_accepts_shows_not_answering(own_supervisor, tmp_path):
    """Alive, not stopped, accepting connections, answering nothing: only
    the HTTP probe (every second under this test's supervisor) sees it."""
    layout = own_supervisor
    port = _free_port()
    hang = tmp_path / "hang"
    script = ("import http.server, os, time\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              f"        while os.path.exists({str(hang)!r}): time.sleep(0.1)\n"
              "        self.send_response(200); self.end_headers()\n"
              f"http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n")
    write_panes(layout, [{"name": "p", "argv": ["sleep", "600"]},
                         {"name": "web", "argv": [sys.executable, "-c", script],
                          "ready": {"http": f"http://127.0.0.1:{port}/"}}])
    c = Client(layout)
    c.reload()
    c.start(["web"])
    c.wait_ready(["web"], timeout=20)
    hang.write_text("")
    st = _wait(lambda: next(p for p in c.status() if p.name == "web").state == "not answering", 15)
    assert st, c.status()
    hang.unlink()
    assert _wait(lambda: next(p for p in c.status() if p.name == "web").state == "running", 15)
    assert any("answers again" in ln for ln in c.tail("web", 20))
