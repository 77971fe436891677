"""The pane supervisor: a small daemon that owns the service panes.

It outlives the command that started it, as the ``screen`` session of
DevStack did, so services keep running after ``stacktui install`` returns,
and the CLI and the TUI attach to it over a Unix socket only its owner can
use. ``python -m stacktui.supervisor --dest DEST`` runs it in the
foreground; ``stacktui.client.ensure_daemon`` starts it detached.

Protocol (version ``panetypes.PROTOCOL``, answered by ``ping``): one JSON
object per line each way. A request is ``{"op": NAME, ...}``; the answer
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": TEXT, "code":
CODE}``. ``follow`` answers with a stream of ``events.PaneLines`` objects
(``{"lines": [...]}``, with ``"skipped": N`` when a slow reader lost N
lines) until the client hangs up. Every malformed request gets an error answer; a connection idle for
IDLE_TIMEOUT is closed; at most MAX_CONNECTIONS are served at once.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import fcntl
import inspect
import json
import logging
import os
import signal
import socket
import struct
import sys
from collections import deque
from pathlib import Path
from typing import Any

import psutil

from .fsutil import atomic_write
from .pane import (ENV_DEST, MARK, ENV_PANE, OomWatch, Pane, PaneError, SecretFilter, _proc_ids,
                   load_secrets, parse_spec, signal_procs, trees_rss, wait_gone)
from .errors import UserError
from .events import PaneLines
from .fsutil import open_log
from .panetypes import PROTOCOL, PaneSpec
from .paths import Layout, check_owned, private_dir

log = logging.getLogger("stacktui.supervisor")

HOUSEKEEPING = 1.0           # reap check and OOM counter sample
HEALTH_EVERY = 30            # housekeeping rounds between two health probes of each pane
FOLLOW_BYTES_MAX = 2 << 20   # output a slow follower may lag behind before lines are skipped
FOLLOW_SEND_MAX = 256 << 10  # one message to a follower: what piled up, coalesced up to this
IDLE_TIMEOUT = 60.0          # a connection that sends no request for this long is closed
MAX_CONNECTIONS = 64         # followers and requests together; more are refused at once
REQUEST_MAX = 1 << 20
PR_SET_CHILD_SUBREAPER = 36
SESSIONS_FILE = "pane-sessions.json"   # in run/: each pane's session, for the next daemon


class OpError(Exception):
    """A request the daemon refuses; its text goes back to the client."""


def _peer_uid(sock: socket.socket) -> int | None:
    try:
        data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", data)
    return uid


SUPERVISOR_OOM_SCORE_ADJ = -800


def _shield_from_oom() -> None:
    # Every pane dies with the supervisor (their PTYs close), so under
    # memory pressure the kernel must take a service, not us. Lowering the
    # score needs CAP_SYS_RESOURCE (and some sandboxes refuse it even to
    # root); then the panes raise theirs instead (see pane.oom_score_adj).
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(SUPERVISOR_OOM_SCORE_ADJ))
    except OSError as e:
        log.info("cannot lower the supervisor's oom_score_adj (%s); panes raise theirs", e)


def _become_subreaper() -> None:
    # Descendants orphaned by a pane (a daemonizing service, a uwsgi worker
    # whose master died) are re-parented to us instead of init, so we can
    # find, kill and reap them; in a container init may not reap at all.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:
        pass


class Supervisor:
    def __init__(self, layout: Layout, idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, health_every: int = HEALTH_EVERY):
        self.layout = layout
        self.health_every = max(1, health_every)
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._connections = 0
        self.dest = layout.dest
        self.panes: dict[str, Pane] = {}
        self.secrets = SecretFilter()
        self.oom = OomWatch()
        self.monitor = None
        self.pid_snapshot: dict[str, int] = {}
        self._server: asyncio.base_events.Server | None = None
        self._done = asyncio.Event()
        self._shutting_down = False
        self._final_stop: asyncio.Future | None = None
        self._lock_fd: int | None = None
        self._orphan_handle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self._sid = os.getsid(0)
        self._health_running = False
        self._sessions: dict[str, list] = {}

    # ------------------------------------------------------------ lifecycle
    def _acquire_lock(self) -> bool:
        path = self.layout.run / "supervisor.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _socket_answers(self) -> bool:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect(str(self.layout.socket))
            return True
        except OSError:
            return False
        finally:
            s.close()

    async def run(self) -> int:
        layout = self.layout
        private_dir(layout.run)
        layout.logs.mkdir(parents=True, exist_ok=True)
        if not self._acquire_lock():
            log.info("another supervisor holds %s; exiting", layout.run / "supervisor.lock")
            return 0
        sock_path = layout.socket
        if sock_path.exists() or sock_path.is_symlink():
            if self._socket_answers():
                log.info("a supervisor already answers on %s; exiting", sock_path)
                return 0
            sock_path.unlink()          # stale: left by a daemon killed with -9
        _become_subreaper()
        _shield_from_oom()
        atomic_write(self.layout.run / "supervisor.pid", f"{os.getpid()}\n", mode=0o644)
        log.info("supervisor %d starting for %s", os.getpid(), self.dest)
        await self._kill_survivors()
        try:
            self._load(initial=True)
        except OpError as e:
            log.error("%s", e)

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_term, sig)
        # SIGHUP: open every log again by its path, as logrotate's postrotate
        # expects (and after DEST/logs was a mount that is gone now).
        loop.add_signal_handler(signal.SIGHUP, self._reopen_logs)
        loop.add_signal_handler(signal.SIGCHLD, self._on_sigchld)

        old = os.umask(0o177)           # the socket is 0600 from its first instant
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=str(sock_path),
                                                           limit=REQUEST_MAX)
        finally:
            os.umask(old)
        os.chmod(sock_path, 0o600)
        self._start_monitor()
        housekeeping = asyncio.ensure_future(self._housekeeping())
        log.info("listening on %s", sock_path)
        try:
            await self._done.wait()
        finally:
            housekeeping.cancel()
            await self._close()
        return 0

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        try:
            self.layout.socket.unlink()
        except FileNotFoundError:
            pass
        if self.monitor is not None:
            try:
                self.monitor.stop()
            except Exception:
                log.exception("monitor stop failed")
        for p in self.panes.values():
            p.log.close()
        for t in list(self._tasks):
            t.cancel()
        try:
            (self.layout.run / "supervisor.pid").unlink()
        except FileNotFoundError:
            pass
        self._reap_orphans()
        log.info("supervisor %d stopped", os.getpid())

    def _reopen_logs(self) -> None:
        for p in self.panes.values():
            p.log.close()       # the next line opens the file again
        _reopen_own_log(self.layout)
        log.info("got SIGHUP: logs opened again")

    def _on_term(self, sig: int) -> None:
        log.info("got %s: stopping every pane", signal.Signals(sig).name)
        self._spawn(self._shutdown(stop_panes=True))

    async def _shutdown(self, stop_panes: bool, finish: bool = True) -> None:
        if self._final_stop is None:
            self._shutting_down = True
            for p in self.panes.values():
                p.cancel_restart()
            panes = list(self.panes.values()) if stop_panes else []
            self._final_stop = asyncio.ensure_future(self._stop_panes(panes))
        # A second shutdown (SIGTERM during `shutdown`) waits for the first.
        await asyncio.shield(self._final_stop)
        if finish:
            self._done.set()

    def _spawn(self, coro) -> asyncio.Task:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    # ------------------------------------------------------------ survivors
    async def _kill_survivors(self) -> None:
        """Panes of a daemon that died without stopping them (kill -9, OOM)
        lost their PTY and cannot be re-attached: stop them so the new daemon
        starts from a known state, with their ports free."""
        me, mine = os.getpid(), os.getsid(0)
        sessions = self._old_sessions()
        found = []
        for p in psutil.process_iter(["pid"]):
            if p.pid == me:
                continue
            ids = _proc_ids(p.pid)
            if ids is None or ids[1] == mine:
                continue
            try:
                env = p.environ()
            except (psutil.Error, OSError):
                env = {}
            if env.get(ENV_DEST) == str(self.dest) and ENV_PANE in env:
                found.append(p)
                continue
            # No marker: setproctitle (every oslo.service master and worker)
            # writes over /proc/PID/environ, and a service may drop its
            # environment; the session its pane's leader made stays.
            since = sessions.get(ids[1]) or sessions.get(ids[0])
            try:
                if since is not None and p.create_time() >= since - 0.5:
                    found.append(p)
            except psutil.Error:
                pass
        if not found:
            return
        log.warning("stopping %d process(es) left by a previous supervisor: %s",
                    len(found), [p.pid for p in found])
        signal_procs(found, signal.SIGTERM)
        left = await wait_gone(found, 3.0)
        signal_procs(left, signal.SIGKILL)
        await wait_gone(left, 3.0)

    def _old_sessions(self) -> dict[int, float]:
        """The sessions a previous daemon's panes led ({leader pid: start
        time}), from run/; none from before the last boot, and none whose
        leader pid now belongs to another process."""
        try:
            raw = json.loads((self.layout.run / SESSIONS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        boot = psutil.boot_time()
        out = {}
        for entry in raw.values() if isinstance(raw, dict) else ():
            try:
                pid, started = int(entry[0]), float(entry[1])
            except (TypeError, ValueError, IndexError):
                continue
            if started < boot:
                continue
            try:
                if abs(psutil.Process(pid).create_time() - started) > 0.5:
                    continue        # the pid was reused: not that session
            except psutil.Error:
                pass                # the leader is gone; its session may not be
            out[pid] = started
        return out

    def _save_sessions(self) -> None:
        now = {}
        for p in self.panes.values():
            if p.alive and p.pid:
                was = self._sessions.get(p.name)
                if was and was[0] == p.pid:
                    now[p.name] = was
                    continue
                try:
                    # The kernel's start time, as psutil gives it for every
                    # process: a member of the session never started earlier.
                    now[p.name] = [p.pid, psutil.Process(p.pid).create_time()]
                except psutil.Error:
                    pass
        if now != self._sessions:
            self._sessions = now
            try:
                atomic_write(self.layout.run / SESSIONS_FILE, json.dumps(now), mode=0o600)
            except OSError as e:
                log.warning("cannot record the panes' sessions: %s", e)

    # ---------------------------------------------------------------- specs
    def _load(self, initial: bool = False) -> dict:
        path = self.layout.panes_file
        try:
            raw = json.loads(path.read_text()) if path.exists() else []
        except (OSError, ValueError) as e:
            raise OpError(f"cannot read {path}: {e}") from None
        if isinstance(raw, dict) and "panes" in raw:
            raw = raw["panes"]
        if not isinstance(raw, list):
            raise OpError(f"{path}: expected a list of pane specs")
        specs: dict[str, PaneSpec] = {}
        for i, entry in enumerate(raw):
            try:
                spec = parse_spec(entry, i)
            except PaneError as e:
                raise OpError(f"{path}: {e}") from None
            if spec.name in specs:
                raise OpError(f"{path}: pane {spec.name} defined twice")
            specs[spec.name] = spec
        try:
            self.secrets = SecretFilter(load_secrets(self.layout.secrets_file))
        except Exception as e:
            # Masking must never be silently off: refuse the reload instead.
            raise OpError(f"cannot read {self.layout.secrets_file}: {e}") from None
        added, updated, removed = [], [], []
        for name, spec in specs.items():
            pane = self.panes.get(name)
            if pane is None:
                self.panes[name] = Pane(spec, self.dest, self.secrets, self.oom, self._pane_changed)
                added.append(name)
            else:
                if pane.spec != spec:
                    updated.append(name)
                pane.spec = spec        # takes effect at its next start
                pane.removed = False
        for name, pane in list(self.panes.items()):
            pane.secrets = self.secrets
            if name not in specs:
                removed.append(name)
                pane.cancel_restart()
                if pane.alive:
                    pane.removed = True
                else:
                    del self.panes[name]
        if not initial:
            log.info("reload: added %s, updated %s, removed %s", added, updated, removed)
        return {"added": added, "updated": updated, "removed": removed, "panes": len(self.panes)}

    def _pane_changed(self, pane: Pane) -> None:
        snap = {p.name: p.pid for p in self.panes.values() if p.alive and p.pid}
        self.pid_snapshot = snap    # replaced whole: the monitor's thread reads it
        self._save_sessions()
        if pane.removed and not pane.alive:
            self.panes.pop(pane.name, None)

    # ------------------------------------------------------------- children
    def _on_sigchld(self) -> None:
        for p in list(self.panes.values()):
            p.poll()
        if self._orphan_handle is None:
            # Debounced: the orphan scan walks /proc, and a pane forking
            # short-lived helpers must not turn that into a hot loop.
            self._orphan_handle = asyncio.get_running_loop().call_later(0.2, self._reap_orphans)

    def _reap_orphans(self) -> None:
        self._orphan_handle = None
        leaders = {p.pid for p in self.panes.values() if p.pid and not p._exited.is_set()}
        try:
            kids = psutil.Process().children()
        except psutil.Error:
            return
        for c in kids:
            if c.pid in leaders:
                continue
            try:
                if c.status() != psutil.STATUS_ZOMBIE:
                    continue
                # Our own helpers (the monitor's subprocesses) share our
                # session; their owners reap them.
                if os.getsid(c.pid) == self._sid:
                    continue
            except (psutil.Error, OSError):
                continue
            try:
                os.waitpid(c.pid, os.WNOHANG)
            except ChildProcessError:
                pass

    async def _housekeeping(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(HOUSEKEEPING)
            for p in list(self.panes.values()):
                p.poll()
            n += 1
            if n % 2 == 0:
                self.oom.sample()
            for p in list(self.panes.values()):
                p.check_stopped()
            if n % self.health_every == 0 and not self._shutting_down:
                self._spawn(self._check_health())

    async def _check_health(self) -> None:
        if self._health_running:
            return      # the last round still waits on hung probes
        self._health_running = True
        try:
            await asyncio.gather(*(p.check_health() for p in list(self.panes.values())),
                                 return_exceptions=True)
        finally:
            self._health_running = False

    # -------------------------------------------------------------- monitor
    def _start_monitor(self) -> None:
        try:
            from .monitor import Monitor  # type: ignore
        except Exception:
            return
        wanted = {"thresholds": None, "pane_pids": lambda: dict(self.pid_snapshot),
                  "log_path": self.layout.logs / "monitor.log"}
        try:
            params = inspect.signature(Monitor).parameters
            accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
            kwargs = {k: v for k, v in wanted.items() if accepts_any or k in params}
            self.monitor = Monitor(**kwargs)
            self.monitor.start()
            log.info("memory monitor started")
        except Exception:
            log.exception("memory monitor unavailable")
            self.monitor = None

    # ------------------------------------------------------------ resolving
    def _resolve(self, names: Any, *, stop_all: bool = False, infra: bool = False) -> list[Pane]:
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names:
            raise OpError("names: give at least one pane, group or 'all'")
        picked: dict[str, Pane] = {}
        unknown = []
        for n in names:
            if n == "all":
                for p in self.panes.values():
                    if stop_all and p.spec.infra and not infra:
                        continue
                    picked[p.name] = p
            elif n in self.panes:
                picked[n] = self.panes[n]
            else:
                group = [p for p in self.panes.values() if p.spec.group == n]
                if not group:
                    unknown.append(n)
                for p in group:
                    picked[p.name] = p
        if unknown:
            known = sorted(set(self.panes) | {p.spec.group for p in self.panes.values()})
            raise OpError(f"unknown pane or group: {', '.join(map(str, unknown))} "
                          f"(known: {', '.join(known) or 'none; is panes.json written?'})")
        return list(picked.values())

    @staticmethod
    def _ordered(panes: list[Pane], reverse: bool = False) -> list[Pane]:
        return sorted(panes, key=lambda p: (p.spec.order, p.name), reverse=reverse)

    async def _start_panes(self, panes: list[Pane]) -> list[dict]:
        out, errors = [], []
        for p in self._ordered(panes):
            async with p.lock:
                try:
                    await p.start()
                except PaneError as e:
                    errors.append(str(e))
            out.append({"name": p.name, "state": p.state, "pid": p.pid if p.alive else None})
        if errors:
            raise OpError("; ".join(errors))
        return out

    async def _stop_panes(self, panes: list[Pane]) -> list[dict]:
        # Reverse start order, and one order level at a time: the panes of
        # one level stop together so `unstack` does not take N x grace.
        out = []
        levels: dict[int, list[Pane]] = {}
        for p in panes:
            levels.setdefault(p.spec.order, []).append(p)
        for order in sorted(levels, reverse=True):
            async def one(p: Pane) -> None:
                async with p.lock:
                    await p.stop()
            await asyncio.gather(*(one(p) for p in levels[order]))
        for p in self._ordered(panes, reverse=True):
            out.append({"name": p.name, "state": p.state, "cause": p.cause})
        return out

    # ------------------------------------------------------------------ ops
    async def _op(self, op: str, req: dict) -> Any:
        if op == "ping":
            return {"pid": os.getpid(), "dest": str(self.dest), "protocol": PROTOCOL,
                    "idle_timeout": self.idle_timeout, "max_connections": self.max_connections}
        if op == "reload":
            return self._load()
        if op == "status":
            panes = self._ordered(list(self.panes.values()))
            with_rss = bool(req.get("rss", True))
            rss = trees_rss({p.name: p.pid for p in panes if p.alive}) if with_rss else {}
            return [p.status(with_rss=with_rss, rss=rss.get(p.name)).to_dict() for p in panes]
        if self._shutting_down and op in ("start", "restart"):
            raise OpError("the supervisor is shutting down")
        if op == "start":
            return await self._start_panes(self._resolve(req.get("names")))
        if op == "stop":
            infra = bool(req.get("infra", False))
            panes = self._resolve(req.get("names"), stop_all=True, infra=infra)
            return await self._stop_panes(panes)
        if op == "restart":
            panes = self._resolve(req.get("names"), stop_all=True, infra=bool(req.get("infra", False)))
            await self._stop_panes(panes)
            return await self._start_panes(panes)
        if op == "wait_ready":
            return await self._wait_ready(req)
        if op == "tail":
            pane = self._pane(req.get("name"))
            return pane.tail(int(req.get("lines", 100)))
        if op == "input":
            data = req.get("data")
            if not isinstance(data, str) or len(data) > 4096:
                raise OpError("input: data must be a string of at most 4096 characters")
            self._pane(req.get("name")).send_input(data.encode())
            return None
        if op == "monitor":
            if self.monitor is None:
                return {"available": False}
            st = self.monitor.status()
            return json.loads(json.dumps(st, default=_jsonable))
        raise OpError(f"unknown op {op!r}")

    def _pane(self, name: Any) -> Pane:
        if name not in self.panes:
            raise OpError(f"unknown pane {name!r} (known: {', '.join(sorted(self.panes)) or 'none'})")
        return self.panes[name]

    async def _wait_ready(self, req: dict) -> list[str]:
        panes = self._resolve(req.get("names"))
        timeout = float(req.get("timeout", 60))
        tasks = [asyncio.ensure_future(p.wait_ready(timeout)) for p in panes]
        try:
            # The first pane that dies fails the whole wait at once.
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for t in tasks:
                t.cancel()
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                raise OpError(str(t.exception()))
        return [p.name for p in panes]

    # ----------------------------------------------------------- transport
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        uid = _peer_uid(sock) if sock is not None else None
        if uid is None or uid not in (os.getuid(), 0):
            log.warning("refused a connection from uid %s", uid)
            await self._error(writer, "permission denied", "refused")
            writer.close()
            return
        if self._connections >= self.max_connections:
            await self._error(writer, f"busy: {self._connections} connections already", "busy")
            writer.close()
            return
        self._connections += 1
        try:
            await self._serve(reader, writer)
        except (ConnectionError, BrokenPipeError):
            pass
        finally:
            self._connections -= 1
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), self.idle_timeout)
            except asyncio.TimeoutError:
                await self._error(writer, f"idle for {self.idle_timeout:g} s; closing", "idle")
                return
            except (ValueError, asyncio.LimitOverrunError):
                await self._error(writer, f"request longer than {REQUEST_MAX} bytes", "bad_request")
                return
            if not line:
                return
            try:
                req = json.loads(line)
                if not isinstance(req, dict) or not isinstance(req.get("op"), str):
                    raise ValueError('expected an object with "op": NAME')
            except (ValueError, RecursionError) as e:
                # RecursionError: deeply nested JSON, which json.loads
                # cannot parse; an answer, not a dropped connection.
                why = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:200]
                await self._error(writer, f"bad request: {why}", "bad_request")
                continue
            op = req["op"]
            if op == "follow":
                await self._follow(req, reader, writer)
                return
            if op == "shutdown":
                await self._shutdown(stop_panes=bool(req.get("stop_panes", True)), finish=False)
                try:
                    await self._send(writer, {"ok": True, "result": {"pid": os.getpid()}})
                finally:
                    # Only now: the answer must reach the client before we exit.
                    self._done.set()
                return
            try:
                result = await self._op(op, req)
                resp = {"ok": True, "result": result}
            except (OpError, PaneError) as e:
                resp = {"ok": False, "error": str(e), "code": "failed"}
            except (TypeError, ValueError) as e:
                resp = {"ok": False, "error": f"bad request: {op}: {e}", "code": "bad_request"}
            except Exception as e:
                log.exception("op %s failed", op)
                resp = {"ok": False, "error": f"internal error in {op}: {e!r} (see supervisor.log)",
                        "code": "internal"}
            await self._send(writer, resp)

    async def _error(self, writer: asyncio.StreamWriter, text: str, code: str) -> None:
        try:
            await self._send(writer, {"ok": False, "error": text, "code": code})
        except (ConnectionError, BrokenPipeError):
            pass

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, obj: dict) -> None:
        writer.write(json.dumps(obj, default=_jsonable).encode() + b"\n")
        await writer.drain()

    async def _follow(self, req: dict, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            pane = self._pane(req.get("name"))
            first = int(req.get("lines", 100))
        except OpError as e:
            await self._error(writer, str(e), "failed")
            return
        except (TypeError, ValueError) as e:
            await self._error(writer, f"bad request: follow: {e}", "bad_request")
            return
        # Bounded by bytes, not batches: one batch of a flood can be 256 KB,
        # and a reader that never reads (`logs -f | less` left open) must
        # not grow the supervisor. What does not fit is skipped, and the
        # reader is told how much.
        queue: deque[list[str]] = deque()
        queued = 0
        skipped = 0
        wake = asyncio.Event()

        def push(lines: list[str]) -> None:
            nonlocal queued, skipped
            size = sum(len(ln) + 1 for ln in lines)
            if queued + size > FOLLOW_BYTES_MAX:
                skipped += len(lines)
            else:
                queue.append(lines)
                queued += size
            wake.set()

        await self._send(writer, {"ok": True, "result": {"name": pane.name}})
        await self._send(writer, PaneLines(tuple(pane.tail(first))).to_dict())
        pane.followers.add(push)
        hangup = asyncio.ensure_future(reader.read(1))   # EOF: the client went away
        try:
            while not hangup.done() and not self._done.is_set():
                if not queue and not skipped:
                    wake.clear()
                    waiter = asyncio.ensure_future(wake.wait())
                    await asyncio.wait({waiter, hangup}, return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
                    continue
                batch: list[str] = []
                size = 0
                while queue and size < FOLLOW_SEND_MAX:
                    lines = queue.popleft()
                    n = sum(len(ln) + 1 for ln in lines)
                    queued -= n
                    size += n
                    batch.extend(lines)
                # Taken before the send: lines skipped while it waits on a
                # reader that does not read belong to the next message.
                lost, skipped = skipped, 0
                if lost:
                    batch.insert(0, f"{MARK} … {lost} lines skipped: this reader was too slow …")
                await self._send(writer, PaneLines(tuple(batch), lost).to_dict())
        except (ConnectionError, BrokenPipeError):
            pass
        finally:
            pane.followers.discard(push)
            hangup.cancel()


def _jsonable(o: Any) -> Any:
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "_asdict"):
        return o._asdict()
    if hasattr(o, "__dict__"):
        return vars(o)
    return str(o)


_own_log: logging.StreamHandler | None = None


def _reopen_own_log(layout: Layout) -> None:
    if _own_log is not None:
        try:
            old = _own_log.setStream(os.fdopen(open_log(layout.logs / "supervisor.log"), "a"))
        except OSError:
            return          # keep the old one: a log is better than none
        if old is not None:
            try:
                old.close()
            except OSError:
                pass


def _setup_logging(layout: Layout, foreground: bool) -> None:
    global _own_log
    handler = logging.StreamHandler(os.fdopen(open_log(layout.logs / "supervisor.log"), "a"))
    _own_log = handler
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("stacktui")
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    if foreground and sys.stderr.isatty():
        root.addHandler(logging.StreamHandler())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stacktui.supervisor",
                                 description="Run the stacktui pane supervisor in the foreground.")
    ap.add_argument("--dest", required=True, help="the stack's DEST folder")
    ap.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT, help=argparse.SUPPRESS)
    ap.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS, help=argparse.SUPPRESS)
    ap.add_argument("--health-every", type=int, default=HEALTH_EVERY, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    layout = Layout(Path(args.dest).resolve())
    try:
        # Before any file of DEST is read: panes.json is run as this user.
        check_owned(layout)
    except UserError as e:
        print(f"stacktui supervisor: {e}", file=sys.stderr)
        return 2
    _setup_logging(layout, foreground=True)
    try:
        return asyncio.run(Supervisor(layout, args.idle_timeout, args.max_connections,
                                      args.health_every).run())
    except Exception:
        log.exception("supervisor crashed")
        raise


if __name__ == "__main__":
    sys.exit(main())
