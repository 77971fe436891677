"""End to end: nova-compute on libvirt, a real guest under KVM.

The compute cloud of tests/test_e2e_nova.py (same services, database, queue
and nasty passwords, its fixture body reused) installed with the default
`virt_driver: auto`. On a host whose /dev/kvm answers, auto must pick libvirt
with KVM; the libvirt daemons run as panes on DEST's own socket. A server
then boots from a Glance image, goes ACTIVE, its qemu process and domain are
really there (`virsh` on this stack's URI, `accel=kvm` on qemu's command
line), and the guest really runs: its serial console, written through
virtlogd into nova's console.log, carries the line the image prints. Deleted,
the domain and the qemu process are gone. `unstack` leaves no libvirtd,
virtlogd or qemu; `up` brings libvirt back. `virt_driver: qemu` in the
answers then overrides auto on a rerun, and a guest boots under TCG. `clean`
leaves no libvirt process, file or mount point behind.

The image: there is no internet here (no cirros), so the test writes its
own. A 512-byte x86 boot sector that prints one line to the first serial
port and halts, padded to 1 MiB of raw disk: SeaBIOS boots it exactly as it
would boot a real OS, in microseconds, and a halted vCPU costs no CPU, so
the test proves a real KVM guest without paying for an operating system.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import psutil
import pytest
import yaml

from stacktui import virt
from tests.conftest import stacktui
from tests.stackfix import osc, panes, utc_now, wait_services_up
from tests.test_e2e_nova import make_nova_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

GUEST_LINE = "stacktui guest: boot sector running under libvirt"
MEASURED: dict = {}


def boot_sector_disk(line: str) -> bytes:
    """A raw disk whose MBR writes ``line`` to COM1 (port 0x3f8) and halts."""
    code = bytes([
        0xFA,                   # cli
        0x31, 0xC0,             # xor ax, ax
        0x8E, 0xD8,             # mov ds, ax
        0xFC,                   # cld
        0xBE, 0x17, 0x7C,       # mov si, 0x7c17 (the text, right after this code)
        0xBA, 0xF8, 0x03,       # mov dx, 0x3f8
        0xAC,                   # next: lodsb
        0x84, 0xC0,             # test al, al
        0x74, 0x03,             # jz done
        0xEE,                   # out dx, al
        0xEB, 0xF8,             # jmp next
        0xF4,                   # done: hlt
        0xEB, 0xFD,             # jmp done
    ])
    assert len(code) == 0x17
    sector = code + line.encode() + b"\r\n\0"
    assert len(sector) <= 446
    # One partition (Linux, LBA 1 to the end): Glance's format inspector
    # refuses a raw disk whose MBR defines none ("GPT MBR has no partitions").
    sectors = (1 << 20) // 512
    entry = bytes([0x80, 0, 2, 0, 0x83, 0, 0, 0]) + (1).to_bytes(4, "little") \
        + (sectors - 1).to_bytes(4, "little")
    sector += b"\0" * (446 - len(sector)) + entry + b"\0" * 48 + b"\x55\xaa"
    assert len(sector) == 512
    return sector + b"\0" * ((1 << 20) - 512)


@pytest.fixture(scope="module")
def lv_stack():
    # virt_driver left at its default (auto): the point is what auto picks.
    # Except where /dev/kvm answers but stops a Linux kernel (this machine,
    # stacktui/virt.py kvm_boots_linux): auto then rightly picks qemu, and the
    # test asks for kvm itself, since its boot sector runs under such a KVM.
    forced = virt.kvm_boots_linux(run=True) is False
    for stack in make_nova_stack("e2e-libvirt-", **({"virt_driver": "kvm"} if forced else {})):
        stack["forced_kvm"] = forced
        yield stack


def virsh(stack, *args) -> str:
    from stacktui.paths import Layout
    from stacktui.phases import libvirt
    r = subprocess.run(["virsh", "-c", libvirt.uri(Layout(stack["dest"])), *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def qemu_procs(stack) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if (p.info["name"] or "").startswith("qemu-system") and \
                    str(stack["dest"]) in " ".join(p.info["cmdline"] or []):
                out.append(p)
        except psutil.Error:
            pass
    return out


def tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p] + p.children(recursive=True)
    except psutil.Error:
        return []


def rss_mb(procs) -> float:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return round(total / 2**20, 1)


def sdk(stack):
    import openstack
    os.environ["OS_CLIENT_CONFIG_FILE"] = stack["env"]["OS_CLIENT_CONFIG_FILE"]
    return openstack.connect(cloud="devstack-admin")


def test_auto_picks_kvm_and_says_why(lv_stack):
    out = lv_stack["output"]
    assert virt.kvm_works(), "this test expects a host whose /dev/kvm answers"
    if lv_stack["forced_kvm"]:
        assert "nova-compute driver: libvirt.LibvirtDriver (virt_driver is kvm in the answers " \
               "(/dev/kvm answers KVM API 12)" in out
        assert "a Linux kernel does not boot under it" in virt.choose("auto", services=["n-cpu"]).why
    else:
        assert "nova-compute driver: libvirt.LibvirtDriver (virt_driver auto: /dev/kvm answers " \
               "KVM API 12, so libvirt with KVM)" in out
    assert "nova-compute runs on libvirt/kvm" in out          # the summary
    assert "nova-compute on libvirt/kvm" in out                # the host check
    import configparser
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(lv_stack["dest"] / "etc" / "nova" / "nova.conf")
    assert conf["DEFAULT"]["compute_driver"] == "libvirt.LibvirtDriver"
    assert conf["libvirt"]["virt_type"] == "kvm"
    assert conf["libvirt"]["connection_uri"].endswith(str(lv_stack["dest"] / "run" / "libvirt"
                                                          / "libvirt-sock"))
    p = panes(lv_stack)
    assert p["virtlogd"]["state"] == "running" and p["libvirtd"]["state"] == "running"
    # The stack's own libvirtd, on DEST's socket, not the system's.
    assert "QEMU" in virsh(lv_stack, "version")
    assert virsh(lv_stack, "uri").strip().startswith("qemu:///system")
    wait_services_up(lv_stack, "compute", ["nova-compute"])


def boot(conn, name: str):
    """A server from the boot-sector image, polled until ACTIVE or ERROR (at
    most 300 s): (server, seconds from the API call)."""
    image = conn.image.find_image("e2e-boot-sector")
    flavor = conn.compute.find_flavor("cirros256")
    t0 = time.monotonic()
    server = conn.compute.create_server(name=name, image_id=image.id, flavor_id=flavor.id,
                                        networks="none")
    while server.status not in ("ACTIVE", "ERROR") and time.monotonic() - t0 < 300:
        time.sleep(0.25)
        server = conn.compute.get_server(server.id)
    return server, round(time.monotonic() - t0, 1)


def test_server_boots_on_kvm_then_goes_away(lv_stack):
    img = lv_stack["root"] / "boot-sector.raw"
    img.write_bytes(boot_sector_disk(GUEST_LINE))
    osc(lv_stack, "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--public", "--file", img, "e2e-boot-sector")
    conn = sdk(lv_stack)
    server, MEASURED["seconds_to_active"] = boot(conn, "lv-1")
    assert server.status == "ACTIVE", server.fault

    domain = server.instance_name
    listed = virsh(lv_stack, "list", "--name").split()
    assert domain in listed
    xml = virsh(lv_stack, "dumpxml", domain)
    assert "type='kvm'" in xml.split("\n", 1)[0]
    qemus = qemu_procs(lv_stack)
    assert len(qemus) == 1 and re.search(r"accel[ =]kvm", " ".join(qemus[0].cmdline()))
    assert "kvm support: enabled" in virsh(lv_stack, "qemu-monitor-command", domain, "--hmp",
                                           "info kvm")

    # The guest ran: its line reached console.log through virtlogd, and the
    # console API reads it back.
    deadline = time.monotonic() + 60
    while True:
        log = osc(lv_stack, "console", "log", "show", server.id).stdout
        if GUEST_LINE in log or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert GUEST_LINE in log

    p = panes(lv_stack)
    MEASURED["rss_mb"] = {
        "libvirtd (daemon, tini, unshare)": rss_mb(
            [q for q in tree(p["libvirtd"]["pid"]) if not q.name().startswith("qemu")]),
        "virtlogd pane": rss_mb(tree(p["virtlogd"]["pid"])),
        "qemu (cirros256 flavor, halted guest)": rss_mb(qemus),
        "n-cpu pane": rss_mb(tree(p["n-cpu"]["pid"])),
    }

    t1 = time.monotonic()
    conn.compute.delete_server(server.id)
    conn.compute.wait_for_delete(server, wait=120)
    MEASURED["seconds_to_deleted"] = round(time.monotonic() - t1, 1)
    assert domain not in virsh(lv_stack, "list", "--all", "--name").split()
    psutil.wait_procs(qemus, timeout=15)
    assert not qemu_procs(lv_stack)
    print(f"\nlibvirt e2e measured: {json.dumps(MEASURED, indent=1)}")


def test_unstack_leaves_no_libvirt_process_then_up(lv_stack):
    conn = sdk(lv_stack)
    server, _ = boot(conn, "lv-2")
    assert server.status == "ACTIVE", server.fault
    assert qemu_procs(lv_stack)
    p = panes(lv_stack)
    watched = tree(p["libvirtd"]["pid"]) + tree(p["virtlogd"]["pid"]) + qemu_procs(lv_stack)
    assert {"libvirtd", "virtlogd", "tini"} <= {q.name() for q in watched}

    stacktui("--dest", lv_stack["dest"], "unstack")
    gone, alive = psutil.wait_procs(watched, timeout=30)
    assert not alive, [(q.pid, q.name()) for q in alive]
    assert not qemu_procs(lv_stack)

    t0 = time.monotonic()
    stacktui("--dest", lv_stack["dest"], "up", timeout=600)
    MEASURED["up_seconds"] = round(time.monotonic() - t0, 1)
    # The guest was powered off with its host; its domain is still defined.
    assert server.instance_name in virsh(lv_stack, "list", "--all", "--name").split()
    assert server.instance_name not in virsh(lv_stack, "list", "--name").split()
    wait_services_up(lv_stack, "compute", ["nova-compute"], after=utc_now())
    conn.compute.delete_server(server.id)
    conn.compute.wait_for_delete(server, wait=120)
    assert server.instance_name not in virsh(lv_stack, "list", "--all", "--name").split()
    print(f"\nlibvirt e2e measured: {json.dumps(MEASURED, indent=1)}")


def test_qemu_answer_reconfigures_and_boots_without_kvm(lv_stack):
    """`virt_driver: qemu` overrides auto: a rerun of install rewrites
    nova.conf and restarts nova-compute, and the next guest runs under TCG."""
    path = lv_stack["answers"]
    data = yaml.safe_load(path.read_text())
    data["virt_driver"] = "qemu"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    r = stacktui("install", "--answers", path, "--yes", "-v", timeout=1200)
    out = r.stdout + r.stderr
    assert "nova-compute driver: libvirt.LibvirtDriver (virt_driver is qemu in the answers" in out
    assert "nova-compute runs on libvirt/qemu" in out
    import configparser
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(lv_stack["dest"] / "etc" / "nova" / "nova.conf")
    assert conf["libvirt"]["virt_type"] == "qemu"

    conn = sdk(lv_stack)
    server, MEASURED["seconds_to_active_qemu"] = boot(conn, "lv-3")
    assert server.status == "ACTIVE", server.fault
    xml = virsh(lv_stack, "dumpxml", server.instance_name)
    assert "type='qemu'" in xml.split("\n", 1)[0]
    deadline = time.monotonic() + 60
    while GUEST_LINE not in osc(lv_stack, "console", "log", "show", server.id).stdout:
        assert time.monotonic() < deadline, "the TCG guest printed nothing"
        time.sleep(2)
    conn.compute.delete_server(server.id)
    conn.compute.wait_for_delete(server, wait=120)
    assert not qemu_procs(lv_stack)
    print(f"\nlibvirt e2e measured: {json.dumps(MEASURED, indent=1)}")


def test_clean_leaves_nothing_of_libvirt(lv_stack):
    dest = lv_stack["dest"]
    made = (dest / "data" / "libvirt" / "made-mountpoints")
    made_dirs = made.read_text().split() if made.exists() else []
    stacktui("--dest", dest, "clean", "--yes")
    assert not qemu_procs(lv_stack)
    for name in ("libvirtd", "virtlogd"):
        mine = [q for q in psutil.process_iter(["name", "cwd"])
                if q.info["name"] == name and str(dest) in (q.info["cwd"] or "")]
        assert not mine
    assert not (dest / "etc" / "libvirt").exists()
    # Mount points the panes had to make on the host are gone again (unless
    # something else has put files in them since).
    for d in made_dirs:
        assert not os.path.exists(d) or os.listdir(d), d
