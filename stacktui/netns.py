"""The stack's network namespace: where the userspace switch, libvirt's
guests and the public network's gateway meet.

Without the openvswitch kernel module the switch runs the userspace datapath
(datapath_type=netdev), whose bridges are tap devices of ovs-vswitchd's own
network namespace; a guest's tap can be put on br-int only when qemu makes
it in that same namespace. So ovs-vswitchd and libvirtd (hence qemu) run in
one network namespace that the stack makes and owns, persisted by a bind
mount at DEST/run/netns/stack (as `ip netns` does under /run/netns):

    host                          stack namespace
    stk-<id> 169.254.X.1/30 ====== host0 169.254.X.2/30 (default route)
    route FLOATING_RANGE via X.2   gw-ex 172.24.4.1/24 ==== gw-ex-p (a port of br-ex)
                                   br-int, br-ex, guests' taps (ovs-vswitchd, qemu)

`gw-ex` holds the public network's gateway address, as DevStack puts it on
br-ex: neutron's routers send their external traffic there. A veth pair
rather than br-ex's own interface, because with the userspace datapath that
interface is a tap that lives and dies with ovs-vswitchd, and the address
would go with it. The host reaches floating IPs through the link pair
(`host0` forwards), and the namespace reaches the host's services (nova's
metadata API, for the metadata agent) the same way back.

Nothing else on the host changes: one link and one route, both gone with the
namespace (`stacktui clean`, or a reboot).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import subprocess
from pathlib import Path

from stacktui.errors import StackError
from stacktui.privileged import as_root

HOST_SIDE_PREFIX = "stk-"
NS_LINK = "host0"
GW = "gw-ex"
GW_PORT = "gw-ex-p"


def path(layout) -> Path:
    return layout.run / "netns" / "stack"


def _ident(layout) -> str:
    return hashlib.sha256(str(Path(layout.dest).resolve()).encode()).hexdigest()


def host_link(layout) -> str:
    return HOST_SIDE_PREFIX + _ident(layout)[:10]   # under IFNAMSIZ (15)


def link_net(layout) -> ipaddress.IPv4Network:
    """A /30 of 169.254.0.0/16 per stack (link-local: never routed beyond
    the host), away from 169.254.169.0/24 where the metadata address is."""
    n = int(_ident(layout)[:8], 16) % (250 * 64)
    third = n // 64
    third += 1 if third >= 169 else 0
    return ipaddress.ip_network(f"169.254.{third}.{(n % 64) * 4}/30")


def host_addr(layout) -> str:
    return str(link_net(layout)[1])


def ns_addr(layout) -> str:
    return str(link_net(layout)[2])


def nsenter(layout) -> list[str]:
    """Prefix for a command that must run in the stack's namespace."""
    return [shutil.which("nsenter") or "nsenter", f"--net={path(layout)}", "--"]


def _ip(*args, ns=None, check=True) -> subprocess.CompletedProcess:
    argv = as_root([*(ns or []), shutil.which("ip") or "/sbin/ip", *args])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and r.returncode:
        raise StackError(f"`{' '.join(argv)}` failed: {r.stderr.strip()}")
    return r


def route_holder(prefix: str) -> str | None:
    """The link through which the host routes exactly ``prefix``, if any."""
    words = _ip("-o", "route", "show", "exact", prefix, check=False).stdout.split()
    return words[words.index("dev") + 1] if "dev" in words[:-1] else None


def exists(layout) -> bool:
    p = path(layout)
    if not p.exists():
        return False
    r = subprocess.run(as_root(nsenter(layout) + ["true"]), capture_output=True, timeout=10)
    return r.returncode == 0


def ensure(layout, gateway_cidr: str, floating_range: str) -> bool:
    """Make the namespace and its links if missing (after a reboot too);
    returns whether anything was made. Idempotent."""
    made = False
    p = path(layout)
    if not exists(layout):
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        p.touch(exist_ok=True)
        # unshare keeps the new namespace alive by binding it onto the file.
        r = subprocess.run(as_root(["unshare", f"--net={p}", "true"]), capture_output=True, text=True,
                           timeout=30)
        if r.returncode:
            raise StackError(f"cannot make the stack's network namespace at {p}: "
                             f"{r.stderr.strip()}")
        made = True
    ns = nsenter(layout)
    _ip("link", "set", "lo", "up", ns=ns)
    # Per namespace: the host's own setting is not touched.
    subprocess.run(as_root([*ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]), capture_output=True, timeout=10)
    host = host_link(layout)
    if _ip("link", "show", NS_LINK, ns=ns, check=False).returncode:
        _ip("link", "del", host, check=False)      # a stale host end
        _ip("link", "add", NS_LINK, "type", "veth", "peer", "name", host, "netns", str(os.getpid()),
            ns=ns)
        made = True
    net = link_net(layout)
    _ip("addr", "replace", f"{ns_addr(layout)}/{net.prefixlen}", "dev", NS_LINK, ns=ns)
    _ip("link", "set", NS_LINK, "up", ns=ns)
    _ip("route", "replace", "default", "via", host_addr(layout), ns=ns)
    _ip("addr", "replace", f"{host_addr(layout)}/{net.prefixlen}", "dev", host)
    _ip("link", "set", host, "up")
    other = route_holder(floating_range)
    if other and other != host:
        # `replace` would take the route from the other stack without a word,
        # and its floating IPs would stop answering the host.
        raise StackError(f"the host already routes {floating_range} through {other}, another "
                         "stack's link: give this stack another floating_range (or unstack the "
                         "other)")
    _ip("route", "replace", floating_range, "via", ns_addr(layout), "dev", host)
    if _ip("link", "show", GW, ns=ns, check=False).returncode:
        _ip("link", "add", GW, "type", "veth", "peer", "name", GW_PORT, ns=ns)
        made = True
    _ip("addr", "replace", gateway_cidr, "dev", GW, ns=ns)
    for dev in (GW, GW_PORT):
        _ip("link", "set", dev, "up", ns=ns)
    # What the host sends a guest leaves gw-ex with its TCP checksum still to
    # be filled (offload), and the userspace switch passes it on as it is:
    # the guest would drop every such segment. Filled in software instead.
    ethtool = shutil.which("ethtool") or "/sbin/ethtool"
    subprocess.run(as_root([*ns, ethtool, "-K", GW, "tx", "off"]), capture_output=True, timeout=30)
    return made


def remove(layout) -> None:
    """The namespace's bind mount and file: the kernel then frees the
    namespace and its links (the host end and its route with them) once no
    process is left in it."""
    p = path(layout)
    if p.exists():
        subprocess.run(as_root(["umount", str(p)]), capture_output=True, timeout=30)
        try:
            p.unlink()
        except OSError:
            pass
    _ip("link", "del", host_link(layout), check=False)
