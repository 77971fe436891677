"""Errors a user can act on: where, what is wrong, how to fix it."""

from __future__ import annotations

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
