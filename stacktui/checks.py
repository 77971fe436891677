"""Host fitness checks: will the chosen services fit and run on this machine?

DevStack checks none of this and Kolla only ports and hostname, so users learn
about a 1 GB VM or a hostname that does not resolve from an OOM kill or a
RabbitMQ crash half an hour in (FIELD-NOTES section 3). Each check gives a
measured figure, what the chosen services need, and a concrete fix.

Everything read from the machine goes through ``root`` (files) or a
:class:`Probe` (calls), so tests run every check against prepared inputs.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import psutil

from . import catalog, cgroups, hostinfo, virt
from .errors import StackError

OK, WARN, FAIL = "ok", "warn", "fail"
MB = 1024 * 1024

# Room for the OS, stacktui itself and short-lived tools (db sync, pip) on top
# of the services' resident memory.
RAM_OVERHEAD_MB = 512
# Free disk beyond the services' own figures: the uv cache, logs, images.
DISK_MARGIN_MB = 2048

SUPPORTED = {"debian": ("12", "13"), "ubuntu": ("24.04",), "rhel": ("9", "10")}
RHEL_LIKE = ("rhel", "centos", "rocky", "almalinux", "ol", "fedora")


SWAP_FIX = ("add swap: fallocate -l 4G /swapfile && chmod 600 /swapfile && "
            "mkswap /swapfile && swapon /swapfile")


@dataclass
class Check:
    name: str
    status: str          # ok / warn / fail
    measured: str
    needed: str
    fix: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


# Asks /dev/kvm for its API version: the only reliable answer, since CPU
# flags are hidden on some hosts that still expose a working KVM.
_kvm_api_version = virt.kvm_api_version


def _sudo_ok() -> bool:
    try:
        return subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _resolve(name: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(i[4][0].split("%")[0] for i in infos))


def listeners_now() -> list[tuple[str, int, int | None]]:
    """(ip, port, pid) of every listening TCP socket (as far as this user may see)."""
    out = []
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return out
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr:
            out.append((c.laddr.ip, c.laddr.port, c.pid))
    return out


def proc_name_of(pid: int | None) -> str:
    if pid is None:
        return "?"
    try:
        return psutil.Process(pid).name()
    except psutil.Error:
        return "?"


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


@dataclass
class Probe:
    """The calls checks make; tests replace any of them."""
    euid: Callable[[], int] = os.geteuid
    sudo_ok: Callable[[], bool] = _sudo_ok
    sudo_kind: Callable[[], str] = lambda: __import__("stacktui.destdir").destdir.sudo_kind()
    cpu_count: Callable[[], int] = _cpu_count
    disk_free: Callable[[str], int] = lambda p: (lambda s: s.f_bavail * s.f_frsize)(os.statvfs(p))
    kvm_api_version: Callable[[str], int | None] = _kvm_api_version
    libvirt_blocker: Callable[[], str | None] = virt.libvirt_blocker
    hostname: Callable[[], str] = socket.gethostname
    resolve: Callable[[str], list[str]] = _resolve
    local_addresses: Callable[[], set[str]] = hostinfo.local_addresses
    listeners: Callable[[], list] = listeners_now
    proc_name: Callable[[int | None], str] = proc_name_of
    access: Callable[[str, int], bool] = os.access
    stat: Callable[[str], os.stat_result] = os.stat
    python: tuple = tuple(sys.version_info[:3])
    user: Callable[[], str] = lambda: os.environ.get("USER") or str(os.geteuid())
    environ: Callable[[], dict] = lambda: dict(os.environ)


class _Host:
    def __init__(self, root: str | Path, probe: Probe):
        self.root = Path(root)
        self.p = probe

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def read(self, p: str) -> str | None:
        try:
            return self.path(p).read_text()
        except (OSError, UnicodeDecodeError):
            return None


def _mb(n: int | float) -> str:
    return f"{n / MB:,.0f} MB" if n < 10 * 1024 * MB else f"{n / (1024 * MB):,.1f} GB"


# ---------------------------------------------------------------- resources

def check_memory(ans, h: _Host) -> list[Check]:
    svcs = ans.services
    need = (catalog.ram_estimate_mb(svcs) + RAM_OVERHEAD_MB) * MB
    needed = f"{_mb(need)} ({len(svcs)} services {catalog.ram_estimate_mb(svcs)} MB + " \
             f"{RAM_OVERHEAD_MB} MB overhead)"
    info = cgroups.meminfo(h.root)
    out = []
    avail = info.get("MemAvailable")
    if avail is None:
        out.append(Check("memory", WARN, "cannot read /proc/meminfo", needed,
                         "run on Linux with /proc mounted"))
    else:
        heavy = sorted(svcs, key=lambda n: -catalog.get(n).ram_mb)[:3]
        fix = (f"free memory, give the machine more RAM, or drop heavy services "
               f"({', '.join(heavy)}) from enabled_services")
        if avail < need:
            st = FAIL
        elif avail < need * 1.5:
            st, fix = WARN, "tight: other programs or a second install step may tip it over; " + fix
        else:
            st, fix = OK, ""
        out.append(Check("memory", st, f"{_mb(avail)} available of {_mb(info.get('MemTotal', 0))}",
                         needed, fix))
    cg = cgroups.memory_cgroup("self", h.root)
    lim = cg.effective_limit() if cg else None
    if lim is None:
        out.append(Check("memory limit", OK, "no cgroup memory limit", needed))
    else:
        used = cg.working_set() or 0
        free = lim - used
        st = FAIL if free < need else WARN if free < need * 1.5 else OK
        out.append(Check("memory limit", st,
                         f"cgroup limit {_mb(lim)}, {_mb(used)} used ({cg.path})", needed,
                         "" if st == OK else
                         "the container's memory limit is below what the services need: raise it "
                         "(docker run --memory / LXC limits.memory) or enable fewer services"))
    return out


def check_swap(ans, h: _Host) -> Check:
    info = cgroups.meminfo(h.root)
    total, free = info.get("SwapTotal", 0), info.get("SwapFree", 0)
    need = (catalog.ram_estimate_mb(ans.services) + RAM_OVERHEAD_MB) * MB
    avail = info.get("MemAvailable", 0)
    if total > 0:
        return Check("swap", OK, f"{_mb(total)} swap, {_mb(total - free)} used",
                     "some swap to absorb peaks (DevStack CI: 8 GB)")
    # Without swap a short peak (db sync, a worker fork) is an OOM kill.
    st = WARN if avail < 2 * need else OK
    return Check("swap", st, "no swap", "some swap when RAM is under twice the estimate "
                 f"({_mb(2 * need)})", SWAP_FIX if st != OK else "")


def _workers(ans, ncpu: int) -> int:
    w = ans.data.get("workers", "auto")
    per = min(ncpu, 2) if w == "auto" else int(w)
    total = 0
    for n in ans.services:
        s = catalog.get(n)
        if s.workers:
            # workers in the catalog counts processes at the default of 2 API
            # workers; scale with the configured number.
            total += max(1, round(s.workers * per / 2))
        elif s.ram_mb:
            total += 1
    return total


def check_cpu(ans, h: _Host) -> Check:
    n = h.p.cpu_count()
    procs = _workers(ans, n)
    needed = f">= 2 cores; {procs} service processes for the chosen services"
    if n < 2:
        return Check("cpu", WARN, f"{n} core", needed,
                     "one core makes db sync and service start very slow and timeouts likely: "
                     "give the machine 2+ cores, and set `workers: 1`")
    if procs > 4 * n:
        return Check("cpu", WARN, f"{n} cores", needed,
                     "many processes per core: set `workers: 1` in the answers or enable fewer "
                     "services")
    return Check("cpu", OK, f"{n} cores", needed)


def _existing_parent(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_disk(ans, h: _Host) -> Check:
    dest = Path(ans.dest)
    at = _existing_parent(h.path(str(dest)))
    est = catalog.disk_estimate_mb(ans.services) * MB
    needed = f"{_mb(est)} for the services + {_mb(DISK_MARGIN_MB * MB)} for cache, logs, images"
    try:
        free = h.p.disk_free(str(at))
    except OSError as e:
        return Check("disk", WARN, f"cannot measure free space at {at}: {e}", needed)
    where = f"{_mb(free)} free at {dest}"
    if free < est:
        return Check("disk", FAIL, where, needed,
                     f"free space on the filesystem of {at}, or choose another dest")
    if free < est + DISK_MARGIN_MB * MB:
        return Check("disk", WARN, where, needed,
                     f"tight: logs and images will fill it; free space on {at} or choose another dest")
    return Check("disk", OK, where, needed)


# ---------------------------------------------------------------- network

def _if_inet6(h: _Host) -> list[tuple[str, str]]:
    """(address, interface) of every global IPv6 address."""
    out = []
    for line in (h.read("/proc/net/if_inet6") or "").splitlines():
        parts = line.split()
        if len(parts) < 6:
            continue
        try:
            ip = ipaddress.IPv6Address(int(parts[0], 16))
        except ValueError:
            continue
        if not (ip.is_loopback or ip.is_link_local):
            out.append((str(ip), parts[5]))
    return out


def _v6_default_route(h: _Host) -> str | None:
    for line in (h.read("/proc/net/ipv6_route") or "").splitlines():
        parts = line.split()
        if len(parts) >= 10 and parts[0] == "0" * 32 and parts[1] == "00" and parts[9] != "lo":
            return parts[9]
    return None


def check_ipv6(ans, h: _Host) -> Check:
    ver = int(ans.data.get("service_ip_version") or 4)
    disabled = (h.read("/proc/sys/net/ipv6/conf/all/disable_ipv6") or "").strip() == "1" \
        or not h.path("/proc/net/if_inet6").exists()
    addrs = _if_inet6(h)
    route = _v6_default_route(h)
    host_ip = ans.data.get("host_ip") or ""
    if disabled:
        measured = "IPv6 disabled"
    else:
        measured = (f"{len(addrs)} global IPv6 address{'es' if len(addrs) != 1 else ''}"
                    f"{' (' + ', '.join(a for a, _ in addrs[:2]) + ')' if addrs else ''}, "
                    f"default route {'via ' + route if route else 'none'}")
    needed = f"services bind HOST_IP {host_ip} (IPv{ver}), never a wildcard"
    if ver == 6:
        if disabled or not addrs:
            return Check("ipv6", FAIL, measured, needed,
                         "service_ip_version is 6 but the host has no global IPv6 address: "
                         "set service_ip_version: 4, or configure IPv6 "
                         "(sysctl -w net.ipv6.conf.all.disable_ipv6=0)")
        return Check("ipv6", OK, measured, needed)
    if addrs and not disabled:
        # The seed story: daemons that bind "::" ended up on IPv6 only. Binding
        # HOST_IP explicitly avoids it; say so, because it is a choice.
        return Check("ipv6", OK, measured + "; binding HOST_IP keeps services on IPv4", needed)
    return Check("ipv6", OK, measured, needed)


def check_host_ip(ans, h: _Host) -> Check:
    host_ip = ans.data.get("host_ip") or ""
    ver = int(ans.data.get("service_ip_version") or 4)
    local = h.p.local_addresses()
    needed = f"an IPv{ver} address of this machine"
    try:
        ip = ipaddress.ip_address(host_ip)
    except ValueError:
        return Check("host_ip", FAIL, f"{host_ip!r} is not an address", needed,
                     "set host_ip to an address of this machine (`ip -br addr`)")
    if ip.version != ver:
        return Check("host_ip", FAIL, f"{host_ip} is IPv{ip.version}", needed,
                     f"set host_ip to an IPv{ver} address, or service_ip_version: {ip.version}")
    if host_ip not in local:
        return Check("host_ip", FAIL, f"{host_ip} is not on this machine", needed,
                     f"set host_ip to one of {', '.join(sorted(local)[:4])}")
    return Check("host_ip", OK, f"{host_ip} is local", needed)


def check_hostname(ans, h: _Host) -> list[Check]:
    name = h.p.hostname()
    local = h.p.local_addresses()
    host_ip = ans.data.get("host_ip") or "HOST_IP"
    addrs = h.p.resolve(name)
    needed = "resolves to an address of this machine (RabbitMQ, Kolla precheck)"
    fix = f"add `{host_ip} {name}` to /etc/hosts"
    if not addrs:
        c = Check("hostname", FAIL, f"{name} does not resolve", needed, fix)
    elif not any(a in local for a in addrs):
        c = Check("hostname", FAIL, f"{name} -> {', '.join(addrs)}, not this machine", needed,
                  f"fix the /etc/hosts entry for {name}: {fix}")
    else:
        c = Check("hostname", OK, f"{name} -> {', '.join(addrs)}", needed)
    lo = h.p.resolve("localhost")
    bad = [a for a in lo if not ipaddress.ip_address(a).is_loopback]
    if not lo:
        c2 = Check("localhost", FAIL, "localhost does not resolve", "127.0.0.1 / ::1",
                   "add `127.0.0.1 localhost` to /etc/hosts")
    elif bad:
        c2 = Check("localhost", FAIL, f"localhost -> {', '.join(lo)}", "127.0.0.1 / ::1",
                   "make localhost map only to 127.0.0.1 and ::1 in /etc/hosts")
    else:
        c2 = Check("localhost", OK, f"localhost -> {', '.join(lo)}", "127.0.0.1 / ::1")
    return [c, c2]


_WILDCARDS = {"0.0.0.0", "::", ""}


def check_ports(ans, h: _Host) -> list[Check]:
    from . import registry
    host_ip = ans.data.get("host_ip") or ""
    listeners = h.p.listeners()
    out = [_port_check(n, ans.port(n), n, ans.port(n), "", host_ip, listeners, h)
           for n in ans.services if catalog.get(n).port is not None]
    # What a service listens on beside its catalog port moves with it
    # (rabbit's distribution port is its AMQP port + 20000): a clash there
    # is fixed by moving the catalog port.
    for spec in registry.for_services(ans.services):
        if spec.ports_beside:
            mine = next(n for n in spec.services
                        if n in ans.services and catalog.get(n).port is not None)
            for what, port in spec.ports_beside(ans).items():
                out.append(_port_check(what, port, mine, ans.port(mine), f" (it moves {what})",
                                       host_ip, listeners, h))
    return out


def _port_check(what: str, port: int, svc: str, svc_port: int, moves: str, host_ip: str,
                listeners, h: _Host) -> Check:
    """``what`` needs ``port``; moving catalog service ``svc`` (now on
    ``svc_port``) frees it."""
    held = [(ip, pid) for ip, p, pid in listeners if p == port]
    needed = f"{host_ip}:{port} free for {what}"
    clash = [(ip, pid) for ip, pid in held
             if ip in _WILDCARDS or ip == host_ip or host_ip in _WILDCARDS]
    if clash:
        ip, pid = clash[0]
        who = f"{h.p.proc_name(pid)} (pid {pid})" if pid else "a process (pid unknown, run as root)"
        other = svc_port + 10000 if svc_port < 55535 else svc_port - 10000
        return Check(f"port {port}", FAIL, f"{ip or '*'}:{port} held by {who}", needed,
                     f"stop {who}{' (kill ' + str(pid) + ')' if pid else ''}, or set "
                     f"`ports: {{{svc}: {other}}}`{moves}; "
                     "if it is this stack's own service, it is already running")
    if held:
        ip, pid = held[0]
        return Check(f"port {port}", WARN, f"{ip}:{port} held by {h.p.proc_name(pid)} (pid {pid})",
                     needed, f"no clash with {host_ip}, but clients using {ip} reach that "
                     f"process; stop it or move {svc} with `ports: {{{svc}: N}}`{moves}")
    return Check(f"port {port}", OK, "free", needed)


# ---------------------------------------------------------------- kernel

def check_virt(ans, h: _Host) -> Check:
    cpuinfo = h.read("/proc/cpuinfo") or ""
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags |= set(line.partition(":")[2].split())
    hw = sorted(flags & {"vmx", "svm"})
    api = h.p.kvm_api_version(str(h.path("/dev/kvm")))
    drv = ans.data.get("virt_driver", "auto")
    flag_txt = f"cpu flags {'/'.join(hw)}" if hw else "no vmx/svm cpu flag"
    measured = f"{flag_txt}; /dev/kvm " + (f"answers KVM API {api}" if api is not None else
                                              "missing or not usable")
    uses_cpu = "n-cpu" in ans.services
    if api is not None and not hw:
        measured += " (trusting the /dev/kvm probe over the flags)"
    if uses_cpu:
        # The same decision the install acts on, from this check's own probes.
        choice = virt.choose(drv, kvm_version=api,
                             blocker=None if drv == "fake" else h.p.libvirt_blocker(), probe=False,
                             services=ans.services, ovs_module=_has_module(h, "openvswitch"),
                             kvm_linux=virt.kvm_boots_linux() if api is not None else None)
        measured += f"; nova-compute on {choice.label}: {choice.why}"
    if api is not None:
        return Check("virtualization", OK, measured,
                     "KVM for nova-compute" if uses_cpu else "nothing (n-cpu not enabled)")
    if not uses_cpu:
        return Check("virtualization", OK, measured, "nothing (n-cpu not enabled)")
    fix = ("nova-compute would use qemu (software emulation, slow) or the fake driver "
           "(virt_driver: fake, no real VMs); for KVM: " +
           ("load kvm_intel/kvm_amd and check /dev/kvm permissions" if hw else
            "enable virtualization in the BIOS or nested virtualization on the hypervisor"))
    st = FAIL if drv == "kvm" else WARN
    return Check("virtualization", st, measured, f"KVM for virt_driver {drv}", fix)


def _has_module(h: _Host, name: str) -> bool:
    mods = h.read("/proc/modules") or ""
    if any(line.split(" ", 1)[0] == name for line in mods.splitlines()):
        return True
    return h.path(f"/sys/module/{name}").exists()


def check_openvswitch(ans, h: _Host) -> Check:
    wanted = any(n in ans.services for n in ("ovs-vswitchd", "q-svc", "ovn-controller"))
    have = _has_module(h, "openvswitch")
    measured = "openvswitch kernel module " + ("present" if have else "absent")
    if have:
        return Check("openvswitch", OK, measured, "kernel datapath")
    if not wanted:
        return Check("openvswitch", OK, measured, "nothing (no neutron/OVS service enabled)")
    return Check("openvswitch", WARN, measured, "kernel datapath, or the userspace one",
                 "stacktui will use the userspace datapath (datapath_type=netdev): works, slower; "
                 "for the kernel one: modprobe openvswitch")


def check_device_mapper(ans, h: _Host) -> Check:
    wanted = "c-vol" in ans.services
    misc = h.read("/proc/misc") or ""
    devices = h.read("/proc/devices") or ""
    have = any(line.split()[-1:] == ["device-mapper"] for line in (misc + devices).splitlines()) \
        or _has_module(h, "dm_mod")
    measured = "device-mapper " + ("present" if have else "absent")
    if have:
        return Check("device-mapper", OK, measured, "LVM for cinder volumes" if wanted else "nothing")
    if not wanted:
        return Check("device-mapper", OK, measured, "nothing (c-vol not enabled)")
    return Check("device-mapper", WARN, measured, "LVM for cinder volumes",
                 "no LVM here: cinder uses the fake volume driver (no real volumes); "
                 "for LVM: modprobe dm_mod")


# ---------------------------------------------------------------- system

def _os_release(h: _Host) -> dict[str, str]:
    out = {}
    text = h.read("/etc/os-release") or h.read("/usr/lib/os-release") or ""
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip().strip('"').strip("'")
    return out


def check_distro(ans, h: _Host) -> Check:
    osr = _os_release(h)
    did, ver = osr.get("ID", ""), osr.get("VERSION_ID", "")
    pretty = osr.get("PRETTY_NAME") or f"{did} {ver}".strip() or "unknown"
    needed = "Debian 12/13, Ubuntu 24.04, RHEL 9/10 family"
    family = did
    if did in RHEL_LIKE or "rhel" in osr.get("ID_LIKE", "").split():
        family = "rhel"
    major = ver if family == "ubuntu" else ver.split(".")[0]
    if did == "fedora":
        family = "fedora"
    if major in SUPPORTED.get(family, ()):
        return Check("distro", OK, pretty, needed)
    return Check("distro", FAIL, pretty, needed,
                 "use a supported release, or `stacktui install --force` to try anyway "
                 "(package names may differ)")


def check_privileges(ans, h: _Host) -> Check:
    needed = "root or sudo (packages, /opt/stack)"
    if h.p.euid() == 0:
        return Check("privileges", OK, "running as root", needed)
    # An ordinary user's neutron: the switch and the namespaces are made by
    # root at every start, `up` after a reboot included, when no one may be
    # there to type a password (stacktui/privileged.py).
    switch = "ovs-vswitchd" in ans.services
    if switch:
        needed = ("root or sudo (packages, /opt/stack); neutron's switch and namespaces at every "
                  "start: root, passwordless sudo or, with a sudo password, a sudoers drop-in")
    rule = (f"as root: echo '{h.p.user()} ALL=(ALL) NOPASSWD: ALL' > "
            "/etc/sudoers.d/50_stacktui && chmod 440 /etc/sudoers.d/50_stacktui")
    tun = "/dev/net/tun"
    no_tun = switch and not h.p.access(str(h.path(tun)), os.R_OK | os.W_OK)
    tun_fix = f"as root: chmod 666 {tun} (its mode on Debian and Ubuntu)"
    if h.p.sudo_ok():
        if no_tun:
            return Check("privileges", FAIL, f"passwordless sudo; {tun} not readable and writable "
                         "by you (ovs-vswitchd runs as you and makes its taps there)", needed,
                         tun_fix)
        return Check("privileges", OK, "passwordless sudo", needed)
    from . import sudoers
    if sudoers.wanted(ans) and h.p.sudo_kind() == "password":
        if no_tun:
            return Check("privileges", FAIL, f"sudo with a password; {tun} not readable and "
                         "writable by you (ovs-vswitchd runs as you and makes its taps there)",
                         needed, tun_fix)
        return _sudoers_drop_in(ans, h, needed, rule)
    if h.p.sudo_kind() == "password":
        return Check("privileges", OK, "sudo with a password: asked once, when packages or "
                     "DEST need it", needed)
    return Check("privileges", FAIL, f"user {h.p.user()} without passwordless sudo", needed, rule)


def _sudoers_drop_in(ans, h: _Host, needed: str, rule: str) -> Check:
    """neutron's switch and namespaces are made by root at every start (`up`
    after a reboot, a pane's restart), with no one there to type a password:
    install writes a sudoers rule for exactly those commands
    (stacktui/sudoers.py). Said before anything is done, with what it
    gives away."""
    from . import sudoers
    from .paths import Layout
    layout = Layout(Path(ans.dest))
    try:
        cmds = sudoers.commands(ans, layout)
        target = sudoers.path(layout.dest)
    except StackError as e:
        return Check("privileges", FAIL, f"sudo with a password; no sudoers rule can be written: "
                     f"{e}", needed, rule)
    written = h.path(str(sudoers.copy_in_dest(layout))).is_file()
    how = ("in place (an earlier install wrote it)" if written
           else "written by install, with the password asked once")
    return Check("privileges", WARN,
                 f"sudo with a password: {target}, {how}, lets you run as root without it: "
                 f"{', '.join(c for c, _ in cmds)}; neutron's switch and namespaces and cinder's "
                 "volume attach need them at every start (`up` after a reboot, a pane's restart). `stacktui clean` removes "
                 "it. Whoever can run as you can then become root (env, nsenter and unshare run "
                 "any command, the venv's privsep-helper is yours to change), as with DevStack's "
                 "NOPASSWD: ALL rule", needed,
                 f"to refuse it, allow passwordless sudo yourself ({rule}) or leave neutron out")


def check_dest(ans, h: _Host) -> Check:
    dest = Path(ans.dest)
    real = h.path(str(dest))
    at = _existing_parent(real)
    shown = lambda p: "/" + str(p.relative_to(h.root)) if h.root != Path("/") else str(p)  # noqa: E731
    needed = f"{dest} writable, every parent folder traversable"
    why = ""
    if h.root == Path("/") and "dest" not in getattr(ans, "given", {"dest"}):
        from . import destdir
        chosen, reason = destdir.choose()
        why = f" (default: {reason})" if chosen == dest else ""
    if not h.p.access(str(at), os.W_OK | os.X_OK):
        if at != real and h.p.sudo_kind() != "none":
            return Check("dest", OK, f"{shown(at)} not writable: install makes {dest} with sudo "
                         f"and gives it to you{why}", needed)
        return Check("dest", FAIL, f"{shown(at)} not writable by this user", needed,
                     f"sudo install -d -o $USER {dest}, or choose another dest")
    # Services that run as their own user (mysql, memcache, rabbitmq, a web
    # server) must walk down to DEST too: a 0700 home in the path stops them
    # even though the installing user gets through (DevStack's classic).
    closed = []
    p = at
    while True:
        try:
            st = h.p.stat(str(p))
        except OSError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            if not h.p.access(str(p), os.X_OK):
                return Check("dest", FAIL, f"{shown(p)} not traversable by this user", needed,
                             f"chmod u+x {shown(p)}")
            if not st.st_mode & stat.S_IXOTH:
                closed.append((shown(p), st.st_mode & 0o777))
        if p == h.root or p == p.parent:
            break
        p = p.parent
    if closed:
        worst = closed[-1]
        # Daemons that drop to their own user (mysql, rabbitmq, memcache) must
        # reach DEST; horizon runs as the installing user.
        other = any(n in ans.services for n in ("mysql", "rabbit", "memcached"))
        return Check("dest", FAIL if other else WARN,
                     f"{worst[0]} is {worst[1]:04o}: other users cannot reach {dest}", needed,
                     f"chmod o+x {' '.join(c[0] for c in closed)}, or choose a dest outside it "
                     "(e.g. /opt/stack)")
    return Check("dest", OK, f"{shown(at)} writable, parents traversable{why}", needed)


def check_python(ans, h: _Host) -> Check:
    v = h.p.python
    text = ".".join(map(str, v))
    needed = "Python 3.10-3.13 (OpenStack 2026.2)"
    if tuple(v[:2]) < (3, 10):
        return Check("python", FAIL, text, needed,
                     "install python3.11 or newer (apt install python3.11) and rerun with it")
    if tuple(v[:2]) > (3, 13):
        return Check("python", WARN, text, needed,
                     "newer than OpenStack tests with: wheels may be missing; use python3.12 "
                     "(uv python install 3.12)")
    return Check("python", OK, text, needed)


def check_package_index(ans, h: _Host) -> list[Check]:
    """Which index and CA uv will use: pip's settings carried over
    (stacktui.pipconfig), so a mirror that works for pip works here."""
    from . import pipconfig
    from .errors import UserError
    try:
        s = pipconfig.uv_setup(h.p.environ(), root=h.root)
    except UserError as e:
        return [Check("package index", FAIL, str(e), "a pip configuration pip can read",
                      "fix the file, or set PIP_CONFIG_FILE=/dev/null to ignore pip's files")]
    st = WARN if s.notes else OK
    return [Check("package index", st, s.index, "the index pip would use", "; ".join(s.notes)),
            *(Check(name, OK, text, "as pip") for name, text in s.more.items()),
            Check("CA bundle", OK, s.ca, "the CAs pip would trust")]


# ---------------------------------------------------------------- running

def run_checks(answers, *, root: str | Path = "/", probe: Probe | None = None) -> list[Check]:
    h = _Host(root, probe or Probe())
    out: list[Check] = []
    for fn in (check_memory, check_swap, check_cpu, check_disk, check_host_ip, check_ipv6,
               check_hostname, check_ports, check_virt, check_openvswitch, check_device_mapper,
               check_distro, check_privileges, check_dest, check_python, check_package_index):
        try:
            r = fn(answers, h)
        except Exception as e:  # a check that crashes must not hide the others
            r = Check(fn.__name__.removeprefix("check_"), WARN, f"check failed: {e!r}", "",
                      "report this as a stacktui bug")
        out.extend(r if isinstance(r, list) else [r])
    return out


def any_fail(checks) -> bool:
    return any(c.status == FAIL for c in checks)


def render(checks) -> str:
    """A plain aligned table; fixes on their own indented line so long ones
    do not push the columns off screen."""
    rows = [(c.status.upper(), c.name, c.measured, c.needed) for c in checks]
    w = [max(len(r[i]) for r in rows + [("", "CHECK", "MEASURED", "")]) for i in range(3)]
    w[2] = min(w[2], 60)
    lines = [f"{'':<{w[0]}}  {'CHECK':<{w[1]}}  {'MEASURED':<{w[2]}}  NEEDED"]
    for c, r in zip(checks, rows):
        lines.append(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}".rstrip())
        if c.fix and c.status != OK:
            lines.append(f"{'':<{w[0]}}  {'':<{w[1]}}  fix: {c.fix}")
    n = {s: sum(c.status == s for c in checks) for s in (OK, WARN, FAIL)}
    lines.append(f"{n[OK]} ok, {n[WARN]} warning{'s' if n[WARN] != 1 else ''}, "
                 f"{n[FAIL]} failed")
    return "\n".join(lines)
