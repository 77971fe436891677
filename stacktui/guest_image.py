"""The default guest image, built offline from Debian packages.

DevStack downloads cirros from its own site, which a machine with only the
package mirrors cannot reach. This builds an image that does what cirros
does for a development cloud (boots in seconds, takes an address by DHCP,
fetches its SSH key from the metadata service, runs an SSH server) out of
four Debian packages fetched with `apt-get download` and unpacked with
`dpkg-deb`, without root and without a loop mount:

- the kernel of `linux-image-amd64`, and its virtio modules;
- `busybox-static` as the whole userland (init, udhcpc, wget, ip, getty);
- `dropbear-bin` (with the libraries it links) as the SSH server;
- `syslinux`, `mtools` and `dosfstools`, run from where they were unpacked,
  to make a FAT disk with a boot sector: one raw disk a BIOS boots, which
  Glance and nova take like any cloud image.

Everything runs from the initramfs; the disk holds only the boot loader, the
kernel and the initramfs. The login user is `root` (the image's
`os_admin_user`); the only way in is the key from the metadata service.

The result is cached in the user's cache folder ($XDG_CACHE_HOME/stacktui,
beside uv's cache), keyed by BUILD_VERSION, so fresh stacks and `stacktui
clean` do not rebuild it; nothing of it goes outside that folder.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from stacktui.errors import StackError

# Bump when what goes into the image changes: the cache key.
BUILD_VERSION = "7"
NAME = "stacktui-guest"
LOGIN_USER = "root"
KERNEL_META = "linux-image-amd64"
PACKAGES = ("busybox-static", "dropbear-bin", "libtomcrypt1", "libtommath1",
            "syslinux", "syslinux-common", "mtools", "dosfstools")
# Load order matters: busybox insmod does not resolve dependencies.
MODULES = ("drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko",
           "drivers/virtio/virtio_pci_modern_dev.ko", "drivers/virtio/virtio_pci_legacy_dev.ko",
           "drivers/virtio/virtio_pci.ko", "net/core/failover.ko", "drivers/net/net_failover.ko",
           "drivers/net/virtio_net.ko", "drivers/block/virtio_blk.ko",
           "drivers/char/hw_random/virtio-rng.ko")
DISK_MB = 24
# With the port spelled out: busybox-static's wget may look an absent port up
# through NSS, which a static glibc binary cannot load. Its -T (timeout)
# option segfaults in Debian 12's build; busybox's `timeout` bounds it instead.
METADATA = "http://169.254.169.254:80"


def image_properties() -> dict:
    """Glance properties: who logs in, and what the guest needs from nova."""
    return {"os_admin_user": LOGIN_USER, "os_distro": "debian", "os_type": "linux",
            "hw_disk_bus": "virtio", "hw_vif_model": "virtio",
            # No ACPI daemon listens: a clean shutdown would wait out nova's 60 s.
            "os_shutdown_timeout": "0"}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stacktui" / "guest-image" / BUILD_VERSION


def cached() -> Path | None:
    disk = cache_dir() / f"{NAME}.img"
    return disk if disk.exists() and (cache_dir() / "manifest.json").exists() else None


# ------------------------------------------------------------ the guest's files

INIT = """\
#!/bin/sh
# PID 1 until busybox init takes over: the pseudo file systems, then init.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
exec /sbin/init
"""

INITTAB = """\
::sysinit:/etc/rc
ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
tty1::respawn:/sbin/getty 38400 tty1
::ctrlaltdel:/sbin/poweroff
::shutdown:/bin/umount -a -r
"""

RC = """\
#!/bin/sh
# Boot: modules, network by DHCP on every NIC, the SSH key from the
# metadata service, then the SSH server.
echo "stacktui-guest: starting"
# virtio_net without checksum offload: with a userspace switch the packets
# of an offloaded guest reach their peer with the checksum still unfilled.
for m in $(cat /etc/modules.order); do
  case "$m" in */virtio_net.ko) insmod "/lib/modules/$m" csum=0 gso=0 ;;
                *) insmod "/lib/modules/$m" 2>/dev/null ;; esac
done
hostname stacktui-guest
ip link set lo up
sleep 0.2
for dev in /sys/class/net/*; do
  i=${dev##*/}
  [ "$i" = lo ] && continue
  ip link set "$i" up
  udhcpc -i "$i" -s /etc/udhcpc.script -O mtu -O staticroutes -t 15 -T 2 -A 3 -b -S \\
    -x hostname:stacktui-guest
done
mkdir -p /root/.ssh /etc/dropbear && chmod 700 /root /root/.ssh
dropbear -R -p 22
for dev in /sys/class/net/*; do
  i=${dev##*/}; [ "$i" = lo ] || echo "stacktui-guest: $i $(ip -4 -o addr show dev $i | awk '{print $4}')"
done
# What cirros shows too: the routes the lease gave, for whoever reads the console.
ip -4 route | sed 's/^/stacktui-guest: route /'
# The key may come late (the metadata service starting after the guest):
# SSH answers meanwhile, and the key is taken whenever it comes.
(
n=0
while [ $n -lt 150 ]; do
  if timeout 10 wget -q -O /tmp/key "METADATA/latest/meta-data/public-keys/0/openssh-key" \
      2>/dev/null && [ -s /tmp/key ]; then
    h=$(timeout 10 wget -q -O - METADATA/latest/meta-data/hostname 2>/dev/null) && [ -n "$h" ] \
      && hostname "${h%%.*}"
    echo "stacktui-guest: SSH key from the metadata service" > /dev/console
    cat /tmp/key > /root/.ssh/authorized_keys; chmod 600 /root/.ssh/authorized_keys
    break
  fi
  n=$((n + 1)); sleep 2
done
) &
echo "stacktui-guest: up"
""".replace("METADATA", METADATA)

# udhcpc's hook: the lease into the interface, the routes, resolv.conf.
# staticroutes (option 121) carries the route to the metadata address that
# OVN's DHCP hands out.
UDHCPC = """\
#!/bin/sh
case "$1" in
deconfig)
  ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
  ip -4 addr flush dev "$interface"
  ip addr add "$ip/${mask:-24}" dev "$interface" ${broadcast:+broadcast $broadcast}
  [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
  if [ -n "$staticroutes" ]; then
    set -- $staticroutes
    while [ $# -ge 2 ]; do
      if [ "$2" = 0.0.0.0 ]; then ip route replace "$1" dev "$interface"
      else ip route replace "$1" via "$2" dev "$interface"; fi
      shift 2
    done
  elif [ -n "$router" ]; then
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
  fi
  : > /etc/resolv.conf
  for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done ;;
esac
exit 0
"""

# What test harnesses (tempest's RemoteClient among them) call on cirros.
CURL = """\
#!/bin/sh
# curl's common forms, by busybox wget.
# -d sends a POST, as curl does (tempest posts the guest's password to the
# metadata service that way).
url=""; out="-"; post=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift ;;
    -d|--data) post="$2"; shift ;;
    -m|--max-time|--connect-timeout|-w|-H|-X) shift ;;
    -*) ;;
    *) url="$1" ;;
  esac
  shift
done
# A port always (see METADATA in guest_image.py).
case "$url" in
  http://*:[0-9]*) ;;
  http://*) rest=${url#http://}; host=${rest%%/*}; path=${rest#"$host"}; url="http://$host:80$path" ;;
esac
if [ -n "$post" ]; then
  exec timeout 20 wget -q -O "$out" --post-data "$post" "$url"
fi
exec timeout 20 wget -q -O "$out" "$url"
"""

SUDO = """\
#!/bin/sh
# The login user is root already.
while [ $# -gt 0 ]; do case "$1" in -*) shift ;; *) break ;; esac; done
exec "$@"
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run:/bin/false\n"
# No password at all: `*` refuses one, so only a key gets in.
SHADOW = "root:*:19000:0:99999:7:::\n"
GROUP = "root:x:0:\n"

SYSLINUX_CFG = """\
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=tty1 console=ttyS0,115200 quiet loglevel=3
"""


# ------------------------------------------------------------ cpio (newc)

class Cpio:
    """An initramfs archive written directly, so owners, modes and device
    nodes need no root and no cpio binary."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.names: set[str] = set()

    def _entry(self, name: str, mode: int, data: bytes = b"", nlink: int = 1,
               rdev: tuple[int, int] = (0, 0)) -> None:
        name = name.strip("/")
        if name in self.names:
            return
        self.names.add(name)
        raw = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(raw), 0]
        self.ino += 1
        self.buf.write(b"070701" + b"".join(b"%08X" % f for f in fields) + raw)
        self._pad()
        self.buf.write(data)
        self._pad()

    def _pad(self) -> None:
        self.buf.write(b"\0" * (-self.buf.tell() % 4))

    def dir(self, name: str, mode: int = 0o755) -> None:
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self._entry("/".join(parts[:i]), 0o040000 | mode, nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.dir(os.path.dirname(name.strip("/")) or ".")
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self.dir(os.path.dirname(name.strip("/")) or ".")
        self._entry(name, 0o120777, target.encode())

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, 0o020000 | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        self.names.discard("TRAILER!!!")
        return self.buf.getvalue()


# ------------------------------------------------------------ packages

def _run(argv: list, cwd: Path | None = None, env: dict | None = None, what: str = "") -> str:
    p = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode:
        raise StackError(f"guest image: {what or argv[0]} failed (exit {p.returncode}): "
                         f"{(p.stderr or p.stdout).strip()[-600:]}")
    return p.stdout


def download(names: list[str], into: Path) -> dict[str, Path]:
    """`apt-get download` the packages (no root, nothing installed)."""
    if not shutil.which("apt-get"):
        raise StackError("guest image: apt-get is needed to fetch the Debian packages it is "
                         "built from; set `image_urls:` to images to download instead")
    # Its own folder readable by apt's sandbox user, or apt warns about it.
    into.mkdir(parents=True, exist_ok=True)
    into.chmod(0o755)
    _run(["apt-get", "download", "-q", *names], cwd=into, what="apt-get download " + " ".join(names))
    debs = {}
    for name in names:
        found = sorted(into.glob(f"{name}_*.deb"))
        if not found:
            raise StackError(f"guest image: apt-get download {name} gave no .deb")
        debs[name] = found[-1]
    return debs


def _kernel_package(meta: Path) -> str:
    dep = _run(["dpkg-deb", "-f", meta, "Depends"]).strip()
    for alt in dep.split(","):
        name = alt.split("|")[0].split("(")[0].strip()
        if name.startswith("linux-image-"):
            return name
    raise StackError(f"guest image: {meta.name} names no kernel package ({dep})")


def _members(deb: Path, want) -> dict[str, bytes]:
    """Files of a .deb whose path `want` accepts, read through dpkg-deb's
    tar stream (the kernel package's 400 MB of modules never touch the disk)."""
    p = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    got = {}
    with tarfile.open(fileobj=p.stdout, mode="r|") as tar:
        for m in tar:
            name = m.name.lstrip("./")
            if m.isfile() and want(name):
                got[name] = tar.extractfile(m).read()
    p.wait()
    if p.returncode:
        raise StackError(f"guest image: dpkg-deb --fsys-tarfile {deb.name} failed")
    return got


# ------------------------------------------------------------ build

def _libs_of(binary: Path, extra_lib_dirs: list[Path]) -> list[Path]:
    env = {**os.environ, "LD_LIBRARY_PATH": ":".join(map(str, extra_lib_dirs))}
    out = _run(["ldd", binary], env=env, what=f"ldd {binary.name}")
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            libs.append(Path(parts[2]))
        elif parts and parts[0].startswith("/"):
            libs.append(Path(parts[0]))     # the dynamic loader
    return libs


def build_initramfs(busybox: bytes, kernel_version: str, modules: dict[str, bytes],
                    dropbear: Path, lib_dirs: list[Path]) -> bytes:
    c = Cpio()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "run", "tmp",
              "root", "var/log", "lib", "lib64"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("bin/busybox", busybox, 0o755)
    for applet in _busybox_applets():
        path = applet if "/" in applet else f"bin/{applet}"
        c.symlink(path, "/bin/busybox")
    c.file("init", INIT.encode(), 0o755)
    c.file("etc/inittab", INITTAB.encode())
    c.file("etc/rc", RC.encode(), 0o755)
    c.file("etc/udhcpc.script", UDHCPC.encode(), 0o755)
    c.file("etc/passwd", PASSWD.encode())
    c.file("etc/shadow", SHADOW.encode(), 0o600)
    c.file("etc/group", GROUP.encode())
    c.file("etc/shells", b"/bin/sh\n")
    c.file("etc/hostname", b"stacktui-guest\n")
    c.file("etc/issue", b"stacktui guest (Debian kernel, busybox, dropbear): log in with "
                        b"your key as root\n")
    c.file("usr/bin/curl", CURL.encode(), 0o755)
    c.file("usr/bin/sudo", SUDO.encode(), 0o755)
    order = []
    for rel in MODULES:
        c.file(f"lib/modules/{rel}", modules[rel])
        order.append(rel)
    c.file("etc/modules.order", ("\n".join(order) + "\n").encode())
    c.file("usr/sbin/dropbear", dropbear.read_bytes(), 0o755)
    for lib in _libs_of(dropbear, lib_dirs):
        # Where the binary looks: the loader at its fixed path, the rest in /lib.
        target = str(lib).lstrip("/") if lib.name.startswith("ld-linux") else f"lib/{lib.name}"
        c.file(target, lib.resolve().read_bytes(), 0o755)
    return gzip.compress(c.finish(), compresslevel=9, mtime=0)


def _busybox_applets() -> list[str]:
    # The applets the image uses; the rest remain reachable as `busybox NAME`.
    return ["sh", "ash", "mount", "umount", "mkdir", "cat", "echo", "ls", "ip", "sleep", "wget",
            "hostname", "chmod", "awk", "insmod", "lsmod", "ps", "kill", "rm", "cp", "mv", "ln",
            "grep", "sed", "head", "tail", "uname", "df", "free", "dmesg", "ping", "ping6",
            "ifconfig", "route", "vi", "touch", "date", "id", "whoami", "uptime", "true", "false",
            "test", "[", "env", "tr", "cut", "sort", "wc", "nc", "login", "passwd", "su", "dd",
            "sync", "stty", "tee", "which", "xargs", "find", "netstat", "arp", "seq", "md5sum",
            "sha256sum", "hexdump", "base64", "mktemp", "printf", "expr", "basename", "dirname", "timeout",
            "sbin/init", "sbin/getty", "sbin/udhcpc", "sbin/poweroff", "sbin/reboot",
            "sbin/halt", "sbin/ifup", "sbin/ifdown", "sbin/modprobe", "sbin/blkid",
            "sbin/mdev", "sbin/fdisk", "sbin/mkswap"]


def build(log=print) -> Path:
    """Build the image into the cache (or reuse it); returns the raw disk.
    One build at a time per user (glance's init and nova's KVM probe may
    both ask at once)."""
    import fcntl
    hit = cached()
    if hit:
        return hit
    out = cache_dir()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return cached() or _build(out, log)


def _build(out: Path, log) -> Path:
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="build-", dir=out.parent) as tmp:
        work = Path(tmp)
        debs = download([KERNEL_META, *PACKAGES], work / "debs")
        kpkg = _kernel_package(debs[KERNEL_META])
        debs.update(download([kpkg], work / "debs"))
        log(f"guest image: packages downloaded ({time.monotonic() - t0:.1f} s)")
        tools = work / "tools"
        for name in ("dropbear-bin", "libtomcrypt1", "libtommath1", "syslinux", "syslinux-common",
                     "mtools", "dosfstools"):
            _run(["dpkg-deb", "-x", debs[name], tools], what=f"dpkg-deb -x {name}")
        busybox = _members(debs["busybox-static"], lambda n: n == "bin/busybox")["bin/busybox"]
        wanted = set(MODULES)
        kfiles = _members(debs[kpkg], lambda n: n.startswith("boot/vmlinuz-") or (
            n.startswith("lib/modules/") and n.split("/", 4)[-1] in wanted))
        vmlinuz = next(v for k, v in kfiles.items() if k.startswith("boot/vmlinuz-"))
        kver = next(k for k in kfiles if k.startswith("boot/vmlinuz-"))[len("boot/vmlinuz-"):]
        modules = {k.split("/", 4)[-1]: v for k, v in kfiles.items() if k.startswith("lib/modules/")}
        missing = wanted - set(modules)
        if missing:
            raise StackError(f"guest image: {kpkg} lacks {', '.join(sorted(missing))}")
        libdirs = [tools / "usr/lib/x86_64-linux-gnu", tools / "lib/x86_64-linux-gnu"]
        initrd = build_initramfs(busybox, kver, modules, tools / "usr/sbin/dropbear", libdirs)
        disk = work / f"{NAME}.img"
        make_disk(disk, tools, {"vmlinuz": vmlinuz, "initrd.gz": initrd,
                                "syslinux.cfg": SYSLINUX_CFG.encode()})
        stage = work / "out"
        stage.mkdir()
        shutil.move(disk, stage / disk.name)
        (stage / "vmlinuz").write_bytes(vmlinuz)
        (stage / "initrd.gz").write_bytes(initrd)
        manifest = {"name": NAME, "build_version": BUILD_VERSION, "kernel": kver,
                    "login_user": LOGIN_USER,
                    "packages": sorted(d.name for d in debs.values()),
                    "build_seconds": round(time.monotonic() - t0, 1)}
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
    log(f"guest image: built {out / (NAME + '.img')} in {time.monotonic() - t0:.1f} s "
        f"(kernel {kver})")
    return out / f"{NAME}.img"


def make_disk(disk: Path, tools: Path, files: dict[str, bytes]) -> None:
    """A FAT file system over the whole disk with syslinux's boot sector: a
    BIOS loads it like a USB stick. mkfs.fat, syslinux and mcopy all work on
    an image file, so nothing is mounted."""
    env = {**os.environ, "PATH": f"{tools}/usr/bin:{tools}/usr/sbin:{tools}/sbin:"
                                 + os.environ.get("PATH", ""),
           "LD_LIBRARY_PATH": f"{tools}/usr/lib/x86_64-linux-gnu",
           # mtools refuses images whose geometry it finds odd without this.
           "MTOOLS_SKIP_CHECK": "1"}
    _run([tools / "sbin/mkfs.fat", "-C", "-n", "STACKTUI", disk, DISK_MB * 1024], env=env,
         what="mkfs.fat")
    _run([tools / "usr/bin/syslinux", "--install", disk], env=env, what="syslinux --install")
    src = disk.parent / "disk-files"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
        _run([tools / "usr/bin/mcopy", "-o", "-i", disk, src / name, f"::{name}"], env=env,
             what=f"mcopy {name}")
    shutil.rmtree(src)
