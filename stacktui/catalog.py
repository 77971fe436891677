"""The one table of services stacktui knows.

Every other module (answers validation, plan, host checks, phases, wizard)
reads names, groups, ports, dependencies and RAM estimates from here, so they
never disagree. Names are DevStack's short names (``ENABLED_SERVICES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Service:
    name: str                 # DevStack short name: key, g-api, n-cpu ...
    group: str                # DevStack group wildcard: keystone, glance, nova ...
    title: str                # what a person calls it
    port: int | None = None   # default listening port, overridable in answers["ports"]
    needs: tuple[str, ...] = ()   # services that must be enabled with this one
    ram_mb: int = 0           # resident memory once running (see bench/measure_rss.py)
    disk_mb: int = 0          # code + data under DEST
    workers: int = 0          # processes it forks per API worker setting
    module: str | None = None  # phases/<module>.py that deploys it
    package: str | None = None  # PyPI project installed into the venv
    infra: bool = False       # database / queue: stopped only by `unstack --all`
    implemented: bool = False  # stacktui can deploy it today
    replaced_by: str | None = None  # for retired DevStack names
    notes: str = ""


def _s(*args, **kw) -> Service:
    return Service(*args, **kw)


# RAM figures for key, g-api and placement-api are measured on the reference
# machine (Debian 12, 2 cores) after start with two uwsgi workers each; the
# others are DevStack gate observations until their phases land.
SERVICES: dict[str, Service] = {s.name: s for s in [
    _s("key", "keystone", "Keystone identity API", 5000, (), 260, 350, 2,
       "keystone", "keystone", implemented=True),
    _s("g-api", "glance", "Glance image API", 9292, ("key",), 230, 400, 2,
       "glance", "glance", implemented=True),
    _s("placement-api", "placement", "Placement API", 8778, ("key",), 200, 250, 2,
       "placement", "openstack-placement", implemented=True),
    _s("placement-client", "placement", "Placement client wiring for nova", None,
       ("placement-api",), 0, 0, 0),
    # mysql to n-cpu: tree RSS measured by bench/bench_nova.py after a server
    # boot (one worker each on 2 cores); n-api counts the 26 MB empty network
    # API that runs beside it when q-svc is off.
    _s("mysql", "mysql", "MariaDB database", 3306, (), 95, 600, 0, "mysql", infra=True, implemented=True),
    _s("rabbit", "rabbit", "RabbitMQ message queue", 5672, (), 125, 200, 0, "rabbit", infra=True, implemented=True),
    _s("memcached", "memcached", "memcached token cache", 11211, (), 10, 0, 0, "memcached", infra=True, implemented=True),
    # etcd3, dstat and n-novnc measured in the DevStack-profile e2e after a
    # guest's console was opened (etcd holds only cinder's locks).
    _s("etcd3", "etcd3", "etcd coordination store", 2379, (), 30, 100, 0, "etcd3", infra=True,
       implemented=True),
    _s("dstat", "dstat", "resource statistics logger", None, (), 18, 0, 0, "dstat", implemented=True),
    _s("n-api", "nova", "Nova compute API", 8774, ("key", "placement-api", "g-api", "mysql", "rabbit"),
       200, 500, 2, "nova", "nova", implemented=True),
    _s("n-api-meta", "nova", "Nova metadata API", 8775, ("n-api",), 145, 0, 2, "nova", implemented=True),
    # n-cond and n-sch: one process each (stacktui/shims/one_process.py),
    # measured by bench/bench_devstack.py after a guest's boot; with
    # oslo.service's master beside its worker they took 250 to 263 MB.
    _s("n-cond", "nova", "Nova conductor", None, ("n-api",), 145, 0, 2, "nova", implemented=True),
    _s("n-sch", "nova", "Nova scheduler", None, ("n-api",), 135, 0, 2, "nova", implemented=True),
    _s("n-cpu", "nova", "Nova compute", None, ("n-api", "placement-api"), 160, 0, 1, "nova", implemented=True),
    _s("n-novnc", "nova", "noVNC console proxy", 6080, ("n-api",), 145, 0, 0, "novnc", implemented=True),
    # libvirt for n-cpu (phases/libvirt.py): not chosen by hand, see LIBVIRT_DAEMONS.
    # Measured by tests/test_e2e_libvirt.py with one guest up: the libvirtd
    # pane without its guests (daemon, tini, unshare) 35 MB, virtlogd's 20 MB.
    # Each running guest adds its qemu process to the libvirtd pane: 41 MB for
    # a cirros256 guest that touches little of its RAM, up to the flavor's RAM.
    _s("virtlogd", "libvirt", "libvirt log daemon (guest consoles)", None, (), 20, 0, 0, "libvirt",
       implemented=True),
    _s("libvirtd", "libvirt", "libvirt daemon (runs the qemu guests)", None, ("virtlogd",), 35, 10, 0,
       "libvirt", "libvirt-python", implemented=True),
    # cinder measured after volume create/delete and a restart, one uwsgi worker
    # (2 cores); c-vol is its parent plus one child per backend.
    _s("c-api", "cinder", "Cinder volume API", 8776, ("key", "mysql", "rabbit"), 160, 400, 2, "cinder", "cinder",
       implemented=True),
    _s("c-sch", "cinder", "Cinder scheduler", None, ("c-api",), 140, 0, 1, "cinder", implemented=True),
    _s("c-vol", "cinder", "Cinder volume service", None, ("c-api",), 255, 0, 1, "cinder", implemented=True),
    # c-bak measured after a 1 GiB backup to swift and its restore.
    _s("c-bak", "cinder", "Cinder backup service", None, ("c-api",), 140, 0, 1, "cinder",
       implemented=True),
    # q-svc measured with one uwsgi worker (235 MB) plus the OVN maintenance
    # worker it brings (365 MB: a master and one worker); the OVS/OVN daemons
    # after the initial networks, userspace datapath.
    _s("q-svc", "neutron", "Neutron server (ML2/OVN)", 9696,
       ("key", "mysql", "rabbit", "ovn-northd", "ovsdb-server"), 600, 500, 2, "neutron", "neutron",
       implemented=True),
    # q-ovn-agent measured by bench/bench_devstack.py with a guest on
    # `private`: the agent in one process (stacktui/shims/one_process.py),
    # about 150 MB, and the privsep daemons it starts (about 120 MB each,
    # three by then) and the network's metadata haproxy.
    _s("q-ovn-agent", "neutron", "Neutron OVN agent", None, ("q-svc", "ovn-controller"), 510, 0, 1, "neutron",
       implemented=True),
    _s("ovsdb-server", "ovs", "Open vSwitch database", None, (), 15, 20, 0, "ovn",
       implemented=True),
    _s("ovs-vswitchd", "ovs", "Open vSwitch switch (userspace datapath here)", None, ("ovsdb-server",),
       25, 0, 0, "ovn", implemented=True),
    _s("ovn-northd", "ovn", "OVN northbound daemon", 6641, ("ovsdb-server",), 15, 20, 0, "ovn",
       implemented=True),
    _s("ovn-controller", "ovn", "OVN controller", None, ("ovn-northd", "ovs-vswitchd"), 15, 0, 0, "ovn",
       implemented=True),
    # horizon measured after admin logins: 146 MB with one uwsgi worker, 281 MB with two.
    # Not DevStack's Apache on port 80 (an ordinary user cannot bind it), and
    # not 8080 either: that is swift's proxy in DevStack and Kolla alike.
    _s("horizon", "horizon", "Horizon dashboard", 8081, ("key",), 280, 300, 2, "horizon", "horizon",
       implemented=True),
    # Tempest has a venv of its own (phases/tempest.py), so no package in the services' venv.
    _s("tempest", "tempest", "Tempest test suite", None, ("key",), 0, 130, 0, "tempest",
       implemented=True),
    # swift (phases/swift.py): DevStack's ports (SWIFT_DEFAULT_BIND_PORT and the
    # *_PORT_BASE of node 1), each server one process (workers = 0); RSS
    # measured after the DevStack e2e's object round trip and a volume backup.
    # A storage server's row counts its background daemons' panes too,
    # measured in the DevStack e2e during tempest: 56 to 61 MB each, the object
    # auditor 152 MB (it keeps a zero-byte-file auditor child and forks one per
    # pass); object 61 + 4 daemons, container 61 + 3, account 58 + 3.
    _s("s-proxy", "swift", "Swift proxy", 8080, ("key", "memcached", "s-object", "s-container",
                                                   "s-account"), 80, 60, 0, "swift", "swift",
       implemented=True),
    _s("s-object", "swift", "Swift object server", 6613, ("s-proxy",), 390, 0, 0, "swift",
       implemented=True),
    _s("s-container", "swift", "Swift container server", 6611, ("s-proxy",), 235, 0, 0, "swift",
       implemented=True),
    _s("s-account", "swift", "Swift account server", 6612, ("s-proxy",), 230, 0, 0, "swift",
       implemented=True),
    # rsync for swift's replicators (phases/swift_rsync.py): brought along by the
    # storage servers. Not DevStack's 873 (root only); measured in the DevStack e2e.
    _s("s-rsync", "swift", "rsync daemon for swift's replicators", 6873,
       (), 4, 0, 0, "swift_rsync", implemented=True),
    _s("tls-proxy", "tls-proxy", "TLS terminating proxy", None, (), 30, 0, 0),
]}

# What n-cpu needs when stacktui/virt.py gives it libvirt: answers add these
# with n-cpu and drop them with the fake driver, so a user never lists them.
LIBVIRT_DAEMONS = ("virtlogd", "libvirtd")


# DevStack names that no longer exist or that stacktui replaces.
RETIRED: dict[str, str] = {
    "n-net": "nova-network was removed from OpenStack; Neutron (q-svc with OVN) replaces it",
    "n-obj": "nova-objectstore was removed; Glance stores images",
    "n-cert": "nova-cert was removed from Nova",
    "n-crt": "nova-cert was removed from Nova",
    "n-xvnc": "the Xen VNC proxy was removed; n-novnc replaces it",
    "n-cauth": "nova-consoleauth was removed; consoles authenticate in the proxy",
    "q-agt": "the Open vSwitch agent is replaced by OVN (ovn-controller) in DevStack's default",
    "q-l3": "the L3 agent is replaced by OVN's native routing",
    "q-dhcp": "the DHCP agent is replaced by OVN's native DHCP",
    "q-meta": "the metadata agent is replaced by q-ovn-agent",
    "q-lbaas": "Neutron LBaaS was removed; Octavia replaces it (not supported by stacktui)",
    "placement-client": "",
    "key-access": "",
}
RETIRED = {k: v for k, v in RETIRED.items() if v}

# Group wildcards, as DevStack's enable_service understands them.
GROUPS: dict[str, tuple[str, ...]] = {}
for _svc in SERVICES.values():
    GROUPS.setdefault(_svc.group, ())
    GROUPS[_svc.group] += (_svc.name,)
GROUPS["keystone"] = ("key",)
GROUPS["neutron"] = tuple(n for n in SERVICES if n.startswith("q-"))

PROFILES: dict[str, tuple[str, ...]] = {
    "minimal": ("key", "g-api", "placement-api"),
    "devstack": ("key", "n-api", "n-cpu", "n-cond", "n-sch", "n-novnc", "n-api-meta",
                 "placement-api", "placement-client", "g-api", "c-sch", "c-api", "c-vol",
                 "ovn-controller", "ovn-northd", "ovs-vswitchd", "ovsdb-server", "q-svc",
                 "q-ovn-agent", "horizon", "rabbit", "mysql", "etcd3", "dstat", "tempest"),
}
DEFAULT_PROFILE = "minimal"

# Why a profile member is left out when stacktui deploys the profile.
LEFT_OUT: dict[str, str] = {
    "placement-client": "not a process: nova is wired to placement whenever both run",
}


# DevStack names with nothing to run: accepted in enabled_services, and done
# by what they name (nova.conf's [placement] whenever nova and placement run).
WIRING: dict[str, str] = {
    "placement-client": LEFT_OUT["placement-client"],
}


def profile_services(name: str) -> tuple[list[str], dict[str, str]]:
    """The deployable members of a profile, and each left-out one with why."""
    keep, out = [], {}
    for n in PROFILES[name]:
        svc = SERVICES[n]
        if n in LEFT_OUT:
            out[n] = LEFT_OUT[n]
        elif not svc.implemented:
            out[n] = f"{svc.title} is not deployable by this stacktui version yet"
        else:
            keep.append(n)
    return keep, out

# stack.sh brings services up in this order (FIELD-NOTES section 1, step 7).
# libvirt comes with the infrastructure: it starts early (phases/libvirt.py
# START_EARLY), so it is up before nova-compute and stops after it.
GROUP_ORDER = ("mysql", "rabbit", "memcached", "libvirt", "etcd3", "keystone", "swift", "glance",
               "cinder", "ovs", "ovn", "neutron", "placement", "nova", "horizon",
               "tempest", "dstat", "tls-proxy")


def register(rows, api_paths=None) -> None:
    """Add a plugin's rows (stacktui.registry calls this); a name already
    known keeps its row, so a plugin cannot redefine a built-in service."""
    for row in rows:
        if row.name in SERVICES:
            continue
        SERVICES[row.name] = row
        if row.name not in GROUPS.get(row.group, ()):
            GROUPS[row.group] = GROUPS.get(row.group, ()) + (row.name,)
    for name, path in (api_paths or {}).items():
        API_PATHS.setdefault(name, path)


def get(name: str) -> Service:
    return SERVICES[name]


def expand(names) -> list[str]:
    """Expand group wildcards (``nova`` -> every ``n-*``), keep order, drop repeats."""
    out: list[str] = []
    for n in names:
        for m in (GROUPS[n] if n in GROUPS and n not in SERVICES else (n,)):
            if m not in out:
                out.append(m)
    return out


def missing_needs(names) -> dict[str, list[str]]:
    """For each chosen service, the services it needs that are not chosen."""
    chosen = set(names)
    return {n: [d for d in SERVICES[n].needs if d not in chosen]
            for n in names if n in SERVICES and any(d not in chosen for d in SERVICES[n].needs)}


def with_needs(names) -> list[str]:
    """The chosen services plus everything they need, transitively."""
    out = list(names)
    i = 0
    while i < len(out):
        for d in SERVICES[out[i]].needs if out[i] in SERVICES else ():
            if d not in out:
                out.append(d)
        i += 1
    return ordered(out)


def ordered(names) -> list[str]:
    """Services in the order stack.sh starts them, dependencies first."""
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    names = [n for n in names if n in SERVICES]
    return sorted(names, key=lambda n: (rank.get(SERVICES[n].group, 99), list(SERVICES).index(n)))


# Where each HTTP API answers (others listen on ports that are not HTTP:
# MariaDB, RabbitMQ, OVSDB).
API_PATHS = {"key": "/v3", "g-api": "", "placement-api": "", "n-api": "/v2.1",
             "n-api-meta": "", "c-api": "/v3", "q-svc": "", "horizon": "/dashboard/",
             "n-novnc": "/vnc_lite.html", "s-proxy": ""}


def ram_estimate_mb(names) -> int:
    return sum(SERVICES[n].ram_mb for n in names if n in SERVICES)


def disk_estimate_mb(names) -> int:
    return sum(SERVICES[n].disk_mb for n in names if n in SERVICES)
