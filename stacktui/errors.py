"""Errors a user can act on: where, what is wrong, how to fix it."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Problem:
    message: str
    file: str | None = None
    line: int | None = None      # 1-based
    column: int | None = None    # 1-based
    key: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        where = self.file or ""
        if self.file and self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        text = f"{where}: " if where else ""
        if self.key:
            text += f"{self.key}: "
        text += self.message
        if self.fix:
            text += f" ({self.fix})"
        return text


class UserError(Exception):
    """Bad input: the CLI prints each problem on its own line and exits 2."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, (Problem, str)):
            problems = [problems]
        self.problems = [p if isinstance(p, Problem) else Problem(p) for p in problems]
        super().__init__("\n".join(str(p) for p in self.problems))


class StackError(Exception):
    """A phase or service failed; exit code 1."""

    exit_code = 1


# oslo.log puts the level after the pid ("2026-12-01 10:00:00.123 42 ERROR
# keystone [-] ..."); Python's logging and tracebacks have their own shapes.
_LEVEL = re.compile(r"\b(ERROR|CRITICAL|FATAL)\b")
_EXCEPTION = re.compile(r"^\s*(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Failure|Fault|"
                        r"NotFound|Denied|Refused|Invalid\w*)(?::\s.*)?$")
_NOISE = re.compile(r"(Deprecat|DEPRECAT|Warning:|WARNING|^\s*warnings\.warn|^\s*File \")")


def cause_line(tail: list[str]) -> str | None:
    """The line of a failed command's output a person should read first: the
    last ERROR / CRITICAL line or exception line, else the last line that
    is not a warning. Tracebacks end with the exception, so the last such
    line is the cause, not the first."""
    lines = [l.strip() for l in tail if l and l.strip()]
    for pattern in (_EXCEPTION, _LEVEL):
        for line in reversed(lines):
            if pattern.search(line) and not _NOISE.search(line):
                return line
    for line in reversed(lines):
        if not _NOISE.search(line):
            return line
    return None


def failure_summary(error: str, tail: list[str] | None) -> str:
    """One line for a failed step: the cause from the output, then what
    failed ('python failed with exit code 1') in brackets."""
    cause = cause_line(tail or [])
    if not cause or cause in error:
        return error
    if len(cause) > 300:
        cause = cause[:297] + "..."
    return f"{cause} ({error})"
