"""Where DEST goes when the answers do not say, and why.

DevStack's users know /opt/stack, made by root and owned by the `stack`
user (create-stack-user.sh). So: /opt/stack when it is already this user's
(or root's to make), else made at install with sudo and handed to the user,
else, for a user without sudo or when another user's stack holds /opt/stack,
the per-user folder under XDG_DATA_HOME.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

OPT = Path("/opt/stack")
# Whether this process can ask a sudo password: None, when it has a
# terminal (`stacktui install` asks there); the wizard asks in a masked field
# (screens/sudo.py) and sets True.
CAN_ASK: bool | None = None


def xdg_dest() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "stacktui" / "stack"


def _existing_parent(p: Path) -> Path:
    while not p.exists():
        p = p.parent
    return p


@functools.lru_cache(maxsize=1)
def sudo_kind() -> str:
    """"nopasswd", "password" (sudo asks one) or "none". Asked only when
    /opt/stack would need it, since a refused sudo is logged (and mailed)."""
    try:
        r = subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "none"
    if r.returncode == 0:
        return "nopasswd"
    return "password" if "password is required" in r.stderr else "none"


# Folders `stacktui clean` (which removes DEST) must never be given: the
# machine's own, and their parents.
SYSTEM = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media",
                    "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp",
                    "/usr", "/usr/local", "/var", "/var/lib", "/var/tmp"})


def problem(dest: str | Path) -> tuple[str, str] | None:
    """What makes ``dest`` unfit for a stack, as (message, fix), or None.
    Only what can be seen without sudo: a DEST to be made with sudo is the
    host check's business (check_dest)."""
    p = Path(os.path.abspath(os.path.expanduser(str(dest))))
    real = Path(os.path.realpath(p))
    home = Path(os.path.realpath(Path.home()))
    example = f"e.g. {OPT} or {home / 'stack'}"
    if real == home:
        return (f"{p} is your home folder, and `stacktui clean` removes DEST",
                f"a folder of its own inside it, e.g. {home / 'stack'}")
    if str(real) in SYSTEM:
        what = "the root folder" if str(real) == "/" else "a system folder"
        return f"{p} is {what}, and `stacktui clean` removes DEST", f"a folder of its own, {example}"
    if real.exists() and not real.is_dir():
        return f"{p} exists and is not a folder", f"another path, {example}"
    if real.is_dir():
        try:
            uid = real.stat().st_uid
        except OSError as e:
            return f"cannot look at {p}: {e.strerror}", f"another path, {example}"
        if uid != os.geteuid():
            return (f"{p} belongs to {_owner(real)}, not to you",
                    f"run stacktui as {_owner(real)}, or choose a folder of your own, "
                    f"e.g. {xdg_dest()}")
        if not os.access(real, os.W_OK | os.X_OK):
            return f"{p} is yours but not writable", f"chmod u+rwx {p}, or another path"
    return None


def choose(opt: Path = OPT) -> tuple[Path, str]:
    """(DEST, why) for a stack whose answers name none."""
    if opt.exists():
        if os.access(opt, os.W_OK | os.X_OK) and problem(opt) is None:
            return opt, f"{opt} exists and is writable"
        return xdg_dest(), f"{opt} belongs to another user ({_owner(opt)})"
    parent = _existing_parent(opt)
    if os.access(parent, os.W_OK | os.X_OK):
        return opt, f"{opt} does not exist; {parent} is writable"
    kind = sudo_kind()
    if kind == "nopasswd":
        return opt, f"{opt} does not exist: install makes it with sudo and gives it to you"
    can_ask = sys.stdin.isatty() if CAN_ASK is None else CAN_ASK
    if kind == "password" and can_ask:
        return opt, (f"{opt} does not exist: install makes it with sudo (asking its password "
                     "once) and gives it to you")
    why = "you have no sudo"
    if kind == "password":
        why = ("sudo wants a password and there is no terminal to ask it on" if CAN_ASK is None
               else "sudo wants a password and nothing here can ask it")
    return xdg_dest(), f"{opt} does not exist and {why}"


def _owner(p: Path) -> str:
    import pwd
    try:
        return pwd.getpwuid(p.stat().st_uid).pw_name
    except (KeyError, OSError):
        return "?"


def needs_sudo(dest: Path) -> bool:
    """DEST is missing and its first existing parent is not ours to write."""
    dest = Path(dest)
    return not dest.exists() and not os.access(_existing_parent(dest), os.W_OK | os.X_OK)


def make_with_sudo(dest: Path, password: str | None = None) -> None:
    """`sudo install -d` the folder, owned by this user and group, 0755
    (services running as their own users must walk into it). sudo runs in a
    PTY and its prompt gets the password the user typed once; the engine's
    runner cannot do it, its log lives in the DEST being made."""
    import pexpect

    from .apt import SUDO_PROMPT
    from .errors import StackError
    argv = ["install", "-d", "-m", "0755", "-o", str(os.getuid()), "-g", str(os.getgid()),
            str(dest)]
    child = pexpect.spawn("sudo", (["-n"] if password is None else []) + argv,
                          encoding="utf-8", codec_errors="replace", timeout=60, echo=False)
    try:
        if child.expect([SUDO_PROMPT, pexpect.EOF]) == 0:
            child.sendline(password or "")
            # A wrong password is asked again: give up instead of answering twice.
            if child.expect([SUDO_PROMPT, pexpect.EOF]) == 0:
                child.terminate(force=True)
                raise StackError(f"sudo refused the password; make {dest} yourself: "
                                 f"sudo install -d -o $USER {dest}")
        out = (child.before or "").strip()
    except pexpect.TIMEOUT:
        child.terminate(force=True)
        raise StackError(f"sudo did not answer within 60 s while making {dest}") from None
    child.close()
    if child.exitstatus != 0 or not dest.is_dir():
        raise StackError(f"could not make {dest} with sudo: {out[-300:]} "
                         f"(make it yourself: sudo install -d -o $USER {dest}, or pass --dest)")
