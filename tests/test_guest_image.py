"""The default guest image: built from Debian packages, booted, SSHed into.

The build runs for real (`apt-get download`, `dpkg-deb`, syslinux and mtools
from the unpacked packages) into a cache folder of the test's own, then the
disk boots under qemu exactly as nova would boot it: from its boot sector,
through SeaBIOS and syslinux. The network is qemu's user mode on the
link-local range, so the guest's DHCP, its metadata fetch from
169.254.169.254 and its SSH server all work without a bridge: the metadata
address is forwarded (guestfwd) to a one-shot metadata responder of this
test, which hands out a key made here; SSH comes in through a forwarded
loopback port, with that key, as the image's login user.

Under TCG: this machine's /dev/kvm runs real-mode code but stops a Linux
kernel at its switch to protected mode (`KVM internal error ... emulation
failure`), so the test does not rely on KVM (STACKTUI_TEST_GUEST_ACCEL=kvm
asks for it on a host where it works).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import free_port

pytestmark = [pytest.mark.timeout(600),
              pytest.mark.skipif(not shutil.which("apt-get") or not shutil.which("dpkg-deb"),
                                 reason="the image is built from Debian packages")]

QEMU = shutil.which("qemu-system-x86_64")

# Answers one HTTP request on stdin/stdout (qemu's guestfwd runs it per
# connection): the metadata paths the image reads.
METADATA_RESPONDER = r"""
import sys
key = open(sys.argv[1]).read()
req = sys.stdin.buffer.readline().decode()
while sys.stdin.buffer.readline() not in (b"\r\n", b"\n", b""):
    pass
path = req.split()[1] if len(req.split()) > 1 else "/"
body = {"/latest/meta-data/public-keys/0/openssh-key": key,
        "/latest/meta-data/hostname": "booted-by-test.example"}.get(path)
code = b"200 OK" if body is not None else b"404 Not Found"
body = (body or "").encode()
sys.stdout.buffer.write(b"HTTP/1.0 " + code + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
sys.stdout.flush()
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", "from stacktui import guest_image as g; "
                        "print(g.build(log=lambda m: None))"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    took = time.monotonic() - t0
    disk = r.stdout.strip().splitlines()[-1]
    return {"disk": disk, "seconds": took, "cache": cache, "env": env}


def test_build_makes_a_bootable_disk_and_caches_it(built):
    from pathlib import Path
    disk = Path(built["disk"])
    assert disk.is_file() and disk.stat().st_size > 8 << 20
    raw = disk.read_bytes()[:512]
    assert raw[510:] == b"\x55\xaa", "no boot sector signature"
    assert b"SYSLINUX" in disk.read_bytes()[:4096], "syslinux's boot sector is not installed"
    manifest = json.loads((disk.parent / "manifest.json").read_text())
    assert manifest["login_user"] == "root"
    assert any(p.startswith("dropbear-bin_") for p in manifest["packages"])
    assert str(disk).startswith(str(built["cache"])), "the image is cached in the user's cache folder"
    # A second build is the cache: no download, no rebuild.
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", "from stacktui import guest_image as g; "
                        "print(g.build(log=print))"], env=built["env"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == str(disk), r.stderr
    assert "downloaded" not in r.stdout
    assert time.monotonic() - t0 < 5
    print(f"\nguest image: built in {built['seconds']:.1f} s, "
          f"{disk.stat().st_size >> 20} MiB raw disk, kernel {manifest['kernel']}")


@pytest.mark.skipif(not QEMU, reason="qemu-system-x86_64 is installed with nova's libvirt")
def test_boots_takes_key_from_metadata_and_answers_ssh(built, tmp_path):
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    responder = tmp_path / "metadata.py"
    responder.write_text(METADATA_RESPONDER)
    disk = tmp_path / "disk.img"
    shutil.copyfile(built["disk"], disk)    # the guest writes nothing, but the cache stays pristine
    console = tmp_path / "console.log"
    port = free_port()
    accel = os.environ.get("STACKTUI_TEST_GUEST_ACCEL", "tcg")
    netdev = (f"user,id=n0,net=169.254.0.0/16,host=169.254.169.1,"
              f"hostfwd=tcp:127.0.0.1:{port}-:22,"
              f"guestfwd=tcp:169.254.169.254:80-cmd:{sys.executable} {responder} {key}.pub")
    t0 = time.monotonic()
    qemu = subprocess.Popen([QEMU, "-accel", accel, "-m", "256", "-no-reboot", "-display", "none",
                             "-monitor", "none", "-serial", f"file:{console}",
                             "-drive", f"file={disk},if=virtio,format=raw",
                             "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ssh = ["ssh", "-i", key, "-p", str(port), "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
               "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@127.0.0.1"]
        deadline = time.monotonic() + 240
        out = None
        while time.monotonic() < deadline:
            assert qemu.poll() is None, qemu.stdout.read().decode()
            if console.exists() and "stacktui-guest: up" in console.read_text(errors="replace"):
                r = subprocess.run([*ssh, "hostname; cat /root/.ssh/authorized_keys; id -u"],
                                   capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    out = r.stdout
                    break
            time.sleep(1)
        took = time.monotonic() - t0
        text = console.read_text(errors="replace") if console.exists() else ""
        assert out is not None, f"no SSH within 240 s; console:\n{text[-3000:]}"
        lines = out.split("\n")
        assert lines[0] == "booted-by-test", "the hostname from metadata"
        assert key.with_suffix(".pub").read_text().strip() in out, "the key came from metadata"
        assert lines[-2] == "0"
        assert "SSH key from the metadata service" in text
        assert "Segmentation fault" not in text
        print(f"\nguest image: boot to SSH {took:.1f} s under {accel}")
    finally:
        qemu.kill()
        qemu.wait()
