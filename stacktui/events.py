"""Every event one side of stacktui tells another, typed and written once.

The engine's events go to its views over a :class:`Bus`: the CLI prints
them, the TUI renders them. A view tells them apart by type
(``isinstance`` or ``match``), never by a string and a dict whose keys
are written in two places. The supervisor's events go over its socket as
JSON objects; :class:`PaneLines` is that object on both sides.

No Textual here: the core and the CLI import this module.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every engine event carries: its step (None for the whole run)
    and when it happened."""
    step: str | None = None
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return {"kind": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class PlanStep:
    id: str                      # "init:keystone"
    phase: str                   # "init"
    module: str | None = None    # the service module; None for whole-stack steps
    estimate: float = 1          # its usual share of the run, in the engine's units


@dataclass(frozen=True, kw_only=True)
class Plan(Event):
    """The steps of this run, in order, before the first one starts."""
    steps: tuple[PlanStep, ...]


@dataclass(frozen=True, kw_only=True)
class StepStart(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class StepSkip(Event):
    """Done before with the same inputs: not run again."""


@dataclass(frozen=True, kw_only=True)
class StepDone(Event):
    seconds: float


@dataclass(frozen=True, kw_only=True)
class StepFail(Event):
    error: str                   # one line, secrets masked
    log: str                     # the log that holds the whole output
    tail: tuple[str, ...] = ()   # the last lines of the failed command


@dataclass(frozen=True, kw_only=True)
class Output(Event):
    """One line of a command's output (secrets masked)."""
    text: str


@dataclass(frozen=True, kw_only=True)
class Progress(Event):
    text: str = ""
    fraction: float = 0.0        # of the step, 0 to 1


@dataclass(frozen=True, kw_only=True)
class PaneState(Event):
    """A service pane the step started, as the supervisor reported it."""
    name: str
    state: str
    pid: int | None = None


@dataclass(frozen=True, kw_only=True)
class Done(Event):
    seconds: float
    summary: dict = field(default_factory=dict)


Listener = Callable[[Event], None]


class Bus:
    def __init__(self):
        self._listeners: list[Listener] = []

    def subscribe(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def emit(self, ev: Event) -> None:
        for fn in list(self._listeners):
            fn(ev)


# ---------------------------------------------------------- the supervisor's


@dataclass(frozen=True)
class PaneLines:
    """One message of the supervisor's ``follow`` stream: a pane's new lines,
    and how many a slow reader lost before them."""
    lines: tuple[str, ...] = ()
    skipped: int = 0

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"lines": list(self.lines)}
        if self.skipped:
            d["skipped"] = self.skipped
        return d

    @classmethod
    def from_dict(cls, raw: Any) -> "PaneLines":
        if not isinstance(raw, dict):
            return cls()
        return cls(tuple(raw.get("lines") or ()), int(raw.get("skipped") or 0))
