"""Every host check against prepared inputs: a fake /proc, /sys and /etc under
tmp_path and a Probe whose calls return what each test needs."""

import copy
import json
import os
import socket
from pathlib import Path

import psutil
import pytest

from stacktui import answers, checks
from stacktui.checks import FAIL, OK, WARN, Check, Probe

from tests.conftest import write_under as w

GB = 1024 ** 3
V1_MOUNTINFO = "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"


def meminfo(avail_mb, total_mb=16384, swap_mb=0):
    return (f"MemTotal: {total_mb * 1024} kB\nMemFree: 1 kB\nMemAvailable: {avail_mb * 1024} kB\n"
            f"SwapTotal: {swap_mb * 1024} kB\nSwapFree: {swap_mb * 1024} kB\n")


def make_answers(dest, services=("key", "g-api", "placement-api"), **data):
    d = copy.deepcopy(answers.DEFAULTS)
    d.update({"dest": str(dest), "host_ip": "10.0.0.5", "enabled_services": list(services),
              "service_ip_version": 4})
    d.update(data)
    return answers.Answers(data=d)


@pytest.fixture
def host(tmp_path):
    """A healthy fake host; tests break one thing each."""
    root = tmp_path / "root"
    w(root, "/proc/meminfo", meminfo(8192, swap_mb=2048))
    w(root, "/proc/cpuinfo", "processor : 0\nflags : fpu vmx sse\n")
    w(root, "/proc/net/if_inet6",
      "00000000000000000000000000000001 01 80 10 80       lo\n"
      "fe8000000000000000fc00fffe000001 02 40 20 80     eth0\n")
    w(root, "/proc/net/ipv6_route", "")
    w(root, "/proc/sys/net/ipv6/conf/all/disable_ipv6", "0\n")
    w(root, "/proc/misc", " 236 device-mapper\n")
    w(root, "/proc/modules", "openvswitch 200704 0 - Live 0x0\n")
    w(root, "/etc/os-release", 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n')
    (root / "opt").mkdir(parents=True)
    (root / "opt").chmod(0o755)
    root.chmod(0o755)
    probe = Probe(
        euid=lambda: 0, sudo_ok=lambda: False, cpu_count=lambda: 4,
        disk_free=lambda p: 50 * GB, kvm_api_version=lambda p: 12,
        hostname=lambda: "box", local_addresses=lambda: {"127.0.0.1", "::1", "10.0.0.5"},
        resolve=lambda n: {"box": ["10.0.0.5"], "localhost": ["127.0.0.1", "::1"]}.get(n, []),
        listeners=lambda: [], proc_name=lambda pid: "sshd", python=(3, 11, 7),
        user=lambda: "stack", sudo_kind=lambda: "none", environ=lambda: {"HOME": "/home/stack"})
    return root, probe


def run(root, probe, ans=None, name=None):
    ans = ans or make_answers("/opt/stack")
    got = checks.run_checks(ans, root=root, probe=probe)
    if name is None:
        return got
    found = [c for c in got if c.name == name]
    assert found, f"no check {name}: {[c.name for c in got]}"
    return found[0]


def test_healthy_host_all_ok(host):
    got = run(*host)
    assert [c for c in got if c.status != OK] == []
    assert not checks.any_fail(got)
    names = {c.name for c in got}
    assert {"memory", "memory limit", "swap", "cpu", "disk", "host_ip", "ipv6", "hostname",
            "localhost", "port 5000", "port 9292", "port 8778", "virtualization", "openvswitch",
            "device-mapper", "distro", "privileges", "dest", "python"} <= names
    for c in got:
        assert c.measured and c.needed
        assert json.loads(json.dumps(c.to_dict()))["status"] == OK


# ---------------------------------------------------------------- memory

def test_memory_fails_below_estimate(host):
    root, probe = host
    w(root, "/proc/meminfo", meminfo(900, total_mb=1024))
    c = run(root, probe, name="memory")
    assert c.status == FAIL
    assert "900 MB available" in c.measured and "1,202 MB" in c.needed
    assert "key" in c.fix


def test_memory_tight_warns(host):
    root, probe = host
    w(root, "/proc/meminfo", meminfo(1400, swap_mb=1024))
    c = run(root, probe, name="memory")
    assert c.status == WARN and "tight" in c.fix


def test_memory_estimate_grows_with_services(host):
    root, probe = host
    w(root, "/proc/meminfo", meminfo(2500, swap_mb=1024))
    small = run(root, probe, name="memory")
    names = ["key", "g-api", "placement-api", "n-api", "n-cond", "n-sch", "n-cpu", "q-svc",
             "mysql", "rabbit"]
    big = run(root, probe, make_answers("/opt/stack", names), name="memory")
    assert small.status == OK and big.status == FAIL
    # The figures are measured and change; the check must add them up.
    from stacktui import catalog
    assert f"10 services {catalog.ram_estimate_mb(names)} MB" in big.needed


def test_cgroup_limit_below_need_fails(host):
    root, probe = host
    w(root, "/proc/self/mountinfo", V1_MOUNTINFO)
    w(root, "/proc/self/cgroup", "4:memory:/docker/abc\n")
    base = root / "sys/fs/cgroup/memory"
    w(base, "memory.limit_in_bytes", "9223372036854771712\n")
    w(base, "docker/memory.limit_in_bytes", str(1 * GB))
    w(base, "docker/abc/memory.limit_in_bytes", "9223372036854771712\n")
    w(base, "docker/abc/memory.usage_in_bytes", str(100 * 1024 * 1024))
    c = run(root, probe, name="memory limit")
    assert c.status == FAIL
    assert "cgroup limit 1,024 MB" in c.measured and "100 MB used" in c.measured
    assert "limit" in c.fix
    # The host itself has 8 GB available: psutil alone would have said fine.
    assert run(root, probe, name="memory").status == OK


def test_no_swap_warns_when_ram_is_small(host):
    root, probe = host
    w(root, "/proc/meminfo", meminfo(2000))
    c = run(root, probe, name="swap")
    assert c.status == WARN and c.measured == "no swap" and "swapon" in c.fix
    w(root, "/proc/meminfo", meminfo(16000))
    assert run(root, probe, name="swap").status == OK


def test_cpu_one_core_warns(host):
    root, probe = host
    probe.cpu_count = lambda: 1
    c = run(root, probe, name="cpu")
    assert c.status == WARN and c.measured == "1 core" and "workers: 1" in c.fix


def test_disk(host):
    root, probe = host
    seen = []
    probe.disk_free = lambda p: seen.append(p) or 500 * 1024 * 1024
    c = run(root, probe, name="disk")
    assert c.status == FAIL and "500 MB free" in c.measured
    # Measured at the nearest existing parent of DEST (/opt here).
    assert seen == [str(root / "opt")]
    probe.disk_free = lambda p: 2 * GB
    assert run(root, probe, name="disk").status == WARN


# ---------------------------------------------------------------- network

def test_ipv6_reported_and_bind_v4(host):
    root, probe = host
    w(root, "/proc/net/if_inet6",
      "20010db8000000000000000000000005 02 40 00 80     eth0\n"
      "00000000000000000000000000000001 01 80 10 80       lo\n")
    w(root, "/proc/net/ipv6_route",
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "20010db8000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n")
    c = run(root, probe, name="ipv6")
    assert c.status == OK
    assert "1 global IPv6 address (2001:db8::5)" in c.measured
    assert "default route via eth0" in c.measured
    assert "binding HOST_IP" in c.measured and "10.0.0.5" in c.needed


def test_ipv6_disabled_but_wanted_fails(host):
    root, probe = host
    w(root, "/proc/sys/net/ipv6/conf/all/disable_ipv6", "1\n")
    probe.local_addresses = lambda: {"127.0.0.1", "2001:db8::5"}
    ans = make_answers("/opt/stack", service_ip_version=6, host_ip="2001:db8::5")
    c = run(root, probe, ans, name="ipv6")
    assert c.status == FAIL and c.measured == "IPv6 disabled" and "service_ip_version: 4" in c.fix
    assert run(root, probe, make_answers("/opt/stack"), name="ipv6").status == OK


def test_host_ip_not_local_or_wrong_family(host):
    root, probe = host
    c = run(root, probe, make_answers("/opt/stack", host_ip="10.9.9.9"), name="host_ip")
    assert c.status == FAIL and "not on this machine" in c.measured and "10.0.0.5" in c.fix
    c = run(root, probe, make_answers("/opt/stack", host_ip="::1"), name="host_ip")
    assert c.status == FAIL and "IPv6" in c.measured


def test_hostname_does_not_resolve(host):
    root, probe = host
    probe.resolve = lambda n: ["127.0.0.1"] if n == "localhost" else []
    c = run(root, probe, name="hostname")
    assert c.status == FAIL and c.measured == "box does not resolve"
    assert c.fix == "add `10.0.0.5 box` to /etc/hosts"


def test_hostname_resolves_elsewhere(host):
    root, probe = host
    probe.resolve = lambda n: {"box": ["192.0.2.77"], "localhost": ["127.0.0.1"]}[n]
    c = run(root, probe, name="hostname")
    assert c.status == FAIL and "not this machine" in c.measured


def test_localhost_not_loopback(host):
    root, probe = host
    probe.resolve = lambda n: {"box": ["10.0.0.5"], "localhost": ["10.0.0.5"]}[n]
    assert run(root, probe, name="localhost").status == FAIL


def test_real_resolver_localhost():
    assert all(a in ("127.0.0.1", "::1") for a in checks._resolve("localhost"))


def test_port_taken_names_this_process(host):
    """A real socket on loopback, found through the real psutil listener scan."""
    root, probe = host
    probe.listeners = checks.listeners_now
    probe.proc_name = checks.proc_name_of
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        probe.local_addresses = lambda: {"127.0.0.1"}
        ans = make_answers("/opt/stack", host_ip="127.0.0.1", ports={"key": port})
        c = run(root, probe, ans, name=f"port {port}")
        me = psutil.Process(os.getpid())
        assert c.status == FAIL
        assert f"held by {me.name()} (pid {os.getpid()})" in c.measured
        assert f"kill {os.getpid()}" in c.fix and "ports:" in c.fix
        # The same port seen from another HOST_IP is no clash, only a warning.
        ans2 = make_answers("/opt/stack", ports={"key": port})
        c2 = run(root, probe, ans2, name=f"port {port}")
        assert c2.status == WARN and str(os.getpid()) in c2.measured
    finally:
        s.close()
    assert run(root, probe, ans, name=f"port {port}").status == OK


def test_port_held_on_wildcard(host):
    root, probe = host
    probe.listeners = lambda: [("0.0.0.0", 9292, 4321)]
    probe.proc_name = lambda pid: "python3"
    c = run(root, probe, name="port 9292")
    assert c.status == FAIL and c.measured == "0.0.0.0:9292 held by python3 (pid 4321)"


def test_port_beside_the_catalog_port_is_checked(host):
    """RabbitMQ's Erlang distribution port is its AMQP port + 20000: a real
    listener there is refused by `check` (it crashed rabbit at start in a
    run: dist_port_already_used) and the fix moves rabbit's own port."""
    from stacktui.phases import rabbit
    root, probe = host
    probe.listeners = checks.listeners_now
    probe.proc_name = checks.proc_name_of
    probe.local_addresses = lambda: {"127.0.0.1"}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen()
    dist = s.getsockname()[1]
    amqp = dist - 20000     # a bound port comes from the ephemeral range (32768 up)
    try:
        ans = make_answers("/opt/stack", ("key", "mysql", "rabbit"), host_ip="127.0.0.1",
                           ports={"rabbit": amqp})
        assert rabbit.dist_port(ans) == dist
        c = run(root, probe, ans, name=f"port {dist}")
        assert c.status == FAIL and "Erlang distribution" in c.needed
        assert f"held by {psutil.Process().name()} (pid {os.getpid()})" in c.measured
        assert "`ports: {rabbit: " in c.fix and "it moves rabbit's Erlang distribution" in c.fix
    finally:
        s.close()
    assert run(root, probe, ans, name=f"port {dist}").status == OK


# ---------------------------------------------------------------- kernel

NOVA = ("key", "g-api", "placement-api", "n-api", "n-cpu", "mysql", "rabbit")


def test_kvm_probe_trusted_over_flags(host):
    root, probe = host
    w(root, "/proc/cpuinfo", "processor : 0\nflags : fpu sse hypervisor\n")
    c = run(root, probe, make_answers("/opt/stack", NOVA), name="virtualization")
    assert c.status == OK and "no vmx/svm" in c.measured and "KVM API 12" in c.measured
    assert "trusting the /dev/kvm probe" in c.measured


def test_no_kvm_says_qemu_or_fake(host):
    root, probe = host
    probe.kvm_api_version = lambda p: None
    c = run(root, probe, make_answers("/opt/stack", NOVA), name="virtualization")
    assert c.status == WARN and "qemu" in c.fix and "fake" in c.fix
    c = run(root, probe, make_answers("/opt/stack", NOVA, virt_driver="kvm"), name="virtualization")
    assert c.status == FAIL
    # Without nova-compute nothing needs KVM.
    assert run(root, probe, name="virtualization").status == OK


def test_kvm_probe_on_a_plain_file_is_none(tmp_path):
    f = tmp_path / "kvm"
    f.write_text("")
    assert checks._kvm_api_version(str(f)) is None
    assert checks._kvm_api_version(str(tmp_path / "missing")) is None


def test_real_kvm_probe_agrees_with_device():
    v = checks._kvm_api_version("/dev/kvm")
    assert v is None or v == 12


def test_openvswitch_and_device_mapper_missing(host):
    root, probe = host
    (root / "proc/modules").write_text("bridge 1 0 - Live 0x0\n")
    (root / "proc/misc").write_text(" 1 psaux\n")
    ans = make_answers("/opt/stack", ("key", "q-svc", "ovs-vswitchd", "c-vol", "c-api"))
    ovs = run(root, probe, ans, name="openvswitch")
    assert ovs.status == WARN and "datapath_type=netdev" in ovs.fix
    dm = run(root, probe, ans, name="device-mapper")
    assert dm.status == WARN and "fake volume driver" in dm.fix
    # Built-in module shows in /sys/module even without /proc/modules.
    (root / "sys/module/openvswitch").mkdir(parents=True)
    assert run(root, probe, ans, name="openvswitch").status == OK
    assert run(root, probe, name="device-mapper").status == OK   # c-vol not chosen


# ---------------------------------------------------------------- system

@pytest.mark.parametrize("osr,status", [
    ('ID=debian\nVERSION_ID="13"\n', OK),
    ('ID=ubuntu\nVERSION_ID="24.04"\n', OK),
    ('ID=ubuntu\nVERSION_ID="22.04"\n', FAIL),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n', OK),
    ('ID="almalinux"\nID_LIKE="rhel"\nVERSION_ID="10.0"\n', OK),
    ('ID=debian\nVERSION_ID="11"\n', FAIL),
    ('ID=fedora\nVERSION_ID="41"\n', FAIL),
    ('ID=arch\n', FAIL),
])
def test_distro(host, osr, status):
    root, probe = host
    (root / "etc/os-release").write_text(osr)
    c = run(root, probe, name="distro")
    assert c.status == status
    if status == FAIL:
        assert "--force" in c.fix


def test_privileges(host):
    root, probe = host
    probe.euid = lambda: 1000
    c = run(root, probe, name="privileges")
    assert c.status == FAIL and "NOPASSWD" in c.fix and "stack" in c.fix
    probe.sudo_kind = lambda: "password"     # asked once, when install needs it
    c = run(root, probe, name="privileges")
    assert c.status == OK and c.measured.startswith("sudo with a password")
    probe.sudo_ok = lambda: True
    assert run(root, probe, name="privileges").measured == "passwordless sudo"


def test_dest_under_0700_home(host):
    root, probe = host
    home = root / "home/stack"
    home.mkdir(parents=True)
    (root / "home").chmod(0o755)
    home.chmod(0o700)
    ans = make_answers("/home/stack/devstack", ("key", "g-api", "placement-api", "mysql"))
    c = run(root, probe, ans, name="dest")
    assert c.status == FAIL and "/home/stack is 0700" in c.measured
    assert c.fix.startswith("chmod o+x /home/stack")
    # Without services running as other users it is only a warning.
    assert run(root, probe, make_answers("/home/stack/devstack"), name="dest").status == WARN
    home.chmod(0o711)
    assert run(root, probe, ans, name="dest").status == OK


def test_dest_not_writable(host):
    root, probe = host
    probe.access = lambda p, mode: not (mode & os.W_OK)
    c = run(root, probe, name="dest")
    assert c.status == FAIL and "not writable" in c.measured and "install -d -o $USER" in c.fix
    # With sudo (with or without a password) install makes the missing DEST.
    for kind in ("nopasswd", "password"):
        probe.sudo_kind = lambda: kind
        c = run(root, probe, name="dest")
        assert c.status == OK and "install makes /opt/stack with sudo" in c.measured
    # An existing DEST that is not ours is not sudo's to fix.
    (root / "opt" / "stack").mkdir()
    assert run(root, probe, name="dest").status == FAIL


def test_python_version(host):
    root, probe = host
    probe.python = (3, 9, 2)
    assert run(root, probe, name="python").status == FAIL
    probe.python = (3, 14, 0)
    assert run(root, probe, name="python").status == WARN


def test_crashing_check_is_reported_not_raised(host, monkeypatch):
    root, probe = host
    probe.cpu_count = lambda: 1 / 0
    c = run(root, probe, name="cpu")
    assert c.status == WARN and "ZeroDivisionError" in c.measured


# ---------------------------------------------------------------- output

def test_render_table():
    got = checks.render([Check("memory", FAIL, "900 MB available", "1,202 MB", "add RAM"),
                         Check("cpu", OK, "4 cores", ">= 2 cores")])
    lines = got.splitlines()
    assert lines[0].split() == ["CHECK", "MEASURED", "NEEDED"]
    assert lines[1].startswith("FAIL  memory")
    assert lines[2].strip() == "fix: add RAM"
    # Columns line up: MEASURED starts at the same offset on every row.
    col = lines[0].index("MEASURED")
    assert lines[1][col:].startswith("900 MB") and lines[3][col:].startswith("4 cores")
    assert lines[-1] == "1 ok, 0 warnings, 1 failed"


def test_cli_check_json(tmp_path, capsys, monkeypatch):
    from stacktui import cli
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["--dest", str(tmp_path / "stack"), "check", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == (0 if out["ok"] else 1)
    assert {c["name"] for c in out["checks"]} >= {"memory", "distro", "dest"}
    rc = cli.main(["--dest", str(tmp_path / "stack"), "check"])
    assert "CHECK" in capsys.readouterr().out


def test_privileges_of_an_ordinary_users_neutron(host):
    """neutron's switch and namespaces are made with sudo -n at every start
    (`up` after a reboot too): with a sudo password, install writes a
    sudoers rule for exactly those commands, and check says so (which file,
    what it allows, that clean removes it, that it is as good as root)
    before anything is done. The switch, running as the user, must open
    /dev/net/tun."""
    from stacktui import sudoers
    from stacktui.paths import Layout
    root, probe = host
    ans = make_answers("/opt/stack", enabled_services=["key", "q-svc", "q-ovn-agent",
                                                       "ovn-controller", "ovn-northd",
                                                       "ovs-vswitchd", "ovsdb-server"])
    probe.euid = lambda: 1000
    probe.sudo_kind = lambda: "password"
    probe.access = lambda p, m: True
    c = run(root, probe, ans, name="privileges")
    target = str(sudoers.path(Path("/opt/stack")))
    assert c.status == WARN and target in c.measured and "written by install" in c.measured, c
    for said in ("/opt/stack/venv/bin/privsep-helper", "nsenter", "stacktui clean` removes it",
                 "can then become root", "NOPASSWD: ALL"):
        assert said in c.measured, (said, c.measured)
    copy = root / str(sudoers.copy_in_dest(Layout(Path("/opt/stack")))).lstrip("/")
    copy.parent.mkdir(parents=True)
    copy.write_text("")
    assert "in place" in run(root, probe, ans, name="privileges").measured
    (root / "dev/net").mkdir(parents=True)
    (root / "dev/net/tun").write_text("")
    probe.access = lambda p, m: not p.endswith("/dev/net/tun")
    c = run(root, probe, ans, name="privileges")
    assert c.status == FAIL and "/dev/net/tun" in c.measured
    probe.access = lambda p, m: True
    probe.sudo_ok = lambda: True
    (root / "dev/net/tun").chmod(0o600)
    probe.access = lambda p, m: not p.endswith("/dev/net/tun")
    c = run(root, probe, ans, name="privileges")
    assert c.status == FAIL and "/dev/net/tun" in c.measured and "chmod 666" in c.fix
    probe.access = lambda p, m: True
    assert run(root, probe, ans, name="privileges").status == OK
