"""The pane types every side shares, written once.

``PaneSpec`` is how to run one pane: the engine builds them, panes.json
holds them, the supervisor parses and runs them. ``PaneStatus`` is what the
supervisor reports about one pane: the CLI, the dashboard and the engine
read it. ``PROTOCOL`` is the version of the supervisor's socket protocol
(``ping`` answers it; a client refuses a daemon that speaks another).

Both types convert to and from the plain JSON objects on disk and on the
socket (``to_dict`` / ``from_dict``). ``PaneStatus`` also reads like the
mapping it replaces (``st["state"]``, ``st.get("pid")``) so views written
against the dict keep working while they move to attributes.
"""

from __future__ import annotations

import enum
import re
import signal
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterator, Mapping

# 1: untyped dicts. 2: ping answers {"protocol"}, errors carry {"code"},
# follow streams carry {"skipped"} markers, status has not_answering_since.
PROTOCOL = 2

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
DEFAULT_STOP_TIMEOUT = 10.0
# What the supervisor does when a pane ends by itself (not on request):
# nothing, or start it again after a failure (an exit code other than 0, a
# signal, the OOM killer), waiting restart_backoff seconds, doubled after
# each failure in a row (process-compose's and systemd's on-failure).
RESTART_POLICIES = ("never", "on-failure")
DEFAULT_RESTART_BACKOFF = 1.0
RESTART_BACKOFF_RANGE = (0.1, 300.0)


class PaneSpecError(ValueError):
    """A panes.json entry that cannot be run; the text names the entry."""


class State(enum.StrEnum):
    DEFINED = "defined"              # in panes.json, never started
    STARTING = "starting"            # running, ready probe not answered yet
    RUNNING = "running"              # ready probe answered (or no probe)
    NOT_ANSWERING = "not answering"  # alive, but its probe stopped answering
    STOPPED = "stopped"              # stopped on request
    EXITED = "exited"                # ended by itself with an exit code
    KILLED = "killed"                # ended by a signal nobody here sent

    @property
    def alive(self) -> bool:
        return self in (State.STARTING, State.RUNNING, State.NOT_ANSWERING)


@dataclass(frozen=True)
class Ready:
    """The pane's ready probe, also its health check: a TCP or Unix socket
    that accepts, or an HTTP answer below 500."""
    tcp: tuple[str, int] | None = None
    http: str | None = None
    unix: str | None = None

    @classmethod
    def parse(cls, raw: Any, where: str) -> "Ready | None":
        if raw is None:
            return None
        if isinstance(raw, Ready):
            return raw
        if isinstance(raw, dict):
            tcp = raw.get("tcp")
            if isinstance(tcp, (list, tuple)) and len(tcp) == 2:
                try:
                    return cls(tcp=(str(tcp[0]), int(tcp[1])))
                except (TypeError, ValueError):
                    pass
            elif isinstance(raw.get("http"), str):
                return cls(http=raw["http"])
            elif isinstance(raw.get("unix"), str):
                return cls(unix=raw["unix"])
        raise PaneSpecError(f"{where}: ready must be {{\"tcp\": [host, port]}}, {{\"http\": URL}}, "
                            f"{{\"unix\": socket path}} or null")

    def to_dict(self) -> dict:
        if self.tcp:
            return {"tcp": list(self.tcp)}
        return {"http": self.http} if self.http else {"unix": self.unix}

    def __str__(self) -> str:
        if self.tcp:
            return f"tcp {self.tcp[0]}:{self.tcp[1]}"
        return f"unix {self.unix}" if self.unix else f"http {self.http}"


@dataclass(frozen=True)
class PaneSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    group: str = ""
    infra: bool = False
    port: int | None = None
    ready: Ready | None = None
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    stop_signal: int = int(signal.SIGTERM)   # for programs where SIGTERM means reload
    cgroup: str | None = None
    order: int = 0
    restart: str = "never"
    restart_backoff: float = DEFAULT_RESTART_BACKOFF

    @classmethod
    def from_dict(cls, raw: Any, index: int = 0) -> "PaneSpec":
        """Check one entry of panes.json and fill defaults; the error names
        the entry, so a bad spec is found at reload, not at start."""
        where = f"panes.json entry {index}"
        if not isinstance(raw, dict):
            raise PaneSpecError(f"{where}: expected an object")
        name = raw.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PaneSpecError(f"{where}: bad or missing name {name!r} (letters, digits, _ . @ -)")
        where = f"pane {name}"
        argv = raw.get("argv")
        if not isinstance(argv, (list, tuple)) or not argv or not all(isinstance(a, str) for a in argv):
            raise PaneSpecError(f"{where}: argv must be a non-empty list of strings")
        env = raw.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in env.items()):
            raise PaneSpecError(f"{where}: env must map strings to strings")
        stop_signal = raw.get("stop_signal") or "SIGTERM"
        try:
            stop_signal = int(signal.Signals[stop_signal] if isinstance(stop_signal, str)
                              else signal.Signals(stop_signal))
        except (KeyError, ValueError):
            raise PaneSpecError(f"{where}: unknown stop_signal {raw.get('stop_signal')!r}") from None
        try:
            stop_timeout = float(raw["stop_timeout"] if raw.get("stop_timeout") is not None
                                 else DEFAULT_STOP_TIMEOUT)
            order = int(raw.get("order") or 0)
            port = int(raw["port"]) if raw.get("port") is not None else None
        except (TypeError, ValueError) as e:
            raise PaneSpecError(f"{where}: {e}") from None
        restart = raw.get("restart") or "never"
        if restart not in RESTART_POLICIES:
            raise PaneSpecError(f"{where}: restart must be one of {', '.join(RESTART_POLICIES)}, "
                                f"got {restart!r}")
        backoff = raw.get("restart_backoff")
        try:
            backoff = DEFAULT_RESTART_BACKOFF if backoff is None else float(backoff)
        except (TypeError, ValueError):
            backoff = -1.0
        lo, hi = RESTART_BACKOFF_RANGE
        if isinstance(raw.get("restart_backoff"), bool) or not lo <= backoff <= hi:
            raise PaneSpecError(f"{where}: restart_backoff must be {lo:g} to {hi:g} seconds, "
                                f"got {raw.get('restart_backoff')!r}")
        return cls(name=name, argv=tuple(argv), env=dict(env), cwd=raw.get("cwd") or None,
                   group=raw.get("group") or name, infra=bool(raw.get("infra", False)), port=port,
                   ready=Ready.parse(raw.get("ready"), where), stop_timeout=max(0.0, stop_timeout),
                   stop_signal=stop_signal, cgroup=raw.get("cgroup") or None, order=order,
                   restart=restart, restart_backoff=backoff)

    def to_dict(self) -> dict:
        return {"name": self.name, "argv": list(self.argv), "env": dict(self.env), "cwd": self.cwd,
                "group": self.group or self.name, "infra": self.infra, "port": self.port,
                "ready": self.ready.to_dict() if self.ready else None,
                "stop_timeout": self.stop_timeout,
                "stop_signal": signal.Signals(self.stop_signal).name,
                "cgroup": self.cgroup, "order": self.order, "restart": self.restart,
                "restart_backoff": self.restart_backoff}


@dataclass(frozen=True)
class PaneStatus(Mapping):
    name: str
    group: str
    state: State
    infra: bool = False
    order: int = 0
    pid: int | None = None
    started_at: float | None = None
    uptime: float | None = None
    restarts: int = 0
    rss: int | None = None
    port: int | None = None
    exit_code: int | None = None
    signal: str | None = None
    oom_killed: bool = False
    cause: str | None = None
    log: str | None = None
    not_answering_since: float | None = None
    restart: str = "never"              # the pane's restart policy
    restart_in: float | None = None     # seconds until the policy starts it again

    @classmethod
    def from_dict(cls, raw: dict) -> "PaneStatus":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in raw.items() if k in known}   # a newer daemon may add keys
        data["state"] = State(data.get("state", "defined"))
        return cls(**data)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["state"] = str(self.state)
        return d

    @property
    def alive(self) -> bool:
        return self.state.alive

    # The mapping the views were written against.
    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return (f.name for f in fields(self))

    def __len__(self) -> int:
        return len(fields(self))
