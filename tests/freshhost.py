"""Make the test session see a fresh host: OpenStack's system folders, where
this machine has them, hidden under empty read-only mounts in a private
mount namespace.

A green suite once proved nothing because keystone read a folder an earlier
experiment had left in /etc: the tests passed here and the first install
failed on every fresh machine. Every process the tests start (installs,
supervisors, services) inherits this namespace, so no leftover on the
machine that runs the tests can make a test pass, and a service that reaches
for such a folder fails here as it would there. The host itself is not
changed: the mounts vanish with the session's last process.

Where a folder does not exist it is not created (that would itself be a
leftover); tests/test_fresh_host.py checks that an install writes nothing
outside DEST, so nothing can appear there unnoticed either.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

# The projects stacktui configures (and the ones plugins add), by the names
# oslo.config searches for: /etc/P/, /etc/P.conf, ~/.P/, ~/P.conf
# (oslo_config.cfg.find_config_files), plus their state and log folders.
PROJECTS = ("keystone", "glance", "placement", "nova", "neutron", "cinder", "swift", "horizon",
            "tempest", "barbican", "octavia", "heat", "ovn-octavia-provider")
OTHER = ("/etc/openstack",             # os-client-config's system clouds.yaml
         "/etc/openstack-dashboard",   # horizon's Debian settings
         "/etc/ceilometer", "/etc/os-brick",
         "/opt/stack",                 # DevStack's DEST: a default DEST must not find one
         "/usr/local/etc/openstack")


def candidates(home: Path | None = None) -> list[Path]:
    home = home or Path.home()
    out: list[Path] = []
    for p in PROJECTS:
        # oslo.config also reads P.conf.d folders beside each of those files,
        # even when a service is given --config-file.
        out += [Path("/etc") / p, Path("/etc") / f"{p}.conf", Path("/etc") / f"{p}.conf.d",
                Path("/var/lib") / p, Path("/var/log") / p, Path("/var/cache") / p,
                Path("/var/lock") / p, home / f".{p}", home / f"{p}.conf", home / f"{p}.conf.d"]
    out += [Path(p) for p in OTHER]
    return out


CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_BIND, MS_REC, MS_PRIVATE = 1, 4096, 16384, 1 << 18


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    return libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mask(paths: list[Path] | None = None) -> list[str]:
    """Enter a private mount namespace and hide each existing path. Returns
    the paths hidden. Needs root (CAP_SYS_ADMIN) and a single-threaded
    process: call it before anything starts a thread."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Private, so nothing mounted here reaches the host's namespace.
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    hidden = []
    for path in paths if paths is not None else candidates():
        if not os.path.lexists(path):
            continue
        target = os.fsencode(path)
        if path.is_dir() and not path.is_symlink():
            _check(libc.mount(b"tmpfs", target, b"tmpfs", MS_RDONLY, b"mode=0755,size=4k"),
                   f"mount tmpfs on {path}")
        else:
            # A file (or a link to one): read as empty, written not at all.
            _check(libc.mount(b"/dev/null", target, None, MS_BIND, None), f"bind /dev/null on {path}")
            libc.mount(None, target, None, MS_BIND | MS_RDONLY | 32, None)  # 32: MS_REMOUNT
        hidden.append(str(path))
    return hidden
