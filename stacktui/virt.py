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


PROBE_TIMEOUT = 20


def _probe_file():
    from .guest_image import cache_dir
    return cache_dir().parent.parent / "kvm-probe.json"


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def kvm_boots_linux(run: bool = False) -> bool | None:
    """Whether a Linux kernel really starts under this host's KVM: some
    hosts' /dev/kvm answers the API and runs real-mode code (a boot sector)
    yet stops a kernel at its switch to protected mode ("KVM internal error,
    emulation failure"; seen on this machine). Known once per host boot:
    the answer is kept in the user's cache beside the guest image, whose
    kernel is the probe. None when not known (and not run)."""
    import json
    import time
    f = _probe_file()
    try:
        got = json.loads(f.read_text())
        if got.get("boot_id") == _boot_id():
            return bool(got["boots"])
    except (OSError, ValueError, KeyError):
        pass
    if not run:
        return None
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        return None
    from . import guest_image
    try:
        kernel = guest_image.build(log=lambda m: None).parent / "vmlinuz"
    except Exception:  # noqa: BLE001 - no image, no probe: the API answer stands
        return None
    t0 = time.monotonic()
    p = subprocess.Popen([qemu, "-accel", "kvm", "-m", "128", "-display", "none",
                          "-monitor", "none", "-serial", "stdio", "-no-reboot", "-nodefaults",
                          "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    seen = b""
    boots = False
    try:
        while time.monotonic() - t0 < PROBE_TIMEOUT:
            if not sel.select(timeout=0.5):
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
            if b"Linux version" in seen:
                boots = True
                break
    finally:
        p.kill()
        p.wait()
        sel.close()
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"boot_id": _boot_id(), "boots": boots,
                             "seconds": round(time.monotonic() - t0, 1),
                             "tail": seen[-300:].decode(errors="replace")}) + "\n")
    return boots


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
           probe: bool = True, services=(), ovs_module: bool | None = None,
           kvm_linux: bool | None = None) -> Choice:
    """The driver for ``virt_driver: want`` with these services. With probe,
    the host is asked; without, kvm_version and blocker are taken as given
    (host checks pass their own probe results)."""
    if want == "fake":
        return Choice(False, None, "virt_driver is fake: nova's fake.FakeDriver, no real VMs")
    if probe:
        kvm_version = kvm_api_version()
        blocker = libvirt_blocker()
        kvm_linux = kvm_boots_linux()
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
    if kvm and kvm_linux is False:
        return Choice(True, "qemu", f"virt_driver auto: {dev}, but a Linux kernel does not "
                                    "boot under it (probe in ~/.cache/stacktui/kvm-probe.json), "
                                    "so libvirt with plain qemu (software emulation)")
    if kvm:
        return Choice(True, "kvm", f"virt_driver auto: {dev}, so libvirt with KVM")
    return Choice(True, "qemu", f"virt_driver auto: {dev}, so libvirt with plain qemu "
                                "(software emulation: guests boot, slowly)")


def for_answers(answers) -> Choice:
    return choose(answers.virt_driver, services=answers.services)
