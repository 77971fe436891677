"""Run a phase's command in a PTY (pexpect), the way a person would see it.

Tools print real progress in a terminal, and a prompt (sudo's password, a
package's question) is answered from what the user gave once instead of
hanging the install. Every line goes, masked, to DEST/logs/stack.log and to
the engine's listeners (the install pane).
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from pathlib import Path

import pexpect

from .errors import StackError
from .fsutil import open_log
from .masking import Masker

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Runner:
    def __init__(self, log_path: Path, masker: Masker, on_line=None, base_env: dict | None = None):
        self.log_path = Path(log_path)
        self.masker = masker
        self.on_line = on_line or (lambda line, tag: None)
        self.base_env = base_env or {}
        self._log = os.fdopen(open_log(self.log_path), "a", encoding="utf-8", buffering=1)

    def close(self) -> None:
        self._log.close()

    def note(self, text: str) -> None:
        """A line of the engine's own (step headers) into stack.log."""
        self._log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} | {self.masker(text)}\n")

    def _emit(self, line: str, tag: str | None) -> None:
        line = self.masker(_ANSI.sub("", line))
        self._log.write((f"[{tag}] " if tag else "") + line + "\n")
        self.on_line(line, tag)

    def run(self, argv: list[str], *, env: dict | None = None, cwd: str | Path | None = None,
            prompts: dict[str, str] | None = None, timeout: float = 1800, tag: str | None = None,
            check: bool = True, tail_lines: int = 30) -> tuple[int, list[str]]:
        """Run ``argv``; answer ``prompts`` (regex -> reply); return (status, last lines).

        Secrets go in ``env`` or files, never in ``argv``: a command line is
        visible to every user through ps.
        """
        full_env = {**os.environ, **self.base_env, **(env or {}), "TERM": "dumb",
                    "PYTHONUNBUFFERED": "1"}
        # The stack's venv is built without bytecode (uv's default) and its
        # first imports write it; a caller's PYTHONDONTWRITEBYTECODE (common in
        # containers) would make every keystone-manage or db sync recompile
        # seconds of modules. Panes already start without it.
        full_env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.note("$ " + " ".join(argv))
        tail: deque[str] = deque(maxlen=tail_lines)
        try:
            child = pexpect.spawn(argv[0], argv[1:], env=full_env, cwd=str(cwd) if cwd else None,
                                  encoding="utf-8", codec_errors="replace", timeout=timeout,
                                  dimensions=(50, 200), echo=False)
        except pexpect.ExceptionPexpect as e:
            raise StackError(f"cannot run {argv[0]}: {e}") from None
        patterns = [pexpect.EOF, "\r?\n"]
        replies = list((prompts or {}).items())
        patterns += [p for p, _ in replies]
        deadline = time.monotonic() + timeout
        buf = ""
        try:
            while True:
                idx = child.expect(patterns, timeout=max(1, deadline - time.monotonic()))
                text = buf + (child.before or "")
                buf = ""
                if idx == 0:
                    if text:
                        tail.append(self.masker(_ANSI.sub("", text)))
                        self._emit(text, tag)
                    break
                if idx == 1:
                    tail.append(self.masker(_ANSI.sub("", text)))
                    self._emit(text, tag)
                else:
                    # A prompt: show it (masked), answer it, never echo the reply.
                    self._emit(text + (child.after or ""), tag)
                    child.sendline(replies[idx - 2][1])
        except pexpect.TIMEOUT:
            child.terminate(force=True)
            raise StackError(f"{argv[0]} did not finish within {int(timeout)} s "
                             f"(see {self.log_path})") from None
        child.close()
        status = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
        if status != 0 and check:
            err = StackError(f"{os.path.basename(argv[0])} failed with exit code {status}")
            err.tail = list(tail)
            err.log = str(self.log_path)
            raise err
        return status, list(tail)
