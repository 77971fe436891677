"""Distro packages through dnf, for the RHEL family (RHEL, Rocky, Alma,
CentOS Stream, Fedora).

Phase modules name their packages as Debian does; ``rhel_names`` says what
they are called here. Several of them (RabbitMQ, Open vSwitch, OVN) come from
the RDO repositories rather than the distro's own, as they do for DevStack:
when dnf cannot find them, the error says which repositories to enable.
"""

from __future__ import annotations

import subprocess
import time

from .apt import _prompts, _sudo, failure
from .errors import StackError

# Debian name -> RHEL-family name(s); an empty tuple: nothing needed there.
RHEL = {
    "mariadb-server": ("mariadb-server",),
    "mariadb-client": ("mariadb",),
    "rabbitmq-server": ("rabbitmq-server",),
    "memcached": ("memcached",),
    "openvswitch-switch": ("openvswitch",),
    "ovn-central": ("ovn-central",),
    "ovn-host": ("ovn-host",),
    "libvirt-daemon": ("libvirt-daemon",),
    "libvirt-daemon-driver-qemu": ("libvirt-daemon-driver-qemu",),
    "libvirt-clients": ("libvirt-client",),
    "qemu-system-x86": ("qemu-kvm",),
    "qemu-utils": ("qemu-img",),
    "genisoimage": ("xorriso",),
    "iputils-ping": ("iputils",),        # its mkisofs; nova.conf's mkisofs_cmd says so
    "tini": ("tini",),
    "pkg-config": ("pkgconf-pkg-config",),
    "gcc": ("gcc",),
    "media-types": ("mailcap",),        # /etc/mime.types
    "lvm2": ("lvm2",),
    "thin-provisioning-tools": ("device-mapper-persistent-data",),
    "git": ("git",),
    "tmux": ("tmux",),
    "ethtool": ("ethtool",),
    "haproxy": ("haproxy",),
    "iptables": ("iptables-nft",),
    "etcd-server": ("etcd",),
    "etcd-client": ("etcd",),          # RHEL's etcd package carries etcdctl
    "dstat": ("pcp-system-tools",),     # RHEL's dstat is pcp's reimplementation
    "novnc": ("novnc",),
    "websockify": ("python3-websockify",),
    "rsync": ("rsync",),                # the daemon runs from the rsync binary; no unit needed
}

# Where the packages the distro lacks come from (what DevStack enables too).
REPOS_HINT = ("RabbitMQ, Open vSwitch and OVN come from RDO: `dnf install -y "
              "centos-release-openstack-<release>` (CentOS Stream, Rocky, Alma) or the "
              "rdo-release package, plus `dnf config-manager --set-enabled crb` and EPEL")

LOCK_RETRIES = 30
LOCK_WAIT = 10


def rhel_names(pkgs) -> list[str]:
    """The RHEL-family names of Debian package names; a -dev package is the
    -devel one there (libvirt-dev, python3.11-dev)."""
    out: list[str] = []
    for p in pkgs:
        if p in RHEL:
            names = RHEL[p]
        elif p.endswith("-dev"):
            names = (p[:-4] + "-devel",)
        else:
            raise StackError(f"no RHEL-family name known for the package {p}: add it to "
                             "stacktui/dnf.py RHEL")
        out += [n for n in names if n not in out]
    return out


def installed(pkg: str, rpm_options: tuple[str, ...] = ()) -> bool:
    r = subprocess.run(["rpm", *rpm_options, "-q", "--whatprovides", pkg], capture_output=True)
    return r.returncode == 0


def missing(pkgs, rpm_options: tuple[str, ...] = ()) -> list[str]:
    return [p for p in rhel_names(pkgs) if not installed(p, rpm_options)]


def install(ctx, pkgs: list[str], options: tuple[str, ...] = ()) -> None:
    """``pkgs`` by their RHEL names (``missing`` gives them so). ``options``
    go to dnf before the command (an --installroot, other repositories)."""
    for attempt in range(LOCK_RETRIES):
        # Weak dependencies stay out, as --no-install-recommends does for apt.
        status, tail = ctx.run(_sudo(ctx) + ["dnf", "-y", "-q", "--setopt=install_weak_deps=False",
                                             *options, "install", *pkgs],
                               check=False, timeout=1800, prompts=_prompts(ctx))
        if status == 0:
            return
        text = "\n".join(tail)
        if "Waiting for process with pid" in text or ("lock" in text.lower() and "held" in text):
            ctx.say(f"dnf is busy (another package manager holds its lock); retrying in "
                    f"{LOCK_WAIT} s ({attempt + 1}/{LOCK_RETRIES})")
            time.sleep(LOCK_WAIT)
            continue
        if "No match for argument" in text or "Unable to find a match" in text:
            absent: list[str] = []
            for line in tail:
                if "No match for argument" in line or "Unable to find a match" in line:
                    absent += [n for n in line.split(":", 1)[1].split() if n not in absent]
            raise StackError(f"dnf finds no package {', '.join(absent) or ' '.join(pkgs)}: "
                             f"{REPOS_HINT}; then rerun")
        raise failure(f"dnf install -y {' '.join(pkgs)}", status, tail)
    raise StackError("dnf's lock stayed busy for 5 minutes; wait for the other package "
                     "manager to finish and rerun")
