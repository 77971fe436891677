"""The sudoers drop-in an ordinary user's stack needs when sudo asks a
password: the few commands the stack runs as root at every start (`up`
after a reboot, a pane's restart), with no one there to type it.

DevStack's stack.sh writes /etc/sudoers.d/50_stack_sh, `$STACK_USER
ALL=(root) NOPASSWD:ALL`, plus a rootwrap rule per project. This one names
only the commands this stack's run time asks `sudo -n` for, by absolute
path, for this user, and the exact `rm` that lets `clean` remove the file
without the password. It is not a security boundary: `env`, `nsenter` and
`unshare` run any command they are given, and the venv's privsep-helper is
the user's to change, so whoever can run as the user can become root, as
with DevStack's rule. What it buys is that nothing else runs as root
without a password, and that the file says what each line is for.

The password is asked once (the install's); the file is written through
sudo in a PTY, checked by `visudo -cf` under a name sudo ignores (a dot in
it), then renamed into place: root's, 0440. A copy stays in DEST, so that
`check`, a later install and `clean` know it is there (a user cannot list
/etc/sudoers.d).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
from pathlib import Path

from .errors import StackError

SUDOERS_D = Path("/etc/sudoers.d")
# sudo's own secure_path (Debian's, Ubuntu's and RHEL's differ only in
# /snap/bin): where `sudo -n ip` finds ip.
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def wanted(answers) -> bool:
    """Whether this stack runs anything as root after install (the OVN
    switch and agent: stacktui/privileged.py; cinder's volume attach)."""
    return bool({"ovs-vswitchd", "q-ovn-agent", "c-vol", "c-bak"} & set(answers.services))


def name(dest: Path) -> str:
    """Per user and DEST; no dot, or sudo's includedir would skip it. Read
    last: sudo applies the last rule that matches, and the user's own
    `ALL` rule (cloud-init's 90-cloud-init-users, an admin's file named
    after the user) would otherwise ask the password again."""
    user = re.sub(r"[^A-Za-z0-9_-]", "_", pwd.getpwuid(os.getuid()).pw_name)
    ident = hashlib.sha256(str(Path(dest).resolve()).encode()).hexdigest()[:8]
    return f"zz_stacktui_{user}_{ident}"


def path(dest: Path) -> Path:
    return SUDOERS_D / name(dest)


def copy_in_dest(layout) -> Path:
    return layout.etc / "stacktui" / "sudoers"


def _exe(cmd: str) -> str:
    found = shutil.which(cmd, path=SECURE_PATH)
    if not found:
        raise StackError(f"{cmd} not found on sudo's path ({SECURE_PATH}); install it")
    return found


def commands(answers, layout) -> list[tuple[str, str]]:
    """(command, why) for what the stack's run time asks `sudo -n` for."""
    from stacktui.phases import ovn
    services = set(answers.services)
    out: dict[str, str] = {}
    if ovn.uses_netns(answers):
        why = "the stack's network namespace, its links and routes (stacktui/netns.py)"
        for cmd in ("ip", "nsenter", "unshare", "sysctl", "ethtool", "umount"):
            out.setdefault(_exe(cmd), why)
    if "ovs-vswitchd" in services:
        out.setdefault(_exe("env"), "starts the switch with its environment; it then runs as you")
        out.setdefault(_exe("nsenter"), "the switch in the stack's namespace")
    if "q-ovn-agent" in services:
        out.setdefault(_exe("env"), "starts the OVN agent's namespaces with its environment")
        out.setdefault(_exe("unshare"), "the OVN agent's private /run and pid namespace")
        out.setdefault(_exe("ip"), "the agent's metadata namespaces and their haproxy")
        out.setdefault(_exe("kill"), "the agent stops its haproxy")
        out.setdefault(str(layout.bin / "privsep-helper"),
                       "the agent's privileged helper (the venv's: yours to change)")
    if {"c-vol", "c-bak"} & services:
        # The file-backed driver's losetup goes through rootwrap's filters
        # (stacktui/shims/cinder_fake_driver.py); os-brick's helper runs in a
        # mount namespace of its own (svckit.osbrick_helper).
        out.setdefault(str(layout.bin / "cinder-rootwrap"),
                       "cinder attaches a volume's file as a loop device (the venv's: yours)")
        out.setdefault(str(layout.bin / "privsep-helper"),
                       "cinder's and os-brick's privileged helpers (the venv's: yours to change)")
        out.setdefault(_exe("unshare"), "os-brick's helper in a mount namespace of its own")
    return sorted(out.items())


# In a command's arguments sudoers wants these escaped; a path with
# whitespace cannot be written at all.
def _arg(s: str) -> str:
    if re.search(r"\s", s):
        raise StackError(f"{s!r} has whitespace, which a sudoers rule cannot name; use a DEST "
                         "without spaces")
    return re.sub(r"([\\,:=])", r"\\\1", s)


def text(answers, layout) -> str:
    user = pwd.getpwuid(os.getuid()).pw_name
    who = user if re.fullmatch(r"[a-z_][a-z0-9_-]*", user) else f"#{os.getuid()}"
    cmds = commands(answers, layout)
    target = path(layout.dest)
    lines = [f"# Written by stacktui for {user}'s stack in {layout.dest}; `stacktui clean` "
             "removes it.",
             "# What the stack runs as root at every start, with no one there to type a password.",
             "# Whoever can run as this user can become root through these (env, nsenter and",
             "# unshare run any command; the venv is the user's), as with DevStack's 50_stack_sh.",
             *(f"#   {c}: {why}" for c, why in cmds),
             f"{who} ALL=(root) NOPASSWD: " + ", ".join(
                 [_arg(c) for c, _ in cmds] + [f"{_exe('rm')} -f {_arg(str(target))}"])]
    return "\n".join(lines) + "\n"


def in_place(layout, answers=None) -> bool:
    """Written by an earlier install (and, given answers, for this stack's
    commands as they are now)."""
    p = copy_in_dest(layout)
    if not p.is_file():
        return False
    return answers is None or p.read_text() == text(answers, layout)


def install(answers, layout, password: str | None) -> Path:
    """Write the drop-in with sudo (the password typed once), checked by
    visudo before sudo reads it."""
    from . import sudopass
    from .fsutil import atomic_write
    body = text(answers, layout)
    final = path(layout.dest)
    # A dot in the name: sudo's includedir skips the file while it is checked.
    pending = SUDOERS_D / f".{final.name}.new"
    src = copy_in_dest(layout).with_suffix(".new")
    atomic_write(src, body, mode=0o644)
    try:
        steps = [["install", "-m", "0440", "-o", "root", "-g", "root", str(src), str(pending)],
                 [_exe("visudo"), "-cqf", str(pending)],
                 ["mv", "-f", str(pending), str(final)]]
        for argv in steps:
            status, out = sudopass.run_as_root(argv, password)
            if status != 0:
                sudopass.run_as_root(["rm", "-f", str(pending)], password)
                raise StackError(f"could not write {final}: `{' '.join(argv)}` said: "
                                 f"{out.strip()[-300:]}")
    finally:
        src.unlink(missing_ok=True)
    atomic_write(copy_in_dest(layout), body, mode=0o644)
    # A rule read after this one (sudoers' last match wins) may still ask:
    # said now, not at the first start.
    status, out = sudopass.run_as_root([_exe("env"), "true"], None)
    if status != 0:
        raise StackError(f"wrote {final}, but sudo still asks a password for its commands "
                         f"({out.strip()[-200:]}): a rule read after it (`sudo -l` lists them) "
                         "matches them; make that rule NOPASSWD, or remove it")
    return final


def remove(layout) -> str | None:
    """What `clean` says about the drop-in: removed, or how to remove it.
    Through the rule's own `rm` line, so no password is needed."""
    import subprocess
    if not copy_in_dest(layout).is_file():
        return None
    target = path(layout.dest)
    argv = ["rm", "-f", str(target)]
    r = subprocess.run(argv if os.geteuid() == 0 else ["sudo", "-n", _exe("rm"), "-f", str(target)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return f"could not remove {target} ({r.stderr.strip()}): sudo rm -f {target}"
    copy_in_dest(layout).unlink(missing_ok=True)
    return f"removed {target}"
