"""rsync for swift's replicators (`s-rsync`): brought along by the storage
servers, never chosen by hand.

Swift's object, container and account replicators push partitions and
databases to other devices with rsync, to a module per server
(`object6613` ...). DevStack writes /etc/rsyncd.conf from its
files/swift/rsyncd.conf and starts the distro's rsync daemon as root on
port 873. Here the same modules live in DEST/etc/swift/rsyncd.conf and
Debian's rsync runs in a pane as the stack's user, on the loopback address
and the catalog's port for `s-rsync` (an ordinary user cannot bind 873),
without chroot (that needs root) and logging to the pane; the
replicators' ``rsync_module`` names that port (phases/swift.py).
"""

from __future__ import annotations

import grp
import os
import pwd

from stacktui import svckit
from stacktui.fsutil import atomic_write, make_dirs
from stacktui.service import ServiceSpec, pane_spec

SERVICE = "s-rsync"
SERVICES = (SERVICE,)
PACKAGES = ("rsync",)
STORAGE = {"s-object": "object", "s-container": "container", "s-account": "account"}


def conf_path(layout):
    return layout.etc / "swift" / "rsyncd.conf"


def run_dir(layout):
    return layout.data / "swift" / "run"


def module_name(answers, svc: str) -> str:
    """DevStack's module names: the kind and the server's port."""
    return f"{STORAGE[svc]}{answers.port(svc)}"


def rsync_module(answers, svc: str) -> str:
    """swift's ``rsync_module`` for a replicator: an rsync URL, since the
    daemon is not on rsync's default port; swift fills in the node's
    replication address and port (brackets an IPv6 one)."""
    return (f"rsync://{{replication_ip}}:{answers.port(SERVICE)}/"
            f"{STORAGE[svc]}{{replication_port}}")


def render(answers, layout) -> str:
    from stacktui.phases import swift
    user = pwd.getpwuid(os.geteuid())
    lines = ["# Written by stacktui (phases/swift_rsync.py): swift's replication modules.",
             # Set to the stack's user: as root rsync would otherwise switch to nobody,
             # who cannot write the device folders.
             f"uid = {user.pw_name}", f"gid = {grp.getgrgid(user.pw_gid).gr_name}",
             "use chroot = false",
             f"address = {answers.bind_host}", f"port = {answers.port(SERVICE)}",
             f"pid file = {run_dir(layout) / 'rsyncd.pid'}", ""]
    for svc in STORAGE:
        if svc in answers.services:
            name = module_name(answers, svc)
            lines += [f"[{name}]", "max connections = 25", f"path = {swift.devices(layout)}/",
                      "read only = false", f"lock file = {run_dir(layout) / (name + '.lock')}", ""]
    return "\n".join(lines)


def configure(ctx):
    make_dirs(conf_path(ctx.layout).parent, mode=0o750)
    make_dirs(run_dir(ctx.layout), mode=0o750)
    atomic_write(conf_path(ctx.layout), render(ctx.answers, ctx.layout), mode=0o640)


def panes(ctx) -> list[dict]:
    a = ctx.answers
    # --no-detach keeps it in the pane; the log to the pane's output, not syslog.
    argv = [svckit.distro_program("rsync", "Debian's rsync"), "--daemon", "--no-detach", f"--config={conf_path(ctx.layout)}",
            "--log-file=/dev/stdout"]
    # No ready probe: the supervisor re-probes a ready address every 30 s,
    # and rsync logs each bare connect-and-close as a protocol error. rsync
    # binds at once or exits, which the pane shows.
    return [pane_spec(ctx, SERVICE, argv, port=a.port(SERVICE), stop_timeout=5)]


def inputs(answers, phase):
    return {"port": answers.port(SERVICE), "host_ip": answers.host_ip,
            "modules": sorted(module_name(answers, s) for s in STORAGE if s in answers.services)}


def cleanup(ctx):
    conf_path(ctx.layout).unlink(missing_ok=True)


def adjust_services(names: list[str], answers: dict) -> list[str]:
    """Any storage server brings rsync for its replicator; none, none."""
    names = [n for n in names if n != SERVICE]
    if any(s in names for s in STORAGE):
        names.append(SERVICE)
    return names


SPEC = ServiceSpec(
    "swift_rsync", SERVICES, configure=configure, panes=panes, inputs=inputs, cleanup=cleanup,
    packages=PACKAGES, hidden=True, adjust_services=adjust_services,
    kolla_notes={SERVICE: "Kolla-Ansible no longer deploys Swift (its role was removed in "
                          "2025.1); use Ceph RGW (enable_ceph_rgw)"})
