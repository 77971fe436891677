"""Bind DEST folders over fixed system paths inside a private mount
namespace, without ever making a mount point on the host.

A daemon with compiled-in paths (libvirtd: /var/lib/libvirt, /run/libvirt
...) is given DEST's folders by bind mounts in a namespace of its own. A bind
needs its mount point to exist. Making a missing one with mkdir writes it to
the host's filesystem, where it is shared by every stack: the first stack to
start made /var/lib/libvirt, its `clean` removed it, and the kernel (since
3.18) lets rmdir take a folder that is a mount point in another namespace and
detaches that mount there. Another stack's libvirtd then wrote its qemu state
and guest logs straight into the host's /var/lib/libvirt and /var/log/libvirt.

So a missing mount point is made on a tmpfs private to the namespace: the
nearest folder that exists (/var/lib) is covered by a tmpfs that holds, for
each of its entries, a recursive bind of the original (a symlink is copied),
so the daemon sees the folder as it was plus the new mount point, and the
host sees nothing. A mount point that exists on the host is bound over
directly, as before.

Run inside the namespace (after `unshare --mount --propagation private`):

    python -m stacktui.nsbind SRC TARGET [SRC TARGET ...] -- COMMAND ...
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys

MS_BIND, MS_REC = 4096, 16384


class NsBindError(Exception):
    pass


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    return libc


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    libc = _libc()
    rc = libc.mount(None if src is None else os.fsencode(src), os.fsencode(target),
                    None if fstype is None else fstype.encode(), flags,
                    None if data is None else data.encode())
    if rc != 0:
        err = ctypes.get_errno()
        raise NsBindError(f"mount {src or fstype} on {target}: {os.strerror(err)}")


def cover(folder: str) -> None:
    """Put a tmpfs over ``folder`` that shows what it held (each entry bound
    back from the original, through a descriptor opened before the cover),
    so entries can be added to it without writing to what is underneath."""
    st = os.stat(folder)
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    try:
        names = os.listdir(f"/proc/self/fd/{fd}")
        _mount("stacktui-ns", folder, "tmpfs", 0,
               f"mode={stat.S_IMODE(st.st_mode):o},uid={st.st_uid},gid={st.st_gid}")
        for name in names:
            orig, here = f"/proc/self/fd/{fd}/{name}", os.path.join(folder, name)
            try:
                est = os.lstat(orig)
            except FileNotFoundError:
                continue        # gone since the listing
            if stat.S_ISLNK(est.st_mode):
                os.symlink(os.readlink(orig), here)
                continue
            if stat.S_ISDIR(est.st_mode):
                os.mkdir(here, stat.S_IMODE(est.st_mode))
            else:
                # Files, sockets, fifos, devices: any of them binds onto a file.
                os.close(os.open(here, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            _mount(orig, here, None, MS_BIND | MS_REC, None)
    finally:
        os.close(fd)


class Binder:
    """Makes the mount points, remembering which folders are already on a
    tmpfs of ours (there a mkdir writes nothing to the host)."""

    def __init__(self) -> None:
        self.ours: set[str] = set()
        self.covered: list[str] = []

    def mount_point(self, target: str, is_dir: bool) -> None:
        target = os.path.abspath(target)
        if os.path.lexists(target):
            return
        missing = [target]
        parent = os.path.dirname(target)
        while not os.path.lexists(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        parent = os.path.realpath(parent)
        if parent not in self.ours:
            if parent == "/":
                raise NsBindError(f"{target}: nothing between it and / exists; refusing to cover /")
            cover(parent)
            self.covered.append(parent)
            self.ours.add(parent)
        for path in reversed(missing[1:]):
            os.mkdir(path, 0o755)
            self.ours.add(path)
        if is_dir:
            os.mkdir(target, 0o755)
            self.ours.add(target)
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    def bind(self, src: str, target: str) -> None:
        if not os.path.exists(src):
            raise NsBindError(f"{src} is missing (it is bound over {target})")
        self.mount_point(target, os.path.isdir(src))
        _mount(src, target, None, MS_BIND, None)


def parse(argv: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    if "--" not in argv:
        raise NsBindError("usage: python -m stacktui.nsbind SRC TARGET ... -- COMMAND ...")
    cut = argv.index("--")
    pairs, command = argv[:cut], argv[cut + 1:]
    if len(pairs) % 2 or not command:
        raise NsBindError("give SRC TARGET pairs, then -- and the command")
    return list(zip(pairs[::2], pairs[1::2])), command


def main(argv: list[str] | None = None) -> int:
    try:
        pairs, command = parse(sys.argv[1:] if argv is None else argv)
        binder = Binder()
        for src, target in pairs:
            binder.bind(src, target)
    except (NsBindError, OSError) as e:
        print(f"nsbind: {e}", file=sys.stderr)
        return 1
    os.execvp(command[0], command)
    return 127      # not reached


if __name__ == "__main__":
    sys.exit(main())


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n") \
        .replace("\\134", "\\")


def mount_points_anywhere() -> set[str]:
    """Every mount point of every mount namespace on the machine (one
    mountinfo read per namespace): a folder in this set must not be removed,
    since rmdir would detach a bind some daemon is using."""
    seen_ns: set[str] = set()
    out: set[str] = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            ns = os.readlink(f"/proc/{pid}/ns/mnt")
            if ns in seen_ns:
                continue
            with open(f"/proc/{pid}/mountinfo") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        seen_ns.add(ns)
        for line in lines:
            fields = line.split(" ")
            if len(fields) > 4:
                out.add(_unescape(fields[4]))
    return out
