"""A real terminal for the TUI's test and benchmark: one tmux server of its
own (its own socket, no user config), one window running a command."""

from __future__ import annotations

import os
import subprocess
import time


class Term:
    # How the window's command gets its environment; a subclass running tmux
    # as another user says `env -i` so root's test environment stays out.
    env_command = "env"
    cwd: str | None = None

    def __init__(self, name: str, width: int = 100, height: int = 30, prefix: str = "stx"):
        self.sock = f"{prefix}-{os.getpid()}-{name}"
        self.width, self.height = width, height

    def command(self, argv: list[str]) -> list[str]:
        """How tmux is run (as is; a subclass wraps it in runuser)."""
        return argv

    def tmux(self, *args, check=True) -> str:
        r = subprocess.run(self.command(["tmux", "-L", self.sock, "-f", "/dev/null", *args]),
                           capture_output=True, text=True, timeout=30, cwd=self.cwd)
        if check and r.returncode:
            raise AssertionError(f"tmux {args}: {r.stderr}")
        return r.stdout

    def start(self, cmd: str, env: dict) -> float:
        envs = " ".join(f"{k}={v}" for k, v in env.items())
        t0 = time.monotonic()
        # `; sleep` keeps the window after the command exits so its last screen can be read.
        self.tmux("new-session", "-d", "-x", str(self.width), "-y", str(self.height), "-s", "t",
                  f"{self.env_command} {envs} {cmd}; echo STACKTUI-EXITED $?; sleep 600")
        return t0

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t", check=False)

    def keys(self, *keys: str, pause: float = 0.15) -> None:
        for k in keys:
            self.tmux("send-keys", "-t", "t", k)
            time.sleep(pause)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)

    def wait(self, text: str, timeout: float = 30, every: float = 0.02,
             fail: str | None = None) -> str:
        """The screen once ``text`` is on it (polled every ``every`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            if fail and fail in s:
                raise AssertionError(f"{fail!r} on screen:\n{s}")
            time.sleep(every)
        raise AssertionError(f"{text!r} not on screen after {timeout} s:\n{self.screen()}")

    def pane_pid(self) -> int:
        return int(self.tmux("list-panes", "-t", "t", "-F", "#{pane_pid}").split()[0])

    def kill(self) -> None:
        self.tmux("kill-server", check=False)
