"""Running the few things that need root for an ordinary user's stack.

As root these prefixes are empty. As an ordinary user, the commands that
must be root (the stack's network namespace and its links, the switch's
datapath, the metadata agent's namespaces) go through `sudo -n`: a sudo
that would ask a password fails at once instead of hanging a pane, and the
user's sudo rules say what is allowed, as DevStack's do. What such a command
starts drops back to the user where it can (ovs-vswitchd's --user, setpriv),
so the stack's files and processes stay the user's: its own supervisor can
stop them and `clean` can remove them.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil


def is_root() -> bool:
    return os.geteuid() == 0


def as_root(argv, env: dict | None = None) -> list:
    """argv run as root. sudo resets the environment, so what the command
    needs from it is passed through `env`."""
    if is_root():
        return list(argv)
    pre = ["sudo", "-n"]
    if env:
        pre += ["env", *(f"{k}={v}" for k, v in env.items())]
    return [*pre, *argv]


def user_group() -> tuple[str, str]:
    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def as_me() -> list[str]:
    """Prefix for a command root runs on this user's behalf: back to the
    user (with the user's groups) before it execs."""
    if is_root():
        return []
    return [shutil.which("setpriv") or "setpriv", f"--reuid={os.getuid()}",
            f"--regid={os.getgid()}", "--init-groups", "--"]
