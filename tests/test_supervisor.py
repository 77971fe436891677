"""The pane supervisor with real processes: a daemon per test in a short
temporary DEST, panes that are small Python scripts, `sleep` and
http.server on loopback. Every test ends with no process of its DEST left."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from stacktui.client import Client, daemon_pid, ensure_daemon
from stacktui.errors import StackError
from stacktui.pane import ENV_DEST, ENV_PANE, RotatingLog, SecretFilter
from stacktui.paths import Layout

SECRET = "pa ss:w@rd#$%'\"é"     # quotes, $, %, #, @, :, space, non-ASCII
SECRET2 = "Zq8vLm3TtR5nPw2KxY7cJ4hB"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dest_procs(dest: Path) -> list[psutil.Process]:
    """Live processes that belong to a DEST: its daemon (by command line) and
    its panes (by the marker in their environment). Zombies are dead."""
    me = os.getpid()
    out = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.pid == me or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if str(dest) in " ".join(p.info["cmdline"] or []) or p.environ().get(ENV_DEST) == str(dest):
                out.append(p)
        except (psutil.Error, OSError):
            pass
    return out


def wait_for(pred, timeout=10.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    return pred()


class Stack:
    def __init__(self, dest: Path):
        self.dest = dest
        self.layout = Layout(dest)
        self.scripts = dest / "scripts"
        self.scripts.mkdir(parents=True)
        self.specs: list[dict] = []
        self._client: Client | None = None
        secrets = self.layout.secrets_file
        secrets.parent.mkdir(parents=True, exist_ok=True)
        secrets.write_text(json.dumps({"passwords": {"admin": SECRET, "service": SECRET2}}))
        secrets.chmod(0o600)

    def script(self, name: str, body: str) -> list[str]:
        path = self.scripts / f"{name}.py"
        path.write_text(textwrap.dedent(body))
        return [sys.executable, "-u", str(path)]

    def pane(self, name: str, argv: list[str], **kw) -> dict:
        spec = {"name": name, "argv": argv, "env": {}, "cwd": str(self.dest), "group": name,
                "infra": False, "port": None, "ready": None, "stop_timeout": 5, "cgroup": None,
                "order": len(self.specs), **kw}
        self.specs = [s for s in self.specs if s["name"] != name] + [spec]
        self.layout.panes_file.write_text(json.dumps(self.specs))
        return spec

    def sleeper(self, name: str, **kw) -> dict:
        return self.pane(name, self.script("sleeper", """
            import time
            print("up", flush=True)
            time.sleep(600)
        """), **kw)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = ensure_daemon(self.layout)
        return self._client

    def status(self, name: str) -> dict:
        return next(s for s in self.client.status() if s["name"] == name)


@pytest.fixture
def stack():
    # Short path: a Unix socket path must fit in 108 bytes.
    dest = Path(tempfile.mkdtemp(prefix="sv", dir="/tmp"))
    st = Stack(dest)
    try:
        yield st
    finally:
        try:
            Client(st.layout).shutdown(stop_panes=True)
        except StackError:
            pass
        if st._client is not None and st._client._proc is not None:
            try:
                st._client._proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        left = wait_for(lambda: not dest_procs(dest), timeout=5) or dest_procs(dest)
        leftovers = [] if left is True else left
        for p in leftovers:
            try:
                p.kill()
            except psutil.Error:
                pass
        subprocess.run(["rm", "-rf", str(dest)])
        assert not leftovers, f"processes left behind: {[(p.pid, p.name()) for p in leftovers]}"


# ------------------------------------------------------------------ basics

def test_start_stop_restart_new_pid(stack):
    stack.sleeper("a")
    c = stack.client
    assert c.ping()
    assert stack.status("a")["state"] == "defined"
    c.start(["a"])
    st = stack.status("a")
    assert st["state"] == "running" and st["pid"]
    assert st["rss"] > 0 and st["uptime"] >= 0
    pid1 = st["pid"]
    c.restart(["a"])
    st = stack.status("a")
    assert st["state"] == "running" and st["pid"] != pid1 and st["restarts"] == 1
    assert not psutil.pid_exists(pid1) or psutil.Process(pid1).status() == psutil.STATUS_ZOMBIE
    c.stop(["a"])
    st = stack.status("a")
    assert st["state"] == "stopped" and st["pid"] is None and st["cause"] == "stopped"


def test_groups_all_and_infra(stack):
    stack.sleeper("n-api", group="nova", order=10)
    stack.sleeper("n-cond", group="nova", order=11)
    stack.sleeper("key", group="keystone", order=5)
    stack.sleeper("mysql", group="mysql", infra=True, order=0)
    c = stack.client
    c.start(["nova"])
    states = {s["name"]: s["state"] for s in c.status()}
    assert states == {"mysql": "defined", "key": "defined", "n-api": "running", "n-cond": "running"}
    c.start("all")
    st = {s["name"]: s for s in c.status()}
    assert all(s["state"] == "running" for s in st.values())
    # `all` starts in `order`: mysql (0) before key (5)
    assert st["mysql"]["started_at"] < st["key"]["started_at"]
    c.stop("all")
    states = {s["name"]: s["state"] for s in c.status()}
    assert states == {"mysql": "running", "key": "stopped", "n-api": "stopped", "n-cond": "stopped"}
    c.stop("all", infra=True)
    assert stack.status("mysql")["state"] == "stopped"
    with pytest.raises(StackError, match="unknown pane or group: nope"):
        c.start(["nope"])


def test_sigkill_shows_killed_and_restart_brings_it_back(stack):
    stack.sleeper("g-api")
    c = stack.client
    c.start("g-api")
    pid = stack.status("g-api")["pid"]
    os.kill(pid, signal.SIGKILL)
    st = wait_for(lambda: (s := stack.status("g-api"))["state"] == "killed" and s)
    assert st["state"] == "killed"
    assert st["cause"] == "killed by SIGKILL"
    assert st["signal"] == "SIGKILL" and st["exit_code"] is None and st["oom_killed"] is False
    assert st["pid"] is None
    time.sleep(1.5)     # no silent restart
    assert stack.status("g-api")["state"] == "killed"
    c.restart("g-api")
    st = stack.status("g-api")
    assert st["state"] == "running" and st["pid"] != pid and st["restarts"] == 1


def test_exit_code_reported(stack):
    stack.pane("bad", stack.script("bad", """
        import sys
        print("config missing", flush=True)
        sys.exit(7)
    """))
    c = stack.client
    c.start("bad")
    st = wait_for(lambda: (s := stack.status("bad"))["state"] == "exited" and s)
    assert st["exit_code"] == 7 and st["signal"] is None
    assert st["cause"] == "exited with code 7"
    assert "config missing" in c.tail("bad", 10)


def test_missing_program_is_a_clear_error(stack):
    stack.pane("ghost", ["/nonexistent/bin/ghost"])
    with pytest.raises(StackError, match="ghost: failed to start"):
        stack.client.start("ghost")
    assert stack.status("ghost")["state"] == "exited"


# ------------------------------------------------------------------ output

def test_output_reaches_tail_follow_and_log_without_secrets(stack):
    from urllib.parse import quote
    stack.pane("talker", stack.script("talker", f"""
        import sys, time
        secret = {SECRET!r}
        quoted = {quote(SECRET, safe="")!r}
        print("line one", flush=True)
        print("raw", secret, "and quoted", quoted, flush=True)
        # split across two writes, the second after the partial-line hold
        sys.stdout.write("split " + secret[:4]); sys.stdout.flush()
        time.sleep(0.6)
        sys.stdout.write(secret[4:] + " end\\n"); sys.stdout.flush()
        # split across two writes with no pause
        sys.stdout.write("fast " + secret[:7]); sys.stdout.flush()
        sys.stdout.write(secret[7:] + " end2\\n"); sys.stdout.flush()
        # a prompt with no newline still shows up
        sys.stdout.write("Password: "); sys.stdout.flush()
        time.sleep(600)
    """))
    c = stack.client
    c.start("talker")
    got: list[str] = []
    follower = c.follow("talker", lines=50)

    def reader():
        for line in follower:
            got.append(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    assert wait_for(lambda: any("Password:" in ln for ln in c.tail("talker", 50)), 10)
    wait_for(lambda: any("Password:" in ln for ln in got), 5)
    follower.close()
    t.join(5)
    assert not t.is_alive()
    tail = c.tail("talker", 50)
    log_text = stack.layout.logs.joinpath("talker.log").read_text()
    for where, text in (("tail", "\n".join(tail)), ("follow", "\n".join(got)), ("log", log_text)):
        assert "line one" in text, where
        assert "raw **** and quoted ****" in text, where
        assert "split ****" in text.replace("\n", ""), where
        assert "fast **** end2" in text, where
        for form in (SECRET, quote(SECRET, safe=""), SECRET[4:], SECRET[:7] + SECRET[7:]):
            assert form not in text, (where, form)
    assert "\r" not in log_text


def test_follow_sees_restarts_and_unknown_pane(stack):
    stack.pane("ticker", stack.script("ticker", """
        import time, os
        for i in range(100000):
            print("tick", i, os.getpid(), flush=True)
            time.sleep(0.05)
    """))
    c = stack.client
    c.start("ticker")
    with c.follow("ticker", lines=0) as f:
        it = iter(f)
        first = next(it)
        assert first.startswith("tick")
        c.restart("ticker")
        seen_start = False
        for line in it:
            if "started pid" in line:
                seen_start = True
            if seen_start and line.startswith("tick"):
                break
        assert seen_start
    with pytest.raises(StackError, match="unknown pane"):
        c.follow("nope")


def test_log_rotation(tmp_path):
    log = RotatingLog(tmp_path / "x.log", max_bytes=1000, keep=3)
    for i in range(105):
        log.write(f"{i:04d} {'x' * 95}\n".encode())
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["x.log", "x.log.1", "x.log.2", "x.log.3"]
    assert all(p.stat().st_size <= 1100 for p in tmp_path.iterdir())
    assert "0104" in (tmp_path / "x.log").read_text()
    assert "0099" in (tmp_path / "x.log.1").read_text()


def test_secret_filter_holds_back_a_possible_secret_start():
    f = SecretFilter(["hunter22"])
    assert f.mask(b"a hunter22 b") == b"a **** b"
    data = b"prompt hunt"
    assert data[:f.safe_cut(data)] == b"prompt "
    assert f.safe_cut(b"Password: ") == len(b"Password: ")


# ------------------------------------------------------------------ safety

def test_socket_mode_and_peer_uid_check(stack):
    c = stack.client
    mode = stat.S_IMODE(os.stat(stack.layout.socket).st_mode)
    assert mode == 0o600
    # Open the file permissions wide: the SO_PEERCRED check must still refuse.
    os.chmod(stack.dest, 0o711)
    os.chmod(stack.layout.run, 0o711)
    os.chmod(stack.layout.socket, 0o666)
    probe = textwrap.dedent(f"""
        import os, socket
        os.setgid(65534); os.setuid(65534)
        s = socket.socket(socket.AF_UNIX)
        s.connect({str(stack.layout.socket)!r})
        # The refusal comes at once, before any request is read.
        print(s.recv(4096).decode())
        try:
            s.sendall(b'{{"op": "status"}}\\n')
            print(s.recv(4096).decode())
        except OSError:
            pass
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=20)
    assert "permission denied" in out.stdout, out.stderr
    assert "talker" not in out.stdout
    assert c.ping()


def test_stop_kills_group_and_escaped_descendants(stack):
    stack.pane("forker", stack.script("forker", """
        import os, subprocess, sys, time
        # a grandchild in the pane's process group ...
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        # ... and one that left it with its own session (a daemonizing helper)
        p = subprocess.Popen(["sleep", "600"], start_new_session=True)
        # ... and a classic double-fork daemon (epmd): no longer our descendant
        r, w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.write(w, str(os.getpid()).encode())
                time.sleep(600)
            os._exit(0)
        os.wait()
        print("daemon", os.read(r, 32).decode(), flush=True)
        print("ready", flush=True)
        time.sleep(600)
    """), stop_timeout=3)
    c = stack.client
    c.start("forker")
    assert wait_for(lambda: "ready" in c.tail("forker", 10))
    pid = stack.status("forker")["pid"]
    family = [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]
    assert len(family) >= 3
    daemonized = int(next(ln for ln in c.tail("forker", 10) if ln.startswith("daemon")).split()[1])
    assert daemonized not in family
    family.append(daemonized)
    c.stop("forker")
    alive = [p for p in family if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == []


def test_stop_escalates_to_sigkill(stack):
    stack.pane("stubborn", stack.script("stubborn", """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring TERM", flush=True)
        time.sleep(600)
    """), stop_timeout=1)
    c = stack.client
    c.start("stubborn")
    assert wait_for(lambda: "ignoring TERM" in c.tail("stubborn", 5))
    t0 = time.monotonic()
    c.stop("stubborn")
    assert time.monotonic() - t0 < 5
    st = stack.status("stubborn")
    assert st["state"] == "stopped" and st["signal"] == "SIGKILL"
    assert "SIGKILL" in st["cause"]


def test_pane_leftovers_killed_when_leader_dies(stack):
    stack.pane("master", stack.script("master", """
        import os, time
        if os.fork() == 0:
            import signal
            signal.signal(signal.SIGHUP, signal.SIG_IGN)   # a worker that survives its master
            time.sleep(600)
            os._exit(0)
        print("forked", flush=True)
        time.sleep(600)
    """))
    c = stack.client
    c.start("master")
    assert wait_for(lambda: "forked" in c.tail("master", 5))
    pid = stack.status("master")["pid"]
    worker = psutil.Process(pid).children()[0]
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: stack.status("master")["state"] == "killed")
    assert wait_for(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE, 6)


# ------------------------------------------------------------------ daemon life

def test_daemon_survives_the_client_exiting(stack):
    stack.sleeper("a")
    code = textwrap.dedent(f"""
        from pathlib import Path
        from stacktui.client import ensure_daemon
        from stacktui.paths import Layout
        c = ensure_daemon(Layout(Path({str(stack.dest)!r})))
        c.start(["a"])
        print(c.status()[0]["pid"])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    pane_pid = int(out.stdout.strip())
    c = Client(stack.layout)
    assert c.ping()
    assert stack.status("a")["pid"] == pane_pid
    dpid = daemon_pid(stack.layout)
    assert dpid and psutil.Process(dpid).ppid() != os.getpid()


def test_ensure_daemon_after_kill_9_and_stale_socket(stack):
    stack.sleeper("a")
    c = stack.client
    c.start("a")
    old_daemon = daemon_pid(stack.layout)
    old_pane = stack.status("a")["pid"]
    os.kill(old_daemon, signal.SIGKILL)
    c._proc.wait(5)
    assert stack.layout.socket.exists()            # the stale socket file
    assert not c.ping()
    with pytest.raises(StackError, match="not running"):
        c.status()
    c2 = ensure_daemon(stack.layout)
    stack._client = c2
    new_daemon = daemon_pid(stack.layout)
    assert new_daemon and new_daemon != old_daemon
    assert c2.ping()
    # the orphaned pane of the dead daemon is gone, and the pane is startable
    assert wait_for(lambda: not psutil.pid_exists(old_pane)
                    or psutil.Process(old_pane).status() == psutil.STATUS_ZOMBIE, 8)
    assert stack.status("a")["state"] == "defined"
    c2.start("a")
    assert stack.status("a")["state"] == "running"


def test_survivor_without_the_marker_is_stopped_by_the_next_daemon(stack):
    """A pane's process whose environment no longer carries the pane marker
    (oslo.service's masters and workers call setproctitle, which overwrites
    /proc/PID/environ; a service may also drop its environment) and that
    outlives its PTY (SIGHUP ignored, as oslo.service does) is still the
    stack's: the next daemon finds it by its session and stops it. Found by
    tests/test_chaos.py: nova-conductor ran twice after a kill -9 of the
    supervisor."""
    stack.pane("a", stack.script("scrubbed", f"""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        subprocess.Popen([sys.executable, "-c",
                          "import signal, time; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
                          "print('child', flush=True); time.sleep(600)", "{stack.dest}"],
                         env={{}}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("up", flush=True)
        time.sleep(600)
    """))
    c = stack.client
    c.start("a")
    leader = stack.status("a")["pid"]

    def child():
        kids = [p for p in psutil.Process(leader).children() if str(stack.dest) in p.cmdline()]
        return kids[0] if kids else None
    kid = wait_for(child, 10)
    assert kid and ENV_PANE not in kid.environ()
    os.kill(daemon_pid(stack.layout), signal.SIGKILL)
    c._proc.wait(5)
    stack._client = ensure_daemon(stack.layout)
    assert wait_for(lambda: not kid.is_running() or kid.status() == psutil.STATUS_ZOMBIE, 10), \
        f"{kid.pid} outlived its supervisor and the next one"


def test_second_ensure_daemon_reuses_the_first(stack):
    c1 = stack.client
    pid = daemon_pid(stack.layout)
    c2 = ensure_daemon(stack.layout)
    assert daemon_pid(stack.layout) == pid and c2.ping() and c1.ping()


def test_client_without_daemon_says_so(stack):
    with pytest.raises(StackError, match="not running"):
        Client(stack.layout).status()
    assert Client(stack.layout).ping() is False


def test_reload_adds_and_updates(stack):
    stack.sleeper("a")
    c = stack.client
    stack.sleeper("b", group="bees")
    r = c.reload()
    assert r["added"] == ["b"]
    c.start("bees")
    assert stack.status("b")["state"] == "running"
    stack.layout.panes_file.write_text("{not json")
    with pytest.raises(StackError, match="cannot read"):
        c.reload()
    assert stack.status("b")["state"] == "running"


# ------------------------------------------------------------------ readiness

def test_wait_ready_http(stack):
    port = free_port()
    stack.pane("web", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
               port=port, ready={"http": f"http://127.0.0.1:{port}/"})
    c = stack.client
    c.start("web")
    c.wait_ready(["web"], timeout=20)
    st = stack.status("web")
    assert st["state"] == "running" and st["port"] == port


def test_wait_ready_fails_fast_when_the_pane_exits(stack):
    port = free_port()
    stack.pane("dies", stack.script("dies", """
        import sys, time
        print("loading config", flush=True)
        time.sleep(0.5)
        print("boom: cannot bind", flush=True)
        sys.exit(2)
    """), ready={"tcp": ["127.0.0.1", port]})
    c = stack.client
    c.start("dies")
    assert stack.status("dies")["state"] in ("starting", "exited")
    t0 = time.monotonic()
    with pytest.raises(StackError) as err:
        c.wait_ready("dies", timeout=60)
    assert time.monotonic() - t0 < 5
    assert "exited with code 2" in str(err.value)
    assert "boom: cannot bind" in str(err.value)


def test_wait_ready_timeout(stack):
    port = free_port()
    stack.sleeper("deaf", ready={"tcp": ["127.0.0.1", port]})
    c = stack.client
    c.start("deaf")
    with pytest.raises(StackError, match=r"not ready after 1 s \(tcp 127.0.0.1"):
        c.wait_ready("deaf", timeout=1)
    assert stack.status("deaf")["state"] == "starting"


# ------------------------------------------------------------------ shutdown

def test_shutdown_leaves_no_process(stack):
    stack.sleeper("a")
    stack.sleeper("db", infra=True)
    c = stack.client
    c.start("all")
    pids = [s["pid"] for s in c.status()] + [daemon_pid(stack.layout)]
    c.shutdown(stop_panes=True)
    assert not stack.layout.socket.exists()
    assert not (stack.layout.run / "supervisor.pid").exists()
    assert [p for p in pids if psutil.pid_exists(p)
            and psutil.Process(p).status() != psutil.STATUS_ZOMBIE] == []
    assert dest_procs(stack.dest) == []


def test_sigterm_to_daemon_stops_panes(stack):
    stack.sleeper("a")
    c = stack.client
    c.start("a")
    pane = stack.status("a")["pid"]
    os.kill(daemon_pid(stack.layout), signal.SIGTERM)
    c._proc.wait(15)
    assert not psutil.pid_exists(pane) or psutil.Process(pane).status() == psutil.STATUS_ZOMBIE
    assert not stack.layout.socket.exists()


def test_monitor_op(stack):
    m = stack.client.monitor()
    assert isinstance(m, dict)


# ------------------------------------------------------------------ OOM

@pytest.fixture
def small_cgroup():
    """A child memory cgroup of ours limited to 64 MB (v1 or v2), or skip."""
    base = None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            base = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
        elif ctrls == "" and base is None and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            base = Path("/sys/fs/cgroup") / path.lstrip("/")
    if base is None:
        pytest.skip("no memory cgroup")
    cg = base / f"stacktui-test-{os.getpid()}"
    limit = str(64 * 2**20)
    try:
        cg.mkdir()
        if (cg / "memory.limit_in_bytes").exists():
            (cg / "memory.limit_in_bytes").write_text(limit)
            if (cg / "memory.memsw.limit_in_bytes").exists():
                (cg / "memory.memsw.limit_in_bytes").write_text(limit)
        else:
            (cg / "memory.max").write_text(limit)
            if (cg / "memory.swap.max").exists():
                (cg / "memory.swap.max").write_text("0")
    except OSError as e:
        if cg.exists():
            cg.rmdir()
        pytest.skip(f"cannot make a memory cgroup: {e}")
    yield cg
    for _ in range(50):
        try:
            cg.rmdir()
            break
        except OSError:
            time.sleep(0.1)


def test_oom_kill_is_named(small_cgroup, stack):
    stack.pane("hog", stack.script("hog", """
        import time
        print("eating", flush=True)
        keep = []
        while True:
            keep.append(b"x" * (8 * 2**20))   # written, so really resident
            time.sleep(0.01)
    """), cgroup=str(small_cgroup))
    c = stack.client
    c.start("hog")
    pid = stack.status("hog")["pid"]
    procs = (small_cgroup / "cgroup.procs").read_text().split()
    assert str(pid) in procs or stack.status("hog")["state"] == "killed"
    st = wait_for(lambda: (s := stack.status("hog"))["state"] != "running" and s, 20)
    assert st["state"] == "killed"
    assert st["signal"] == "SIGKILL" and st["oom_killed"] is True
    assert st["cause"] == "killed by the OOM killer"


def test_bad_cgroup_fails_the_start(stack):
    stack.sleeper("a", cgroup=str(stack.dest / "no-such-cgroup"))
    with pytest.raises(StackError, match="cannot join cgroup"):
        stack.client.start("a")


# ------------------------------------------------------------ restart policy

def test_on_failure_restarts_a_killed_pane_with_backoff(stack):
    # A real SIGKILL twice in a row: the pane comes back by itself each time,
    # the second time after twice the wait (the backoff doubles per failure).
    stack.sleeper("n-cpu", restart="on-failure", restart_backoff=0.5)
    c = stack.client
    c.start("n-cpu")
    st = stack.status("n-cpu")
    assert st["restart"] == "on-failure" and st["restart_in"] is None
    gaps = []
    pid = st["pid"]
    for attempt in (1, 2):
        os.kill(pid, signal.SIGKILL)
        died = time.monotonic()
        st = wait_for(lambda: (s := stack.status("n-cpu"))["state"] == "killed" and s, timeout=5)
        assert st and st["restart_in"] is not None and 0 < st["restart_in"] <= 0.5 * attempt
        st = wait_for(lambda: (s := stack.status("n-cpu"))["state"] == "running" and s["pid"] != pid
                      and s, timeout=10, every=0.02)
        assert st, f"not started again after failure {attempt}: {stack.status('n-cpu')}"
        gaps.append(time.monotonic() - died)
        assert st["restarts"] == attempt and st["restart_in"] is None
        pid = st["pid"]
    assert 0.5 <= gaps[0] < 1.0 + 0.5, gaps
    assert gaps[1] >= 1.0 and gaps[1] > gaps[0], gaps
    log = "\n".join(c.tail("n-cpu", 50))
    assert "starting again in 0.5 s (failure 1 in a row)" in log
    assert "starting again in 1 s (failure 2 in a row)" in log
    # Stopped on request stays stopped, a planned restart included.
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: stack.status("n-cpu")["restart_in"] is not None, timeout=5)
    c.stop("n-cpu")
    time.sleep(3)
    st = stack.status("n-cpu")
    assert st["state"] == "killed" and st["pid"] is None and st["restart_in"] is None


def test_on_failure_leaves_a_clean_exit_and_never_leaves_a_failure(stack):
    stack.pane("once", stack.script("once", """
        print("done", flush=True)
    """), restart="on-failure", restart_backoff=0.2)
    stack.pane("crash", stack.script("crash", """
        import sys
        print("boom", flush=True)
        sys.exit(3)
    """), restart="never")
    c = stack.client
    c.start(["once", "crash"])
    assert wait_for(lambda: stack.status("once")["state"] == "exited"
                    and stack.status("crash")["state"] == "exited", timeout=5)
    time.sleep(2)       # ten times the backoff: no start came
    once, crash = stack.status("once"), stack.status("crash")
    assert once["exit_code"] == 0 and once["restarts"] == 0 and once["restart_in"] is None
    assert crash["exit_code"] == 3 and crash["restarts"] == 0 and crash["restart_in"] is None
    assert crash["restart"] == "never"


def test_restart_policy_checked_at_reload(stack):
    stack.sleeper("a", restart="always")
    with pytest.raises(StackError, match="restart must be one of never, on-failure"):
        stack.client.reload()
    stack.sleeper("a", restart="on-failure", restart_backoff=0)
    with pytest.raises(StackError, match="restart_backoff must be 0.1 to 300 seconds"):
        stack.client.reload()


def test_sighup_opens_the_logs_again(stack):
    """logrotate's contract (and the chaos test's, when its small log disk
    is unmounted): after SIGHUP a pane's lines go to the file now at its path."""
    stack.pane("talker", stack.script("talker", """
        import itertools, time
        for i in itertools.count():
            print(f"line {i}", flush=True)
            time.sleep(0.1)
    """))
    c = stack.client
    c.start("talker")
    log = stack.layout.logs / "talker.log"
    assert wait_for(lambda: log.exists() and "line 2" in log.read_text())
    log.rename(log.with_name("talker.log.rotated"))
    own = stack.layout.logs / "supervisor.log"
    own.rename(own.with_name("supervisor.log.rotated"))
    os.kill(daemon_pid(stack.layout), signal.SIGHUP)
    assert wait_for(lambda: log.exists() and "line" in log.read_text()), "no new talker.log"
    assert wait_for(lambda: own.exists() and "got SIGHUP" in own.read_text())
    assert stack.status("talker")["state"] == "running"
