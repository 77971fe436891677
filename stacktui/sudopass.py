"""Whether an install will want the user's sudo password, and whether a
password typed is sudo's. Shared by `stacktui install` (asks on its
terminal) and the wizard (asks in a masked field): the password is then kept
in the engine's memory only and typed into sudo's own prompt in a PTY."""

from __future__ import annotations

import os
import subprocess

from .errors import StackError


def wanted(ans) -> bool:
    """An ordinary user whose sudo asks a password, with distro packages to
    install or a DEST to make. Root, passwordless sudo or nothing to do: no."""
    if os.geteuid() == 0:
        return False
    from . import destdir, distro, sudoers
    from .paths import Layout
    from .phases import prerequisites
    try:
        if not distro.missing(prerequisites.packages(ans)) and not destdir.needs_sudo(ans.dest) \
                and not (sudoers.wanted(ans) and not sudoers.in_place(Layout(ans.dest), ans)):
            return False
    except StackError:
        return False
    return subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL,
                          capture_output=True).returncode != 0


def accepted(password: str) -> bool:
    """sudo takes this password. Given on stdin (never argv); -k so that no
    credential is cached by this check: later prompts still come, and the
    engine's runner answers them."""
    try:
        r = subprocess.run(["sudo", "-S", "-k", "-p", "", "true"], input=password + "\n",
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def run_as_root(argv: list[str], password: str | None, timeout: int = 60) -> tuple[int, str]:
    """(status, output) of `sudo argv` in a PTY whose prompt gets the
    password typed once (none: `sudo -n`). Not the engine's runner: what it
    writes here (the sudoers drop-in) must be in place before any step."""
    if os.geteuid() == 0:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr
    import pexpect

    from .apt import SUDO_PROMPT
    child = pexpect.spawn("sudo", (["-n"] if password is None else []) + list(argv),
                          encoding="utf-8", codec_errors="replace", timeout=timeout, echo=False)
    try:
        if child.expect([SUDO_PROMPT, pexpect.EOF]) == 0:
            child.sendline(password or "")
            # A wrong password is asked again: give up instead of answering twice.
            if child.expect([SUDO_PROMPT, pexpect.EOF]) == 0:
                child.terminate(force=True)
                return 1, "sudo refused the password"
        out = child.before or ""
    except pexpect.TIMEOUT:
        child.terminate(force=True)
        return 1, f"sudo did not answer within {timeout} s"
    child.close()
    return child.exitstatus if child.exitstatus is not None else 1, out
