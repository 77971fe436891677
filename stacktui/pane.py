"""One pane: one service process in its own PTY, session and process group.

A pane replaces one window of DevStack's old ``screen`` session. The
supervisor owns every pane; this module knows how to spawn one, read its
output without ever blocking the event loop, keep passwords out of what it
stores, tell why it died, and stop it without leaving a process behind.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shlex
import signal
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote, quote_plus, urlsplit

import pexpect
import psutil

from .fsutil import open_log
from .masking import MASK, Masker
from .panetypes import PaneSpec, PaneSpecError, PaneStatus, Ready, State
from .paths import stack_cache

log = logging.getLogger("stacktui.supervisor")

RING_LINES = 5000            # what tail/follow and the TUI can scroll back to
RING_LINE_MAX = 4096         # one absurd line must not pin megabytes in the ring
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_KEEP = 3
FLUSH_DELAY = 0.05           # batch output: the TUI redraws per batch, not per line
PARTIAL_HOLD = 0.25          # how long an unterminated line waits for its newline
PARTIAL_MAX = 256 * 1024     # a newline-free flood is flushed anyway
READ_CHUNK = 256 * 1024
READS_PER_WAKEUP = 16        # bounded so one chatty pane cannot starve the others
DIMENSIONS = (50, 200)       # rows, cols: wide enough that services do not wrap
LEFTOVER_GRACE = 2.0         # descendants left behind by a pane that died on its own
MARK = "[stacktui]"
RESTART_BACKOFF_MAX = 60.0   # the on-failure wait stops doubling here
RESTART_RESET = 60.0         # a run this long was a success: the next failure waits the base again
HEALTH_TIMEOUT = 2.0         # a probe of a running service; loopback answers in ms

# Environment a pane inherits from the daemon. Everything else comes from the
# spec: the daemon's own environment belongs to whoever started it (possibly
# an install run holding OS_PASSWORD) and must not leak into services.
BASE_ENV_KEYS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "SHELL", "TMPDIR")
# Marks every pane process so a later daemon can find survivors of one that
# was killed with -9 (their PTY is gone; they cannot be re-attached).
ENV_DEST = "STACKTUI_PANE_DEST"
ENV_PANE = "STACKTUI_PANE"


class PaneError(Exception):
    pass


def parse_spec(raw: Any, index: int = 0) -> PaneSpec:
    try:
        return PaneSpec.from_dict(raw, index)
    except PaneSpecError as e:
        raise PaneError(str(e)) from None


# ------------------------------------------------------------------- secrets

class SecretFilter:
    """Masks every form of every password (the shared Masker) and knows how
    much of an unterminated line it may release without cutting a password
    in half: a prompt or progress line is shown, a split secret is not."""

    def __init__(self, secrets: Iterable[str] = ()):
        secrets = [s for s in secrets if s]
        self.masker = Masker(secrets)
        forms: set[bytes] = set()
        for s in secrets:
            for f in (s, quote(s, safe=""), quote_plus(s), shlex.quote(s)):
                forms.add(f.encode())
        self._forms = sorted(forms, key=len, reverse=True)
        self._longest = max((len(f) for f in self._forms), default=0)

    def mask(self, data: bytes) -> bytes:
        return self.masker.bytes(data)

    def safe_cut(self, data: bytes) -> int:
        """Index up to which ``data`` can go out now: everything before the
        longest tail of it that could be the start of a password."""
        n = min(len(data), self._longest - 1)
        for k in range(n, 0, -1):
            tail = data[-k:]
            if any(f.startswith(tail) for f in self._forms):
                return len(data) - k
        return len(data)


def load_secrets(path: Path) -> list[str]:
    """Every string under the secrets file, not only ``passwords:``: whatever
    another engineer adds there later is masked without a code change."""
    try:
        import yaml
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        return []
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(str(v))      # `admin: 12345678` in YAML is an int
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(data)
    return out


# ---------------------------------------------------------------------- logs

class RotatingLog:
    """DEST/logs/<name>.log, rotated by size: name.log.1 .. name.log.3."""

    def __init__(self, path: Path, max_bytes: int = LOG_MAX_BYTES, keep: int = LOG_KEEP):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self._f = None
        self._size = 0

    def _open(self) -> None:
        self._f = os.fdopen(open_log(self.path), "ab")
        self._size = self._f.tell()

    def write(self, data: bytes) -> None:
        if not data:
            return
        try:
            if self._f is None:
                self._open()
            self._f.write(data)
            self._f.flush()
            self._size += len(data)
            if self._size >= self.max_bytes:
                self._rotate()
        except OSError as e:
            # A full disk must not kill the supervisor; the ring still works.
            log.warning("cannot write %s: %s", self.path, e)

    def _rotate(self) -> None:
        self.close()
        for i in range(self.keep - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.keep > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._open()

    def close(self) -> None:
        if self._f is not None:
            try:
                self._f.close()
            except OSError:
                pass
            self._f = None


# ------------------------------------------------------------------ OOM kills

def _vmstat_oom() -> int:
    try:
        with open("/proc/vmstat", "rb") as f:
            for line in f:
                if line.startswith(b"oom_kill "):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


try:  # the shared helper, when the cgroups module is there
    from .cgroups import memory_cgroup as _memory_cgroup
    from .cgroups import oom_kill_count as _shared_oom_count

    def global_oom_count() -> int:
        try:
            return int(_shared_oom_count())
        except Exception:
            return _vmstat_oom()
except ImportError:  # pragma: no cover - depends on what has landed
    _memory_cgroup = None

    def global_oom_count() -> int:
        return _vmstat_oom()


class OomWatch:
    """Samples the kernel's oom_kill counter every few seconds so that a
    SIGKILL can be blamed on the OOM killer only if the counter rose around
    the time of death, not because something else was OOM-killed an hour ago."""

    def __init__(self) -> None:
        v = global_oom_count()
        self._older = v
        self._newer = v

    def sample(self) -> None:
        self._older, self._newer = self._newer, global_oom_count()

    def rose_since(self, floor: int) -> bool:
        return global_oom_count() > max(self._older, floor)


# ---------------------------------------------------------------- processes

def _proc_ids(pid: int) -> tuple[int, int] | None:
    """(process group, session) from /proc/<pid>/stat, or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[2]), int(fields[3])


def scan_group(pgid: int) -> list[int]:
    """Live processes whose process group or session is ``pgid``: what is
    left of a pane whose leader is gone. Walks /proc, so only at stop/exit."""
    out = []
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me:
            continue
        ids = _proc_ids(pid)
        if ids and pgid in ids:
            out.append(pid)
    return out


def scan_marked(dest: Path, name: str) -> list[int]:
    """Live processes carrying this pane's environment marker: catches a
    helper that daemonized out of the pane's session (rabbit's epmd).
    Reads every process's environment, so only at stop/exit."""
    want_dest = f"{ENV_DEST}={dest}".encode()
    want_pane = f"{ENV_PANE}={name}".encode()
    out = []
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want_pane in env and want_dest in env and _proc_ids(int(entry.name)):
            out.append(int(entry.name))
    return out


def cgroup_members(cgroup: str | None) -> list[int]:
    if not cgroup:
        return []
    for name in ("cgroup.procs", "tasks"):
        try:
            text = Path(cgroup, name).read_text()
        except OSError:
            continue
        return [int(x) for x in text.split() if x.strip().isdigit()]
    return []


def tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants, as psutil objects that remember
    their start time, so a reused pid is never signalled by mistake."""
    try:
        p = psutil.Process(pid)
        return [p] + p.children(recursive=True)
    except psutil.Error:
        return []


def tree_rss(pid: int) -> int:
    return trees_rss({"": pid}).get("", 0)


def trees_rss(roots: dict[str, int]) -> dict[str, int]:
    """RSS of each root's whole process tree, from the monitor's single pass
    over /proc. Only for status requests, never on a timer."""
    from .monitor import _tree_rss
    return {name: v["rss"] for name, v in _tree_rss(roots).items()}


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def signal_procs(procs: Iterable[psutil.Process], sig: int) -> None:
    for p in procs:
        try:
            p.send_signal(sig)
        except psutil.Error:
            pass


async def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while True:
        procs = [p for p in procs if _alive(p)]
        if not procs or time.monotonic() >= deadline:
            return procs
        await asyncio.sleep(0.05)


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


# ------------------------------------------------------------------ probes

async def probe_ready(ready: Ready, timeout: float = 1.0) -> bool:
    """tcp or unix: something accepts a connection (unix: daemons that
    listen on a socket file only, libvirtd). http: any answer below 500 (a
    401 from Keystone still means the service is up)."""
    try:
        if ready.unix:
            _, w = await asyncio.wait_for(asyncio.open_unix_connection(ready.unix), timeout)
            w.close()
            return True
        if ready.tcp:
            host, port = ready.tcp
            _, w = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
            w.close()
            return True
        url = urlsplit(ready.http)
        ssl_ctx = None
        if url.scheme == "https":
            import ssl
            ssl_ctx = ssl.create_default_context()
            ssl_ctx.check_hostname = False
            ssl_ctx.verify_mode = ssl.CERT_NONE
        port = url.port or (443 if url.scheme == "https" else 80)
        host = url.hostname or "127.0.0.1"
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ssl_ctx), timeout)
        try:
            path = url.path or "/"
            if url.query:
                path += "?" + url.query
            hosthdr = url.netloc.rsplit("@", 1)[-1]
            w.write(f"GET {path} HTTP/1.1\r\nHost: {hosthdr}\r\nConnection: close\r\n\r\n".encode())
            await w.drain()
            line = await asyncio.wait_for(r.readline(), timeout)
        finally:
            w.close()
        parts = line.split()
        return len(parts) >= 2 and parts[0].startswith(b"HTTP/") and int(parts[1]) < 500
    except (OSError, asyncio.TimeoutError, ValueError):
        return False


PANE_OOM_ABOVE = 300


def pane_oom_score_adj() -> int:
    """A pane's oom_score_adj: 0 when the supervisor runs well below that,
    else the supervisor's own plus PANE_OOM_ABOVE."""
    try:
        mine = int(Path("/proc/self/oom_score_adj").read_text())
    except (OSError, ValueError):
        return 0
    return max(0, min(1000, mine + PANE_OOM_ABOVE)) if mine > -PANE_OOM_ABOVE else 0


def probe_port(ready: Ready | None) -> tuple[str, int] | None:
    if ready is None or ready.unix:
        return None
    if ready.tcp:
        return ready.tcp
    url = urlsplit(ready.http)
    return url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)


def port_holders(ready: Ready | None) -> list[tuple[int | None, int | None]]:
    """(pid, uid) of every socket listening on the probe's TCP port; pid is
    None for another user's socket when we are not root. One pass over
    /proc: only when a pane becomes ready or fails, never on a timer."""
    hp = probe_port(ready)
    if hp is None:
        return []
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return []
    out = []
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == hp[1]:
            out.append((c.pid, _uid_of(c.pid)))
    return sorted(set(out), key=lambda x: (x[0] or 0))


def _uid_of(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _marked(pid: int, dest: Path, name: str) -> bool:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{ENV_PANE}={name}".encode() in env and f"{ENV_DEST}={dest}".encode() in env


def describe_holders(held: list[tuple[int | None, int | None]]) -> str:
    out = []
    for pid, _uid in held:
        if pid is None:
            out.append("a process of another user")
            continue
        try:
            p = psutil.Process(pid)
            cmd = " ".join(p.cmdline())[:80] or p.name()
            out.append(f"pid {pid} ({cmd}, user {p.username()})")
        except psutil.Error:
            out.append(f"pid {pid}")
    return ", ".join(dict.fromkeys(out)) or "another process"


def describe_ready(ready: Ready | None) -> str:
    return str(ready) if ready else "no readiness check"


# -------------------------------------------------------------------- pane

class Pane:
    def __init__(self, spec: PaneSpec, dest: Path, secrets: SecretFilter,
                 oom: OomWatch | None = None, on_change: Callable[["Pane"], None] | None = None):
        self.spec = spec
        self.dest = Path(dest)
        self.secrets = secrets
        self.oom = oom or OomWatch()
        self.on_change = on_change
        self.removed = False          # gone from panes.json, kept until stopped
        self.state = State.DEFINED
        self.pid: int | None = None
        self.started_at: float | None = None
        self.starts = 0
        self.exit_code: int | None = None
        self.signal: int | None = None
        self.oom_killed = False
        self.cause: str | None = None
        self.ring: deque[str] = deque(maxlen=RING_LINES)
        self.followers: set[Callable[[list[str]], None]] = set()
        self.log = RotatingLog(self.dest / "logs" / f"{self.name}.log")
        self.lock = asyncio.Lock()
        self._child: pexpect.spawn | None = None
        self._fd: int | None = None
        self._buf = bytearray()
        self._partial_since: float | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._stopping = False
        self._exited = asyncio.Event()
        self._ready = asyncio.Event()
        self._ready_task: asyncio.Task | None = None
        self._oom_floor = 0
        self._memcg = None
        self._memcg_floor = 0
        self._cleanup_task: asyncio.Task | None = None
        # Health after ready: a stopped (SIGSTOP) or hung service keeps its
        # pid and its state; only its probe tells it no longer answers.
        self.not_answering_since: float | None = None
        self._foreign_noted = False
        self._stopped_seen = False
        self._probe_misses = 0
        # Restart policy: failures in a row (for the backoff), and the start it planned.
        self.failures = 0
        self.restart_at: float | None = None
        self._restart_handle: asyncio.TimerHandle | None = None
        self._restart_task: asyncio.Task | None = None

    # ---------------------------------------------------------- properties
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def alive(self) -> bool:
        return self.pid is not None and not self._exited.is_set()

    # --------------------------------------------------------------- start
    def _env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in BASE_ENV_KEYS if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin")
        env["TERM"] = "xterm-256color"
        env["PYTHONUNBUFFERED"] = "1"
        # stevedore and friends cache under XDG_CACHE_HOME: keep it in DEST.
        env["XDG_CACHE_HOME"] = str(stack_cache(self.dest))
        env.update(self.spec.env)
        env[ENV_DEST] = str(self.dest)
        env[ENV_PANE] = self.name
        return env

    def _preexec(self) -> Callable[[], None]:
        cgroup = self.spec.cgroup
        targets = [os.path.join(cgroup, "cgroup.procs"), os.path.join(cgroup, "tasks")] if cgroup else []
        oom_adj = str(pane_oom_score_adj()).encode()

        def join_cgroup() -> None:
            # Runs between fork and exec: raw syscalls only, no Python-level
            # locks that another thread of the daemon might have held.
            # The OOM killer must take a service before the supervisor: a
            # pane sits PANE_OOM_ABOVE above it (the supervisor's -800 is not
            # inherited; where it could not lower itself, panes go up).
            try:
                fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
                try:
                    os.write(fd, oom_adj)
                finally:
                    os.close(fd)
            except OSError:
                pass
            if not targets:
                return
            data = str(os.getpid()).encode()
            last = None
            for t in targets:
                try:
                    fd = os.open(t, os.O_WRONLY)
                except OSError as e:
                    last = e
                    continue
                try:
                    os.write(fd, data)
                    return
                except OSError as e:
                    last = e
                finally:
                    os.close(fd)
            raise OSError(f"cannot join cgroup {cgroup}: {last}")

        return join_cgroup

    async def start(self) -> None:
        self.cancel_restart()       # a start on request comes before the planned one
        if self.alive:
            return
        if self._cleanup_task and not self._cleanup_task.done():
            await self._cleanup_task
        loop = asyncio.get_running_loop()
        self._stopping = False
        self._exited = asyncio.Event()
        self._ready = asyncio.Event()
        self.exit_code = self.signal = None
        self.not_answering_since = None
        self._probe_misses = 0
        self._foreign_noted = False
        self._stopped_seen = False
        self.oom_killed = False
        self.cause = None
        argv = list(self.spec.argv)
        cwd = self.spec.cwd or str(self.dest)
        self._oom_floor = global_oom_count()
        try:
            child = pexpect.spawn(argv[0], argv[1:], env=self._env(), cwd=cwd,
                                  dimensions=DIMENSIONS, encoding=None,
                                  preexec_fn=self._preexec(), echo=False)
        except Exception as e:
            self.pid = None
            self.state = State.EXITED
            self.cause = f"failed to start: {e}"
            self._marker(self.cause)
            self._exited.set()
            self._plan_restart(failed=True)
            self._changed()
            raise PaneError(f"{self.name}: {self.cause}") from None
        self._child = child
        self.pid = child.pid
        self._fd = child.child_fd
        self.starts += 1
        self.started_at = time.time()
        os.set_blocking(self._fd, False)
        loop.add_reader(self._fd, self._on_readable)
        if _memory_cgroup is not None and self.spec.cgroup:
            try:
                self._memcg = _memory_cgroup(self.pid)
                self._memcg_floor = self._memcg.oom_kills() if self._memcg else 0
            except Exception:
                self._memcg = None
        self.state = State.STARTING if self.spec.ready else State.RUNNING
        self._marker(f"started pid {self.pid}: " + shlex.join(argv).replace("\n", "\\n"))
        if self.spec.ready:
            self._ready_task = asyncio.ensure_future(self._watch_ready())
        else:
            self._ready.set()
        self._changed()

    def check_stopped(self) -> None:
        """Every housekeeping round, for the price of one /proc read: a
        leader stopped by a signal (kill -STOP of the group) answers
        nothing, whatever a TCP connect to its port says."""
        if self.state != State.RUNNING or not self.alive or self.pid is None:
            return
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                data = f.read()
            stopped = data[data.rfind(b")") + 2:][:1] in (b"T", b"t")
        except OSError:
            return
        if stopped and self.not_answering_since is None:
            self._not_answering("stopped by a signal (SIGSTOP)")
        elif not stopped and self._stopped_seen:
            self._answering_again()

    async def check_health(self) -> None:
        """Run the ready probe of a running pane once more; two misses in a
        row mark it `not answering` (one may be a slow request), one answer
        clears it. Rare (see supervisor.HEALTH_EVERY): an HTTP probe is a
        line in the service's own log."""
        if self.state != State.RUNNING or not self.spec.ready or not self.alive:
            return
        ok = await probe_ready(self.spec.ready, timeout=HEALTH_TIMEOUT)
        if not self.alive or self.state != State.RUNNING:
            return
        if ok:
            if not self._stopped_seen:
                self._answering_again()
            self._probe_misses = 0
            return
        self._probe_misses += 1
        if self._probe_misses >= 2 and self.not_answering_since is None:
            self._not_answering(describe_ready(self.spec.ready))

    def _not_answering(self, why: str) -> None:
        self.not_answering_since = time.time()
        self._stopped_seen = why.startswith("stopped")
        self._marker(f"not answering ({why})")
        self._changed()

    def _answering_again(self) -> None:
        if self.not_answering_since is not None:
            self._marker("answers again")
            self.not_answering_since = None
            self._stopped_seen = False
            self._changed()

    async def _watch_ready(self) -> None:
        delay = 0.1
        exited = self._exited
        while not exited.is_set():
            if await probe_ready(self.spec.ready) and self._answer_is_ours(
                    await asyncio.get_running_loop().run_in_executor(None, port_holders, self.spec.ready)):
                if not exited.is_set():
                    self.state = State.RUNNING
                    self._ready.set()
                    self._changed()
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    # -------------------------------------------------------------- output
    def _on_readable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        eof = False
        for _ in range(READS_PER_WAKEUP):
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                break
            except OSError as e:
                # EIO: every holder of the PTY's slave side has closed it.
                if e.errno != errno.EIO:
                    log.warning("%s: read error %s", self.name, e)
                eof = True
                break
            if not data:
                eof = True
                break
            self._buf += data
            if len(data) < READ_CHUNK:
                break
        if eof:
            self._stop_reading()
            self._flush(final=True)
            return
        if len(self._buf) >= PARTIAL_MAX:
            self._flush()
        elif self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(FLUSH_DELAY, self._flush)

    def _stop_reading(self) -> None:
        if self._fd is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._fd)
            except (RuntimeError, ValueError):
                pass

    def _flush(self, final: bool = False) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        buf = self._buf
        nl = buf.rfind(b"\n")
        if nl >= 0:
            chunk = bytes(buf[:nl + 1]).replace(b"\r\n", b"\n")
            del buf[:nl + 1]
            # Passwords never contain a newline, so whole lines mask safely.
            self._emit(self.secrets.mask(chunk), complete=True)
            self._partial_since = None
        if not buf:
            return
        now = time.monotonic()
        if self._partial_since is None:
            self._partial_since = now
        if final or len(buf) >= PARTIAL_MAX or now - self._partial_since >= PARTIAL_HOLD:
            masked = self.secrets.mask(bytes(buf))
            cut = len(masked) if final else self.secrets.safe_cut(masked)
            if cut:
                self._emit(masked[:cut], complete=False)
            buf[:] = masked[cut:]
            self._partial_since = now if buf else None
        if buf and not final:
            wait = max(0.0, PARTIAL_HOLD - (now - (self._partial_since or now)))
            self._flush_handle = asyncio.get_running_loop().call_later(wait + 0.01, self._flush)

    def _emit(self, data: bytes, complete: bool) -> None:
        self.log.write(data)
        text = data.decode("utf-8", "replace")
        lines = text.split("\n")
        if complete:
            lines.pop()     # the empty string after the final newline
        lines = [ln if len(ln) <= RING_LINE_MAX else ln[:RING_LINE_MAX] + " …" for ln in lines]
        self.ring.extend(lines)
        for f in list(self.followers):
            try:
                f(lines)
            except Exception:
                self.followers.discard(f)

    def _marker(self, text: str) -> None:
        """A line of our own in the ring and the log, so `logs` shows when a
        service started and why it ended, as a screen window never did."""
        if self._buf:
            self._flush(final=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._emit(self.secrets.mask(f"{MARK} {stamp} {self.name}: {text}\n".encode()), complete=True)

    def tail(self, n: int) -> list[str]:
        if n <= 0:
            return []
        ring = self.ring
        if n >= len(ring):
            return list(ring)
        return [ring[i] for i in range(len(ring) - n, len(ring))]

    def send_input(self, data: bytes) -> None:
        """Type into the pane's terminal (the dashboard's input mode: a
        service stopped at a pdb prompt). What is typed is not echoed into
        the log: the PTY runs without echo, and a password typed here must
        not land in a file."""
        if not self.alive or self._fd is None:
            raise PaneError(f"{self.name} is not running; nothing reads what is typed")
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fd, view)
            except BlockingIOError:
                raise PaneError(f"{self.name} is not reading its input") from None
            view = view[n:]

    # ----------------------------------------------------------------- exit
    def poll(self) -> bool:
        """Reap the leader if it has exited. Called on SIGCHLD and by the
        housekeeping timer; never blocks."""
        if self.pid is None or self._exited.is_set():
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, None
        if pid == 0:
            return False
        self._on_exit(status)
        return True

    def _on_exit(self, status: int | None) -> None:
        # Whatever is still in the PTY belongs to this run.
        if self._fd is not None:
            self._on_readable()
        self._flush(final=True)
        code = sig = None
        if status is not None:
            if os.WIFEXITED(status):
                code = os.WEXITSTATUS(status)
            elif os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
        self.exit_code, self.signal = code, sig
        oom = False
        if sig == signal.SIGKILL and not self._stopping:
            oom = self.oom.rose_since(self._oom_floor)
            if not oom and self._memcg is not None:
                try:
                    oom = self._memcg.oom_kills() > self._memcg_floor
                except Exception:
                    pass
        self.oom_killed = oom
        if code is not None:
            what = f"exited with code {code}"
        elif sig is not None:
            what = "killed by the OOM killer" if oom else f"killed by {signal_name(sig)}"
        else:
            what = "exited (status unknown)"
        if self._stopping:
            self.state = State.STOPPED
            clean = code == 0 or sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                                         self.spec.stop_signal)
            self.cause = "stopped" if clean else f"stopped ({what})"
        else:
            self.state = State.EXITED if sig is None else State.KILLED
            self.cause = what
        self._marker(self.cause)
        self._close_pty()
        self._exited.set()
        if self._ready_task:
            self._ready_task.cancel()
            self._ready_task = None
        if not self._stopping:
            # A uwsgi master that dies leaves workers holding its port; the
            # pane is the whole tree, so the tree goes with it.
            self._cleanup_task = asyncio.ensure_future(self._kill_leftovers([], LEFTOVER_GRACE))
            self._plan_restart(failed=code != 0)
        self._changed()

    # -------------------------------------------------------------- restart
    def _plan_restart(self, failed: bool) -> None:
        """The on-failure policy: after a run that failed, start again after
        the backoff, doubled for each failure in a row (a crash loop must not
        eat the machine). A clean exit (code 0) is left alone, as systemd does."""
        if self.spec.restart != "on-failure" or self.removed:
            return
        if not failed:
            self.failures = 0
            return
        ran = time.time() - self.started_at if self.started_at else 0.0
        if ran >= RESTART_RESET:
            self.failures = 0
        self.failures += 1
        delay = min(RESTART_BACKOFF_MAX, self.spec.restart_backoff * 2 ** (self.failures - 1))
        self.restart_at = time.time() + delay
        self._marker(f"restart policy on-failure: starting again in {delay:g} s "
                     f"(failure {self.failures} in a row)")
        loop = asyncio.get_running_loop()
        self._restart_handle = loop.call_later(delay, self._restart_due)

    def _restart_due(self) -> None:
        self._restart_handle = None
        self._restart_task = asyncio.ensure_future(self._auto_restart())

    async def _auto_restart(self) -> None:
        async with self.lock:
            # A stop, a start or a reload may have come first: then nothing is planned.
            if self.restart_at is None or self.alive or self.removed:
                return
            self.restart_at = None
            try:
                await self.start()
            except PaneError:
                pass        # start() has marked it and planned the next try

    def cancel_restart(self) -> None:
        """Forget a planned restart (a stop or start on request, a shutdown,
        the pane leaving panes.json)."""
        if self._restart_handle is not None:
            self._restart_handle.cancel()
            self._restart_handle = None
        self.restart_at = None

    def _close_pty(self) -> None:
        self._stop_reading()
        child = self._child
        if child is not None:
            # We reaped the child ourselves; tell pexpect so its close() and
            # __del__ do not waitpid again or sleep in the event loop.
            pp = child.ptyproc
            pp.terminated = True
            child.terminated = True
            try:
                pp.fileobj.close()
            except OSError:
                pass
            pp.closed = True
            pp.fd = -1
            child.closed = True
            child.child_fd = -1
        self._child = None
        self._fd = None

    def _changed(self) -> None:
        if self.on_change:
            try:
                self.on_change(self)
            except Exception:
                log.exception("state change hook failed for %s", self.name)

    # ----------------------------------------------------------------- stop
    def _signal_group(self, sig: int, procs: list[psutil.Process]) -> None:
        if self.pid is not None:
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        signal_procs(procs, sig)

    async def stop(self, timeout: float | None = None) -> None:
        """SIGTERM to the group and every descendant, SIGKILL after the grace
        period, then whatever is left of the tree: no orphans."""
        self.cancel_restart()       # stopped on request stays stopped, policy or not
        if self._cleanup_task and not self._cleanup_task.done():
            await self._cleanup_task
        if not self.alive:
            return
        timeout = self.spec.stop_timeout if timeout is None else timeout
        self._stopping = True
        snapshot = tree(self.pid)
        self._signal_group(self.spec.stop_signal, snapshot)
        try:
            await asyncio.wait_for(self._exited.wait(), timeout)
        except asyncio.TimeoutError:
            snapshot = list({p.pid: p for p in snapshot + tree(self.pid)}.values())
            self._marker(f"did not stop within {timeout:g} s; sending SIGKILL")
            self._signal_group(signal.SIGKILL, snapshot)
            try:
                await asyncio.wait_for(self._exited.wait(), 5)
            except asyncio.TimeoutError:
                # Unkillable (D state): report it rather than hang forever.
                log.error("%s: pid %s survived SIGKILL", self.name, self.pid)
        await self._kill_leftovers(snapshot, grace=1.0)

    async def _kill_leftovers(self, snapshot: list[psutil.Process], grace: float) -> None:
        pgid = self.pid
        if pgid is None:
            return
        procs = {p.pid: p for p in snapshot if _alive(p)}
        for pid in (scan_group(pgid) + cgroup_members(self.spec.cgroup)
                    + scan_marked(self.dest, self.name)):
            if pid not in procs and pid != os.getpid():
                try:
                    procs[pid] = psutil.Process(pid)
                except psutil.Error:
                    pass
        left = [p for p in procs.values() if _alive(p)]
        if not left:
            return
        log.info("%s: %d leftover process(es): %s", self.name, len(left), [p.pid for p in left])
        signal_procs(left, signal.SIGTERM)
        left = await wait_gone(left, grace)
        if left:
            signal_procs(left, signal.SIGKILL)
            left = await wait_gone(left, 5)
        if left:
            log.error("%s: processes survived SIGKILL: %s", self.name, [p.pid for p in left])

    # --------------------------------------------------------------- ready
    async def wait_ready(self, timeout: float) -> None:
        """Return when ready; raise PaneError with the cause and the last 20
        log lines as soon as the pane exits, or on timeout."""
        if not self.alive:
            raise PaneError(self._failure(self.cause or f"is {self.state}, not started"))
        ready = asyncio.ensure_future(self._ready.wait())
        exited = asyncio.ensure_future(self._exited.wait())
        try:
            await asyncio.wait({ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            exited.cancel()
        if self._ready.is_set() and not self._exited.is_set():
            return
        if self._exited.is_set():
            raise PaneError(self._failure(self.cause or "exited"))
        raise PaneError(self._failure(
            f"not ready after {timeout:g} s ({describe_ready(self.spec.ready)})"))

    def _answer_is_ours(self, held: list[tuple[int | None, int | None]]) -> bool:
        """A probe that answers proves nothing when another process holds
        the port (a leftover of an earlier run, another program): only a
        listener in this pane's process tree makes the pane ready."""
        if not held:
            return True     # no listener seen (a namespace, an odd address): trust the probe
        ours = {p.pid for p in tree(self.pid)} if self.pid else set()
        if any(pid in ours or _marked(pid, self.dest, self.name) for pid, _ in held if pid):
            return True
        if not self._foreign_noted:
            self._foreign_noted = True
            self._marker(f"port {probe_port(self.spec.ready)[1]} answers, but from "
                         f"{describe_holders(held)}, not from this pane")
        return False

    def _failure(self, what: str) -> str:
        lines = [ln for ln in self.tail(21) if not ln.startswith(MARK)][-20:]
        held = port_holders(self.spec.ready) if self.spec.ready else []
        ours = {p.pid for p in tree(self.pid)} if self.alive and self.pid else set()
        foreign = [(pid, uid) for pid, uid in held if pid not in ours]
        if foreign:
            what += f"; port {probe_port(self.spec.ready)[1]} is held by {describe_holders(foreign)}"
        text = f"{self.name}: {what}; last lines of {self.log.path}:"
        return text + ("\n" + "\n".join("    " + ln for ln in lines) if lines else " (no output)")

    # --------------------------------------------------------------- status
    def status(self, with_rss: bool = True, rss: int | None = None) -> PaneStatus:
        alive = self.alive
        state = self.state
        if state == State.RUNNING and self.not_answering_since is not None:
            state = State.NOT_ANSWERING
        return PaneStatus(
            name=self.name, group=self.spec.group, infra=self.spec.infra, order=self.spec.order,
            state=state, pid=self.pid if alive else None, started_at=self.started_at,
            uptime=(time.time() - self.started_at) if alive and self.started_at else None,
            restarts=max(0, self.starts - 1),
            rss=(rss if rss is not None else tree_rss(self.pid)) if alive and with_rss else None,
            port=self.spec.port, exit_code=self.exit_code,
            signal=signal_name(self.signal) if self.signal else None, oom_killed=self.oom_killed,
            cause=self.cause, log=str(self.log.path),
            not_answering_since=self.not_answering_since if alive else None,
            restart=self.spec.restart,
            restart_in=max(0.0, self.restart_at - time.time()) if self.restart_at else None)
