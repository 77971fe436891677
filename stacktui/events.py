"""What the engine tells its views. The CLI prints these; the TUI renders them."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

# kinds
PLAN = "plan"              # data: {"steps": [{"id", "phase", "service", "estimate"}]}
STEP_START = "step-start"
STEP_SKIP = "step-skip"    # done before and unchanged
STEP_DONE = "step-done"    # data: {"seconds": float}
STEP_FAIL = "step-fail"    # data: {"error", "log", "tail"}
OUTPUT = "output"          # text: one line of a command's output (secrets masked)
PROGRESS = "progress"      # data: {"fraction": 0..1}
SERVICE = "service"        # data: {"name", "state", "pid"}
DONE = "done"              # data: {"seconds", "summary"}


@dataclass
class Event:
    kind: str
    step: str | None = None
    text: str = ""
    data: dict = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return asdict(self)


Listener = Callable[[Event], None]


class Bus:
    def __init__(self):
        self._listeners: list[Listener] = []

    def subscribe(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def emit(self, kind: str, step: str | None = None, text: str = "", **data) -> None:
        ev = Event(kind, step, text, data)
        for fn in list(self._listeners):
            fn(ev)
