"""libvirt for nova-compute (`virtlogd`, `libvirtd`): DevStack's
lib/nova_plugins/functions-libvirt (install, configure, start, stop,
cleanup), as panes instead of systemd units.

A root libvirtd reads and writes fixed places: /etc/libvirt (qemu.conf has
no path option for a privileged daemon), /run/libvirt, /var/lib/libvirt,
/var/cache/libvirt, /var/log/libvirt. Each pane therefore runs its daemon in
a mount namespace of its own where DEST's folders are bound over those
(DEST/etc/libvirt, DEST/run/libvirt, DEST/data/libvirt/{lib,cache},
DEST/logs/libvirt): a system libvirt, or another stack, is never read or
touched, and clients reach this one through DEST/run/libvirt/libvirt-sock
(`connection_uri`, `virsh -c`, see uri()). Debian's build also looks up its
compiled-in qemu user (libvirt-qemu) before reading qemu.conf; that user
exists only with libvirt-daemon-system, so the namespace sees a copy of
/etc/passwd and /etc/group that has it, and no system user is created.

libvirtd also runs in a pid namespace under tini as its init: qemu
processes daemonize out of the pane's session, and when the pane stops,
however it stops, the kernel ends every process of that namespace. So
`unstack` (and a libvirtd restart) powers the guests off, as a host
shutdown would, and never leaves a qemu behind; nova's power-state sync
then shows those servers SHUTOFF.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

from stacktui.errors import StackError
from stacktui.fsutil import atomic_write, make_dirs
from stacktui.nsbind import mount_points_anywhere
from stacktui.service import ServiceSpec, default_inputs, pane_spec

SERVICES = ("virtlogd", "libvirtd")
# libvirt-dev, pkg-config and gcc build libvirt-python (an sdist only) in the
# install step, which runs after this list is installed.


def _python_headers() -> tuple[str, ...]:
    # The venv's Python is the one running stacktui: Debian's own python3
    # keeps Python.h in python3-dev; a pyenv or uv Python ships its headers.
    return () if Path(sysconfig.get_paths()["include"], "Python.h").exists() else ("python3-dev",)


# genisoimage: nova writes a guest's config drive with it (DevStack's
# files/debs/n-cpu); tempest's basic-ops scenario asks for one.
PACKAGES = ("libvirt-daemon", "libvirt-daemon-driver-qemu", "libvirt-clients", "qemu-system-x86",
            "qemu-utils", "genisoimage", "tini", "libvirt-dev", "pkg-config",
            "gcc") + _python_headers()
# Up before anything else starts: nova-compute must find the socket.
START_EARLY = True
READY_TIMEOUT = 60
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Debian's compiled-in qemu user and group (see the module docstring).
QEMU_USER = "libvirt-qemu"
QEMU_GROUPS = ("libvirt-qemu", "kvm")

def binds(layout, answers=None) -> dict[str, Path]:
    """Each place libvirt uses, as seen inside the namespace -> where it is under DEST."""
    lv = layout.data / "libvirt"
    extra = {}
    if answers is not None and _shares_switch(answers):
        # libvirt plugs a guest's tap into br-int with ovs-vsctl, which finds
        # the switch's database at its compiled-in place.
        from stacktui.phases import ovn
        extra["/run/openvswitch"] = ovn.ovs_run(layout)
    return {
        **extra,
        "/etc/libvirt": layout.etc / "libvirt",
        "/run/libvirt": run_dir(layout),
        "/var/lib/libvirt": lv / "lib",
        "/var/cache/libvirt": lv / "cache",
        "/var/log/libvirt": layout.logs / "libvirt",
        "/etc/passwd": lv / "passwd",
        "/etc/group": lv / "group",
    }


def _shares_switch(answers) -> bool:
    from stacktui.phases import ovn
    return ovn.uses_netns(answers)


def run_dir(layout) -> Path:
    return layout.run / "libvirt"


def socket_path(layout) -> Path:
    return run_dir(layout) / "libvirt-sock"


def uri(layout) -> str:
    """This stack's libvirtd, for nova and for `virsh -c`."""
    return f"qemu:///system?socket={socket_path(layout)}"


def made_dirs_file(layout) -> Path:
    # Mount points the panes of older stacktui versions made on the host:
    # clean removes them when empty and no namespace mounts anything there.
    return layout.data / "libvirt" / "made-mountpoints"


# ------------------------------------------------------------ configure

LIBVIRTD_CONF = """\
# Written by stacktui: libvirtd for nova-compute, reached only through the
# unix socket under DEST (no TCP/TLS listener is started without --listen).
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
# Warnings and errors go to the pane. Expected once at start on a host
# without dbus, dnsmasq or /dev/mem: the network driver and host-info probes
# complain and libvirtd goes on.
log_outputs = "3:stderr"
"""

VIRTLOGD_CONF = """\
# Written by stacktui: keeps guest consoles (nova's console.log) and qemu logs.
log_outputs = "3:stderr"
"""

QEMU_CONF = """\
# Written by stacktui. Guests run as root, as the daemon does here (DevStack
# sets its stack user); with no confinement driver loaded there is nothing
# to label.
user = "root"
group = "root"
security_driver = "none"
# Ownership is not remembered in xattrs, which some DEST filesystems refuse.
remember_owner = 0
# Without systemd, libvirt makes its own "machine" cgroup under every mounted
# controller of the host (seen here: /sys/fs/cgroup/*/machine), state outside
# DEST that nothing would remove; guests stay in libvirtd's cgroup instead.
cgroup_controllers = [ ]
# Console output through virtlogd (nova reads console.log).
stdio_handler = "logd"
"""


def _host_db(path: str, extra: list[str]) -> str:
    text = Path(path).read_text()
    names = {line.split(":", 1)[0] for line in text.splitlines() if line}
    add = [e for e in extra if e.split(":", 1)[0] not in names]
    return text + ("" if text.endswith("\n") else "\n") + "".join(a + "\n" for a in add)


def configure(ctx):
    from stacktui import virt
    blocker = virt.libvirt_blocker()
    if blocker:
        raise StackError(f"libvirt cannot run here: {blocker}; set `virt_driver: fake` "
                         "(or auto) in the answers")
    L = ctx.layout
    before_up(ctx.answers, L)
    for d in set(binds(L).values()) - {binds(L)["/etc/passwd"], binds(L)["/etc/group"]}:
        make_dirs(d, mode=0o700)
    etc = L.etc / "libvirt"
    atomic_write(etc / "libvirtd.conf", LIBVIRTD_CONF, mode=0o600)
    atomic_write(etc / "virtlogd.conf", VIRTLOGD_CONF, mode=0o600)
    atomic_write(etc / "qemu.conf", QEMU_CONF, mode=0o600)
    b = binds(L)
    atomic_write(b["/etc/passwd"], _host_db(
        "/etc/passwd", [f"{QEMU_USER}:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin"]))
    atomic_write(b["/etc/group"], _host_db(
        "/etc/group", [f"{g}:x:{64055 + i}:{QEMU_USER}" for i, g in enumerate(QEMU_GROUPS)]))


def inputs(answers, phase):
    got = default_inputs(answers, "libvirt")
    got["conf"] = [LIBVIRTD_CONF, VIRTLOGD_CONF, QEMU_CONF]
    return got


# ------------------------------------------------------------ panes

def ns_argv(layout, daemon: list[str], answers=None) -> list[str]:
    """The daemon in its mount and pid namespaces; with a userspace switch,
    inside the stack's network namespace too (stacktui/netns.py), where
    qemu's taps can join br-int."""
    pairs = [str(x) for target, src in binds(layout, answers).items() for x in (src, target)]
    pre = []
    if answers is not None and _shares_switch(answers):
        from stacktui import netns
        pre = netns.nsenter(layout)
    # stacktui/nsbind.py makes a missing mount point (/var/lib/libvirt on a
    # host without libvirt-daemon-system) on a tmpfs of the namespace, never
    # on the host, where another stack's clean could remove it from under
    # this daemon's bind.
    return [*pre, "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
            "--kill-child", "--", sys.executable, "-m", "stacktui.nsbind", *pairs,
            "--", "tini", "--", *daemon]


def panes(ctx) -> list[dict]:
    L = ctx.layout
    run = run_dir(L)
    env = {"PATH": PATH}
    return [
        pane_spec(ctx, "virtlogd", ns_argv(L, ["virtlogd", "--config", "/etc/libvirt/virtlogd.conf",
                                                "--pid-file", "/run/libvirt/virtlogd.pid"],
                                    ctx.answers),
                  env=env, ready={"unix": str(run / "virtlogd-sock")}, stop_timeout=15),
        pane_spec(ctx, "libvirtd", ns_argv(L, ["libvirtd", "--config", "/etc/libvirt/libvirtd.conf",
                                                "--pid-file", "/run/libvirt/libvirtd.pid"],
                                    ctx.answers),
                  env=env, ready={"unix": str(socket_path(L))}, stop_timeout=30),
    ]


def before_up(answers, layout):
    # After a reboot DEST/run is gone; the panes bind it, so it must exist,
    # and so must the namespace libvirtd enters.
    run_dir(layout).mkdir(parents=True, exist_ok=True)
    if _shares_switch(answers):
        from stacktui.phases import ovn
        ovn.before_up(answers, layout)


# ------------------------------------------------------------ cleanup

def qemu_processes(layout) -> list:
    """qemu processes of this stack's guests (their disks and logs are under
    DEST): none should outlive the libvirtd pane."""
    import psutil
    out = []
    marks = (str(layout.data), str(layout.logs), str(layout.etc))
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if (p.info["name"] or "").startswith("qemu-system") and \
                    any(m in " ".join(p.info["cmdline"] or []) for m in marks):
                out.append(p)
        except psutil.Error:
            continue
    return out


def cleanup(ctx):
    """What clean must also remove: a guest that somehow outlived its pid
    namespace, mount points older versions made, libvirt's files under DEST."""
    import psutil
    left = qemu_processes(ctx.layout)
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=10)
    made = made_dirs_file(ctx.layout)
    if made.exists():
        # Another stack's libvirtd may have bound its folder over one of
        # them: removing it would detach that bind (stacktui/nsbind.py).
        in_use = mount_points_anywhere()
        for line in reversed(made.read_text().splitlines()):
            p = Path(line)
            if line in in_use:
                continue
            try:
                p.rmdir() if p.is_dir() else (p.unlink() if p.stat().st_size == 0 else None)
            except OSError:
                pass    # not empty: someone else uses it now
    for d in (ctx.layout.etc / "libvirt", ctx.layout.data / "libvirt",
              ctx.layout.logs / "libvirt", run_dir(ctx.layout)):
        shutil.rmtree(d, ignore_errors=True)


def adjust_services(names: list[str], answers: dict) -> list[str]:
    """n-cpu on libvirt brings libvirt's daemons; on the fake driver they go."""
    from stacktui import virt
    names = [n for n in names if n not in SERVICES]
    if "n-cpu" in names and virt.choose(answers["virt_driver"], services=names).libvirt:
        names.extend(SERVICES)
    return names


SPEC = ServiceSpec(
    "libvirt", SERVICES, configure=configure, panes=panes, before_up=before_up,
    cleanup=cleanup, inputs=inputs, start_early=START_EARLY, ready_timeout=READY_TIMEOUT,
    packages=PACKAGES, hidden=True, adjust_services=adjust_services,
    devstack_values={"VIRT_DRIVER": "libvirt"})
