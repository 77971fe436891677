"""Facts about this machine's network that answers and checks both need."""

from __future__ import annotations

# psutil and ipaddress are imported in the functions: answers imports this
# module on the TUI's way to its first paint, which needs neither.
import socket
from functools import lru_cache


def _addrs():
    import psutil
    for name, addrs in psutil.net_if_addrs().items():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                yield name, a


def local_addresses() -> set[str]:
    return {a.address.split("%")[0] for _, a in _addrs()}


def interfaces() -> list[str]:
    import psutil
    return sorted(psutil.net_if_addrs())


def local_networks() -> list[ipaddress._BaseNetwork]:
    import ipaddress
    nets = []
    for _, a in _addrs():
        if a.netmask:
            try:
                nets.append(ipaddress.ip_interface(f"{a.address.split('%')[0]}/{a.netmask}").network)
            except ValueError:
                pass
    return nets


def default_route_interface() -> str | None:
    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1] == "00000000" and int(parts[3], 16) & 2:
                    return parts[0]
    except (OSError, StopIteration, IndexError):
        pass
    return None


def default_host_ip(version: int = 4) -> str:
    """DevStack's HOST_IP: the first address of the default-route interface,
    else the first non-loopback address, else loopback."""
    import ipaddress
    fam = socket.AF_INET if version == 4 else socket.AF_INET6
    by_if: dict[str, list[str]] = {}
    for name, a in _addrs():
        if a.family == fam:
            ip = ipaddress.ip_address(a.address.split("%")[0])
            if not ip.is_link_local:
                by_if.setdefault(name, []).append(str(ip))
    dr = default_route_interface()
    if dr and by_if.get(dr):
        return by_if[dr][0]
    for name, ips in by_if.items():
        for ip in ips:
            if not ipaddress.ip_address(ip).is_loopback:
                return ip
    return "127.0.0.1" if version == 4 else "::1"
