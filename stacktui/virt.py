"""Which virt driver nova-compute gets, and why (DevStack's VIRT_DRIVER and
LIBVIRT_TYPE, decided from real probes).

``virt_driver: auto`` is libvirt with KVM when /dev/kvm answers the KVM API,
libvirt with plain qemu (software emulation) when it does not, and nova's
fake driver when libvirt cannot run here at all. ``fake``, ``qemu`` and
``kvm`` in the answers override the probes. Answers, host checks and the
nova phase all ask here, so the reason shown is the one acted on.
"""

from __future__ import annotations

import fcntl
import functools
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass

KVM_GET_API_VERSION = 0xAE00  # _IO(KVMIO=0xAE, 0x00)
KVM_API_VERSION = 12          # the only version Linux has ever reported


@dataclass(frozen=True)
class Choice:
    libvirt: bool              # False: nova's fake driver
    virt_type: str | None      # kvm or qemu when libvirt
    why: str

    @property
    def label(self) -> str:
        return f"libvirt/{self.virt_type}" if self.libvirt else "fake"


def kvm_api_version(path: str = "/dev/kvm") -> int | None:
    """Ask the device itself: CPU flags in /proc/cpuinfo can say no vmx/svm
    while /dev/kvm works (FIELD-NOTES 4), and can say yes while it is absent."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError:
        return None
    finally:
        os.close(fd)


def kvm_works(path: str = "/dev/kvm") -> bool:
    return kvm_api_version(path) == KVM_API_VERSION


@functools.cache
def libvirt_blocker() -> str | None:
    """Why libvirtd cannot run here the way stacktui runs it (as root, in a
    private mount and pid namespace: phases/libvirt.py), or None. Cached: the
    namespace probe starts a process, and answers are loaded by every command."""
    if platform.machine() != "x86_64":
        return (f"this is a {platform.machine()} host and stacktui sets libvirt up "
                "for x86_64 (qemu-system-x86) only")
    if os.geteuid() != 0:
        return ("libvirtd runs as root in namespaces of its own, and stacktui runs "
                "without root here")
    if not shutil.which("libvirtd") and not shutil.which("apt-get"):
        return "libvirtd is not installed and there is no apt-get to install it"
    unshare = shutil.which("unshare")
    if not unshare:
        return "util-linux's unshare is missing (libvirtd runs in its own namespaces)"
    try:
        r = subprocess.run([unshare, "--mount", "--pid", "--fork", "--mount-proc", "true"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot make a mount and pid namespace: {e}"
    if r.returncode != 0:
        err = (r.stderr.strip().splitlines() or ["?"])[-1]
        return f"this host refuses a private mount and pid namespace ({err}), as containers often do"
    return None


def openvswitch_module() -> bool:
    """The openvswitch kernel module is loaded (or built in)."""
    if os.path.isdir("/sys/module/openvswitch"):
        return True
    try:
        with open("/proc/modules") as f:
            return any(line.split()[0] == "openvswitch" for line in f)
    except OSError:
        return False


def port_blocker(services, ovs_module: bool | None = None) -> str | None:
    """Why a libvirt guest could not be plugged into neutron's network here,
    or None. Without the kernel module ovs-vswitchd runs the userspace
    datapath, and libvirtd runs with it in the stack's network namespace
    (stacktui/netns.py), which needs nsenter and ip."""
    if "q-svc" not in services:
        return None
    if openvswitch_module() if ovs_module is None else ovs_module:
        return None
    missing = [t for t in ("nsenter", "ip") if not shutil.which(t)]
    if missing:
        return (f"neutron's switch runs the userspace datapath (no openvswitch kernel module) "
                f"in a namespace shared with libvirt, which needs {' and '.join(missing)}")
    return None


def choose(want: str, kvm_version: int | None = None, blocker: str | None = None,
           probe: bool = True, services=(), ovs_module: bool | None = None) -> Choice:
    """The driver for ``virt_driver: want`` with these services. With probe,
    the host is asked; without, kvm_version and blocker are taken as given
    (host checks pass their own probe results)."""
    if want == "fake":
        return Choice(False, None, "virt_driver is fake: nova's fake.FakeDriver, no real VMs")
    if probe:
        kvm_version = kvm_api_version()
        blocker = libvirt_blocker()
    ports = port_blocker(services, ovs_module)
    kvm = kvm_version == KVM_API_VERSION
    dev = f"/dev/kvm answers KVM API {kvm_version}" if kvm_version is not None \
        else "/dev/kvm is missing or does not answer"
    if want in ("kvm", "qemu"):
        return Choice(True, want, f"virt_driver is {want} in the answers ({dev})"
                      + (f"; servers with a port will fail to boot: {ports}" if ports else ""))
    if ports and not blocker:
        return Choice(False, None, f"virt_driver auto: libvirt guests would get no network "
                                   f"port here ({ports}); servers run on nova's fake.FakeDriver "
                                   "(no real VMs)")
    if blocker:
        return Choice(False, None, f"virt_driver auto: libvirt cannot run here ({blocker}); "
                                   "servers run on nova's fake.FakeDriver (no real VMs)")
    if kvm:
        return Choice(True, "kvm", f"virt_driver auto: {dev}, so libvirt with KVM")
    return Choice(True, "qemu", f"virt_driver auto: {dev}, so libvirt with plain qemu "
                                "(software emulation: guests boot, slowly)")


def for_answers(answers) -> Choice:
    return choose(answers.virt_driver, services=answers.services)
