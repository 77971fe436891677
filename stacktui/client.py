"""Talk to the pane supervisor of one stack (see stacktui/supervisor.py).

``ensure_daemon(layout)`` is what install and ``up`` call: it returns a
``Client`` for a daemon that answers, starting one (detached, like the
screen session it replaces) when none does. The CLI and the dashboard use
``Client`` (the dashboard from worker threads; ``Follower.close()`` ends a
follow from any thread). Answers are typed: ``status`` gives
``panetypes.PaneStatus``.

Every request is one short-lived connection, so a ``Client`` can be shared
between threads.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, Iterator

from .errors import StackError
from .events import PaneLines
from .fsutil import open_log
from .panetypes import PROTOCOL, PaneStatus
from .paths import Layout, check_owned, private_dir

DEFAULT_TIMEOUT = 30.0       # plain queries; a daemon that takes longer is stuck
START_TIMEOUT = 10.0         # ensure_daemon: from spawn to the first answer


class NotAnswering(StackError):
    """The supervisor's process is there but does not answer (stopped with
    SIGSTOP, or stuck): its panes may be fine, nothing can control them."""

    def __init__(self, layout: Layout, op: str, seconds: float):
        self.pid = daemon_pid(layout)
        who = f"pid {self.pid}" if self.pid else "no live supervisor process found"
        super().__init__(f"the supervisor of {layout.dest} is not answering ({who}): no answer to "
                         f"{op!r} within {seconds:g} s; see {layout.logs / 'supervisor.log'}")


def _not_running(layout: Layout, why: str = "") -> StackError:
    extra = f" ({why})" if why else ""
    return StackError(
        f"the stacktui supervisor for {layout.dest} is not running: nothing answers on "
        f"{layout.socket}{extra}. `stacktui up --dest {layout.dest}` starts it; "
        f"its log is {layout.logs / 'supervisor.log'}")


def _connect(layout: Layout, timeout: float | None) -> socket.socket:
    path = str(layout.socket)
    if len(path.encode()) >= 108:
        # sun_path is 108 bytes; say so instead of a baffling OSError.
        raise StackError(f"socket path too long for a Unix socket ({len(path)} bytes): {path}; "
                         f"use a shorter --dest")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except socket.timeout:
        s.close()
        raise NotAnswering(layout, "connect", timeout or 0) from None
    except (FileNotFoundError, ConnectionRefusedError) as e:
        s.close()
        raise _not_running(layout, e.strerror or str(e)) from None
    except OSError as e:
        s.close()
        raise StackError(f"cannot reach the supervisor on {path}: {e}") from None
    return s


def _recv_line(s: socket.socket, buf: bytearray) -> bytes | None:
    while True:
        nl = buf.find(b"\n")
        if nl >= 0:
            line = bytes(buf[:nl])
            del buf[:nl + 1]
            return line
        chunk = s.recv(1 << 16)
        if not chunk:
            return None
        buf += chunk


class Follower:
    """An iterator over a pane's lines (the last N, then live ones). Ends when
    the daemon goes away; ``close()`` from any thread ends it at once."""

    def __init__(self, sock: socket.socket, first: list[str]):
        self._sock = sock
        self._buf = bytearray()
        self._pending: deque[str] = deque(first)
        self._closed = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while not self._pending:
            if self._closed:
                raise StopIteration
            batch = self._receive()
            if batch is None:
                raise StopIteration
            self._pending.extend(batch)
        return self._pending.popleft()

    def _receive(self) -> list[str] | None:
        """The daemon's next batch of lines; None (and closed) once it is gone."""
        try:
            line = _recv_line(self._sock, self._buf)
        except OSError:
            line = None
        if line is None:
            self.close()
            return None
        return list(PaneLines.from_dict(json.loads(line)).lines)

    def batches(self) -> Iterator[list[str]]:
        """Lines in the batches the daemon sends: what a UI should write at once."""
        if self._pending:
            first = list(self._pending)
            self._pending.clear()
            yield first
        while not self._closed:
            lines = self._receive()
            if lines is None:
                return
            if lines:
                yield lines

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def __enter__(self) -> "Follower":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Client:
    def __init__(self, layout: Layout, timeout: float = DEFAULT_TIMEOUT):
        self.layout = layout
        self.timeout = timeout
        self._proc: subprocess.Popen | None = None   # set when we started the daemon

    # ------------------------------------------------------------ plumbing
    def call(self, op: str, args: dict | None = None, timeout: float | None | str = "default") -> Any:
        """One request, one answer. ``timeout=None`` waits as long as the
        daemon works (stop of many panes, wait_ready)."""
        t = self.timeout if timeout == "default" else timeout
        s = _connect(self.layout, t)
        try:
            s.sendall(json.dumps({"op": op, **(args or {})}).encode() + b"\n")
            try:
                line = _recv_line(s, bytearray())
            except socket.timeout:
                raise NotAnswering(self.layout, op, t) from None
            except OSError as e:
                raise StackError(f"lost the supervisor during {op!r}: {e}") from None
        finally:
            s.close()
        if line is None:
            raise StackError(f"the supervisor closed the connection during {op!r}; "
                             f"see {self.layout.logs / 'supervisor.log'}")
        msg = json.loads(line)
        if not msg.get("ok"):
            raise StackError(msg.get("error") or f"{op} failed")
        return msg.get("result")

    # ----------------------------------------------------------------- ops
    def ping(self) -> bool:
        """True when the daemon answers; never raises for a missing daemon."""
        try:
            self.call("ping", None, 2.0)
            return True
        except StackError:
            return False

    def reload(self) -> dict:
        """Re-read panes.json and secrets.yaml; returns {added, updated, removed, panes}."""
        return self.call("reload")

    def status(self, rss: bool = True) -> list[PaneStatus]:
        return [PaneStatus.from_dict(d) for d in self.call("status", {"rss": rss})]

    def start(self, names: list[str] | str) -> list[dict]:
        return self.call("start", {"names": _names(names)}, None)

    def stop(self, names: list[str] | str, infra: bool = False) -> list[dict]:
        return self.call("stop", {"names": _names(names), "infra": infra}, None)

    def restart(self, names: list[str] | str, infra: bool = False) -> list[dict]:
        """Stop (reverse order) then start (in order); `all` skips infra panes
        unless ``infra``, as stop does."""
        return self.call("restart", {"names": _names(names), "infra": infra}, None)

    def wait_ready(self, names: list[str] | str, timeout: float = 60.0) -> list[str]:
        """Block until each pane answers its readiness check. Raises
        StackError at once, with the cause and the pane's last 20 log lines,
        when a pane exits, or when ``timeout`` passes."""
        return self.call("wait_ready", {"names": _names(names), "timeout": timeout}, timeout + 15)

    def tail(self, name: str, lines: int = 100) -> list[str]:
        return self.call("tail", {"name": name, "lines": lines})

    def follow(self, name: str, lines: int = 100) -> Follower:
        s = _connect(self.layout, self.timeout)
        try:
            s.sendall(json.dumps({"op": "follow", "name": name, "lines": lines}).encode() + b"\n")
            buf = bytearray()
            head = _recv_line(s, buf)
            if head is None:
                raise StackError("the supervisor closed the connection during 'follow'")
            msg = json.loads(head)
            if not msg.get("ok"):
                raise StackError(msg.get("error") or "follow failed")
            first = _recv_line(s, buf)
            s.settimeout(None)      # live output may be quiet for hours
        except BaseException:
            s.close()
            raise
        f = Follower(s, list(PaneLines.from_dict(json.loads(first)).lines) if first else [])
        f._buf = buf
        return f

    def monitor(self) -> dict:
        return self.call("monitor")

    def send_input(self, name: str, data: str) -> None:
        """Type ``data`` into a running pane's terminal (as a user attached to
        its screen window would)."""
        self.call("input", {"name": name, "data": data})

    def shutdown(self, stop_panes: bool = True, timeout: float = 15.0) -> None:
        """Stop the daemon (and every pane, infra included, when
        ``stop_panes``); returns once its process is gone."""
        try:
            info = self.call("shutdown", {"stop_panes": stop_panes}, None)
        except StackError as e:
            if "not running" in str(e):
                return
            raise
        pid = (info or {}).get("pid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                return
            if pid is None or not _pid_alive(pid):
                return
            time.sleep(0.02)
        raise StackError(f"the supervisor (pid {pid}) did not exit within {timeout:g} s")


def _names(names: list[str] | str) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return data[data.rfind(b")") + 2:][:1] not in (b"Z", b"X")
    except OSError:
        return False


def daemon_pid(layout: Layout) -> int | None:
    """The pid of this stack's supervisor when it is alive. After a reboot
    the pid file may name an unrelated process, so the command line must
    name the supervisor and this DEST."""
    try:
        pid = int((layout.run / "supervisor.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    if not _pid_alive(pid):
        return None
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    args = [a.decode(errors="replace") for a in argv]
    if "stacktui.supervisor" not in args or str(layout.dest) not in args:
        return None
    return pid


def _socket_state(layout: Layout) -> str:
    """'up' (something accepts), 'stale' (a file nobody listens on), 'absent'."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(str(layout.socket))
        return "up"
    except FileNotFoundError:
        return "absent"
    except ConnectionRefusedError:
        return "stale"
    except OSError as e:
        return "stale" if e.errno in (errno.ECONNREFUSED, errno.ENOTSOCK) else "up"
    finally:
        s.close()


def ensure_daemon(layout: Layout, timeout: float = START_TIMEOUT) -> Client:
    """A Client for a running daemon, starting one when none answers."""
    client = Client(layout)
    if client.ping():
        return _same_protocol(client)
    state = _socket_state(layout)
    if state == "stale" and daemon_pid(layout) is None:
        # Left by a daemon killed with -9 or by a reboot: nobody listens.
        try:
            layout.socket.unlink()
        except FileNotFoundError:
            pass
    check_owned(layout)
    private_dir(layout.run)
    layout.logs.mkdir(parents=True, exist_ok=True)
    log_path = layout.logs / "supervisor.log"
    proc = None
    if daemon_pid(layout) is None:
        with os.fdopen(open_log(log_path), "ab") as errlog:
            proc = subprocess.Popen(
                [sys.executable, "-m", "stacktui.supervisor", "--dest", str(layout.dest)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
                start_new_session=True, close_fds=True, cwd=str(layout.dest),
                env=_daemon_env())
    # else: one is starting up (another command launched it a moment ago).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.ping():
            client._proc = proc
            return _same_protocol(client)
        if proc is not None and proc.poll() is not None:
            # Code 0: another command's daemon won the start race; keep
            # waiting for it to answer. Anything else is a crash.
            if proc.returncode != 0:
                raise StackError(f"the supervisor exited at once (code {proc.returncode}); "
                                 f"see {log_path}:\n{_log_tail(log_path)}")
            proc = None
        time.sleep(0.05)
    raise StackError(f"the supervisor did not answer within {timeout:g} s; see {log_path}:\n"
                     f"{_log_tail(log_path)}")


def _same_protocol(client: Client) -> Client:
    """A supervisor started by an older stacktui keeps running across an
    upgrade; say so plainly instead of misreading its answers."""
    info = client.call("ping", None, 5.0) or {}
    theirs = info.get("protocol", 1)
    if theirs != PROTOCOL:
        raise StackError(f"the supervisor of {client.layout.dest} (pid {info.get('pid')}) speaks "
                         f"protocol {theirs}, this stacktui {PROTOCOL}: restart it with "
                         f"`stacktui unstack --all --dest {client.layout.dest}` then `stacktui up`")
    return client


def _daemon_env() -> dict[str, str]:
    # The daemon lives for days: keep whoever started it (an install run with
    # OS_PASSWORD, a venv activation) out of its environment; panes get their
    # environment from their specs.
    keep = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "SHELL", "TMPDIR",
            "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "PYTHONPATH")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _log_tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return "    (no log yet)"
    return "\n".join("    " + ln for ln in lines) or "    (empty)"


__all__ = ["Client", "Follower", "NotAnswering", "ensure_daemon", "daemon_pid"]
