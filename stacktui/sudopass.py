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
    from . import destdir, distro
    from .phases import prerequisites
    try:
        if not distro.missing(prerequisites.packages(ans)) and not destdir.needs_sudo(ans.dest):
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
