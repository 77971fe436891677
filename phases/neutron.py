"""Neutron (`q-svc`): DevStack's lib/neutron with ML2/OVN, its default.

Neutron 29 has no `neutron-server` any more: the API is a WSGI application
(`neutron.wsgi.api:application`) served by uwsgi like the other APIs, and
the OVN mechanism driver's database sync and consistency checks run in a
process of their own, `neutron-ovn-maintenance-worker` (pane `q-ovn-maint`
in the neutron group, as DevStack runs it beside the API). With OVN no
agent talks RPC to the server, so no RPC server runs.

After start, the networks DevStack's create_neutron_initial_network makes:
`public` (external, flat on the `public` physical network, FLOATING_RANGE),
`private` in the demo project (FIXED_RANGE) and `router1` between them,
made in-process over the API and looked up first, so a rerun makes nothing
twice.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import time

from stacktui import inifile, privileged, svckit
from stacktui.errors import StackError
from stacktui.fsutil import make_dirs
from stacktui.phases import verify as checks
from stacktui.service import ConfigFile, ServiceSpec, default_inputs, pane_spec

SERVICES = ("q-svc", "q-ovn-agent")
# The OVN agent's metadata extension: haproxy in each network's ovnmeta
# namespace, iptables for its checksum rule.
PACKAGES = ("haproxy", "iptables")
READY_TIMEOUT = 180
MAINT_PANE = "q-ovn-maint"
AGENT = "q-ovn-agent"
PUBLIC_NET, PRIVATE_NET, ROUTER = "public", "private", "router1"
PUBLIC_SUBNET, PRIVATE_SUBNET = "public-subnet", "private-subnet"


def _etc(ctx):
    return ctx.layout.etc / "neutron"


def metadata_enabled(answers) -> bool:
    """The OVN agent with its metadata extension serves 169.254.169.254
    (DevStack's q-ovn-agent, OVN_AGENT_EXTENSIONS=metadata)."""
    return AGENT in answers.services


def metadata_secret(answers) -> str:
    """The secret nova's metadata API and the agent share (DevStack's
    METADATA_PROXY_SHARED_SECRET), derived from the service password so that
    reruns agree and nothing new has to be kept."""
    import hashlib
    import hmac
    return hmac.new(answers.password("service").encode(), b"stacktui metadata proxy",
                    hashlib.sha256).hexdigest()


def metadata_host(answers, layout) -> str:
    """Where the agent reaches nova's metadata API: from the stack's network
    namespace that is the host's end of its link (n-api-meta listens there
    too, see phases/nova.py), since HOST_IP may be loopback."""
    from stacktui import netns
    from stacktui.phases import ovn
    return netns.host_addr(layout) if ovn.uses_netns(answers) else answers.data["host_ip"]


def _data(layout):
    return layout.data / "neutron"


def _conf_args(ctx) -> list:
    return ["--config-file", _etc(ctx) / "neutron.conf", "--config-file", _etc(ctx) / "ml2_conf.ini"]


def _env(ctx) -> dict:
    # TMPDIR: neutron's WSGI workers agree on a start time through a file
    # in the temp folder; it belongs under DEST, not in /tmp.
    return {"OS_NEUTRON_CONFIG_DIR": str(_etc(ctx)),
            "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini",
            "TMPDIR": str(_data(ctx.layout) / "tmp")}


# Bumped when configure writes something new (the one-process shim for the
# OVN agent): the engine's fingerprints then redo configure first.
REVISION = 2


def inputs(answers, phase):
    from stacktui.phases import ovn
    got = default_inputs(answers, "neutron")
    got["revision"] = REVISION
    for infra in ("mysql", "rabbit"):
        got["ports"][infra] = answers.port(infra)
    got["ovn"] = [ovn.nb_connection(answers), ovn.sb_connection(answers)]
    got["nova"] = "n-api" in answers.services
    got["ranges"] = [answers.fixed_range, answers.floating_range]
    got["metadata"] = metadata_enabled(answers) and answers.port("n-api-meta")
    got["netns"] = ovn.uses_netns(answers)
    return got


_service_auth = svckit.service_auth


def config(ctx) -> tuple[dict, dict]:
    """(neutron.conf, ml2_conf.ini) as sections."""
    from stacktui.phases import ovn, rabbit
    a, L = ctx.answers, ctx.layout
    nova = "n-api" in a.services
    authtoken = svckit.authtoken(a, "neutron")
    if "memcached" in a.services:
        from stacktui.phases import memcached
        authtoken["memcached_servers"] = memcached.servers(a)
    neutron_conf = {
        "DEFAULT": {"debug": False, "use_stderr": True, "core_plugin": "ml2",
                    "service_plugins": "ovn-router", "auth_strategy": "keystone",
                    "transport_url": rabbit.transport_url(a), "host": _host(),
                    "allow_overlapping_ips": True, "api_paste_config": _etc(ctx) / "api-paste.ini",
                    "state_path": _data(L),
                    # nova learns of plugged ports (vif-plugged events) this way.
                    "notify_nova_on_port_status_changes": nova,
                    "notify_nova_on_port_data_changes": nova},
        "database": {"connection": svckit.db_url(a, L, "neutron")},
        "keystone_authtoken": authtoken,
        "nova": _service_auth(a, "nova") if nova else None,
        "oslo_concurrency": {"lock_path": _data(L) / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_policy": svckit.policy_files(_etc(ctx)),
        "agent": {"root_helper": "", "root_helper_daemon": ""},
    }
    ml2 = {
        "ml2": {"type_drivers": "local,flat,vlan,geneve", "project_network_types": "geneve",
                "mechanism_drivers": "ovn", "extension_drivers": "port_security",
                "overlay_ip_version": 6 if ":" in a.host_ip else 4},
        "ml2_type_flat": {"flat_networks": ovn.PHYSICAL_NETWORK},
        "ml2_type_vlan": {"network_vlan_ranges": ovn.PHYSICAL_NETWORK},
        "ml2_type_geneve": {"vni_ranges": "1:65536", "max_header_size": 38},
        "securitygroup": {"enable_security_group": True},
        "ovn": {"ovn_nb_connection": ovn.nb_connection(a), "ovn_sb_connection": ovn.sb_connection(a),
                "ovn_l3_scheduler": "leastloaded", "ovn_metadata_enabled": metadata_enabled(a),
                "enable_distributed_floating_ip": False,
                # Where this stack's Open vSwitch keeps vhost-user sockets
                # (default /var/run/openvswitch, a system OVS's).
                "vhost_sock_dir": ovn.ovs_run(L),
                # In the stack's namespace libvirt makes each guest's tap and
                # puts it on br-int: os-vif's own tap (the default) cannot be
                # re-plugged while its guest runs (it sets the MAC of a tap
                # that is up: EBUSY), so nova-compute would not restart.
                "ovs_create_tap": False if ovn.uses_netns(a) else None},
    }
    return neutron_conf, ml2


def agent_config(ctx) -> dict:
    """ovn_agent.ini: DevStack's configure_ovn_agent, with every place under
    DEST and the databases reached by their unix sockets (the agent runs in
    the stack's network namespace, where HOST_IP may not be)."""
    from stacktui.phases import ovn
    a, L = ctx.answers, ctx.layout
    helper = f"{ctx.venv_bin('privsep-helper')} --config-file {_etc(ctx) / 'ovn_agent.ini'}"
    # As root, every privileged context of neutron's runs its helper
    # directly: the default goes through sudo, which may not be there. An
    # ordinary user's agent asks sudo, naming the venv's helper (sudo's
    # secure_path does not reach it).
    root_helper = "" if privileged.is_root() else "sudo -n"
    if not privileged.is_root():
        helper = f"sudo -n {helper}"
    conf = {
        "DEFAULT": {"debug": False, "use_stderr": True, "state_path": _data(L) / "ovn-agent",
                    "nova_metadata_host": metadata_host(a, L),
                    "nova_metadata_port": a.port("n-api-meta") if "n-api-meta" in a.services
                    else 8775,
                    "metadata_proxy_shared_secret": metadata_secret(a),
                    "metadata_workers": 1},
        # kill_scripts_path: its default is /etc/neutron/kill_scripts/.
        "agent": {"extensions": "metadata", "root_helper": root_helper, "root_helper_daemon": "",
                  "kill_scripts_path": _etc(ctx) / "kill_scripts"},
        "ovs": {"ovsdb_connection": f"unix:{ovn.ovs_db_sock(L)}"},
        "ovn": {"ovn_sb_connection": f"unix:{ovn.sb_sock(L)}", "vhost_sock_dir": ovn.ovs_run(L)},
    }
    for section in ("privsep", "privsep_dhcp_release", "privsep_ovs_vsctl", "privsep_namespace",
                    "privsep_conntrack", "privsep_link"):
        conf[section] = {"helper_command": helper}
    return conf


# The agent's namespaces: a private /run (a tmpfs) where `ip netns` and
# pyroute2 keep the ovnmeta-* namespaces, so nothing appears in the host's
# /run/netns; and a pid namespace, so the haproxy daemons it starts end
# with the pane.
AGENT_NS_SCRIPT = """\
mount -t tmpfs -o mode=0755 stacktui-run /run
mkdir -p /run/netns
exec "$@"
"""


def agent_argv(ctx) -> list:
    from stacktui import netns
    from stacktui.phases import ovn
    L = ctx.layout
    argv = svckit.one_process(ctx, _etc(ctx), "neutron-ovn-agent",
                              "--config-file", _etc(ctx) / "neutron.conf",
                              "--config-file", _etc(ctx) / "ovn_agent.ini")
    # An ordinary user's agent: root makes its namespaces, then the agent
    # runs as the user (privileged.as_me) and asks sudo for its privileged
    # helpers (agent_config), as DevStack's agents do.
    wrapped = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
               "--kill-child", "--", "sh", "-ec", AGENT_NS_SCRIPT, "ovn-agent-ns",
               *privileged.as_me(), "tini", "--", *argv]
    wrapped = [*netns.nsenter(L), *wrapped] if ovn.uses_netns(ctx.answers) else wrapped
    if privileged.is_root():
        return wrapped
    keep = {k: os.environ[k] for k in ("HOME", "USER", "LOGNAME", "PATH", "LANG")
            if k in os.environ}
    return privileged.as_root(wrapped, env={**keep, **_env(ctx)})


def _host() -> str:
    import socket
    return socket.gethostname()


def configure(ctx):
    etc, data = _etc(ctx), _data(ctx.layout)
    for d in (etc, data, data / "locks", data / "tmp"):
        make_dirs(d, mode=0o750)
    svckit.copy_paste_ini(ctx.layout.venv / "etc" / "neutron" / "api-paste.ini",
                          etc / "api-paste.ini", data / "healthcheck_disable")
    svckit.write_one_process(etc)
    neutron_conf, ml2 = config(ctx)
    inifile.write(etc / "neutron.conf", {k: v for k, v in neutron_conf.items() if v is not None},
                  mode=0o640)
    inifile.write(etc / "ml2_conf.ini", ml2, mode=0o640)
    if metadata_enabled(ctx.answers):
        (data / "ovn-agent").mkdir(parents=True, exist_ok=True, mode=0o750)
        inifile.write(etc / "ovn_agent.ini", agent_config(ctx), mode=0o640)


def init(ctx):
    ctx.run([ctx.venv_bin("neutron-db-manage"), *_conf_args(ctx), "upgrade", "heads"],
            env=_env(ctx), timeout=900)


def before_up(answers, layout):
    (_data(layout) / "tmp").mkdir(parents=True, exist_ok=True)


def panes(ctx) -> list[dict]:
    a = ctx.answers
    if "q-svc" not in a.services:
        return []
    api = pane_spec(ctx, "q-svc", svckit.uwsgi_argv(ctx, "q-svc", "neutron.wsgi.api:application"),
                    env=_env(ctx), ready=svckit.http_ready(ctx, "q-svc", "/"), port=a.port("q-svc"))
    maint = pane_spec(ctx, MAINT_PANE, [ctx.venv_bin("neutron-ovn-maintenance-worker"),
                                        *map(str, _conf_args(ctx))], env=_env(ctx))
    maint["group"] = "neutron"
    specs = [api, maint]
    if metadata_enabled(a):
        specs.append(pane_spec(ctx, AGENT, agent_argv(ctx), env=_env(ctx), stop_timeout=20))
    return specs


def accounts(ctx):
    from stacktui.keystone_api import KeystoneAdmin
    a = ctx.answers
    ks = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region)
    ks.service_user("neutron", a.password("service"))
    ks.endpoints(ks.service("neutron", "network", "Neutron networking service"),
                 ctx.endpoint("q-svc"))


def after_start(ctx):
    from stacktui.keystone_api import KeystoneAdmin
    a = ctx.answers
    ks = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region)
    net = NetworkAPI(ks.s, ctx.endpoint("q-svc") + "/v2.0")
    net.wait_up(timeout=120)
    demo = ks.project("demo", "the demo project DevStack makes")
    made = initial_networks(net, a, demo)
    ctx.say(f"neutron: {PUBLIC_NET} ({a.data['floating_range']}), {PRIVATE_NET} "
            f"({a.data['fixed_range']}) and {ROUTER} " + (f"made ({', '.join(made)})" if made
                                                           else "already there"))


# ------------------------------------------------------------ networks

class NetworkAPI:
    """The few Neutron calls the initial networks need, by URL: the admin
    token may predate the network endpoint in the catalog."""

    def __init__(self, sess, url: str):
        self.s, self.url = sess, url.rstrip("/")

    def wait_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self.s.get(self.url + "/networks", params={"limit": 1}, raise_exc=False)
                if r.status_code == 200:
                    return
                what = f"HTTP {r.status_code}"
            except Exception as e:  # noqa: BLE001 - connection refused while it boots
                what = str(e)
            if time.monotonic() > deadline:
                raise StackError(f"neutron's API does not answer at {self.url} ({what}); "
                                 "see `stacktui logs q-svc`")
            time.sleep(1)

    def find(self, kind: str, **params) -> dict | None:
        items = self.s.get(f"{self.url}/{kind}", params=params, raise_exc=True).json()[kind]
        return items[0] if items else None

    def create(self, kind: str, body: dict) -> dict:
        one = kind[:-1]
        return self.s.post(f"{self.url}/{kind}", json={one: body}, raise_exc=True).json()[one]

    def put(self, path: str, body: dict) -> dict:
        return self.s.put(f"{self.url}/{path}", json=body, raise_exc=True).json()


def initial_networks(net: NetworkAPI, answers, demo_project: str) -> list[str]:
    """DevStack's public and private networks and router1; returns what was made."""
    from stacktui.phases import ovn
    made = []
    floating = ipaddress.ip_network(answers.floating_range, strict=False)
    fixed = ipaddress.ip_network(answers.fixed_range, strict=False)
    ipv = floating.version

    public = net.find("networks", name=PUBLIC_NET)
    if not public:
        public = net.create("networks", {
            "name": PUBLIC_NET, "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": ovn.PHYSICAL_NETWORK, "is_default": True})
        made.append(PUBLIC_NET)
    pub_sub = net.find("subnets", name=PUBLIC_SUBNET, network_id=public["id"])
    if not pub_sub:
        # DevStack's PUBLIC_NETWORK_GATEWAY: the range's first address; no DHCP.
        pub_sub = net.create("subnets", {
            "name": PUBLIC_SUBNET, "network_id": public["id"], "ip_version": ipv,
            "cidr": str(floating), "gateway_ip": str(floating[1]), "enable_dhcp": False})
        made.append(PUBLIC_SUBNET)

    private = net.find("networks", name=PRIVATE_NET, project_id=demo_project)
    if not private:
        private = net.create("networks", {"name": PRIVATE_NET, "project_id": demo_project})
        made.append(PRIVATE_NET)
    priv_sub = net.find("subnets", name=PRIVATE_SUBNET, network_id=private["id"])
    if not priv_sub:
        priv_sub = net.create("subnets", {
            "name": PRIVATE_SUBNET, "network_id": private["id"], "project_id": demo_project,
            "ip_version": fixed.version, "cidr": str(fixed), "gateway_ip": str(fixed[1])})
        made.append(PRIVATE_SUBNET)

    router = net.find("routers", name=ROUTER, project_id=demo_project)
    if not router:
        router = net.create("routers", {"name": ROUTER, "project_id": demo_project})
        made.append(ROUTER)
    if (router.get("external_gateway_info") or {}).get("network_id") != public["id"]:
        net.put(f"routers/{router['id']}", {"router": {"external_gateway_info": {
            "network_id": public["id"]}}})
    if not net.find("ports", device_id=router["id"], network_id=private["id"]):
        net.put(f"routers/{router['id']}/add_router_interface", {"subnet_id": priv_sub["id"]})
        made.append(f"{ROUTER} interface on {PRIVATE_SUBNET}")
    return made


def check(sess, answers) -> str:
    """For verify: the initial networks and router are there, a port on
    `private` gets an address, and OVN's controller reports as an agent."""
    url = f"http://{answers.url_host()}:{answers.port('q-svc')}/v2.0"
    net = NetworkAPI(sess, url)
    public = net.find("networks", name=PUBLIC_NET)
    private = net.find("networks", name=PRIVATE_NET)
    router = net.find("routers", name=ROUTER)
    missing = [n for n, x in ((PUBLIC_NET, public), (PRIVATE_NET, private), (ROUTER, router)) if not x]
    if missing:
        raise StackError(f"neutron lacks {', '.join(missing)} (made after q-svc starts)")
    port = net.create("ports", {"name": "stacktui-verify", "network_id": private["id"]})
    try:
        ips = [f["ip_address"] for f in port.get("fixed_ips") or []]
        if not ips:
            raise StackError("a port on private got no address")
    finally:
        sess.delete(f"{url}/ports/{port['id']}", raise_exc=False)
    deadline = time.monotonic() + 60
    while True:
        agents = sess.get(f"{url}/agents", raise_exc=True).json()["agents"]
        ctl = [ag for ag in agents if "OVN Controller" in (ag.get("agent_type") or "")]
        if ctl and all(ag.get("alive") for ag in ctl):
            break
        if time.monotonic() > deadline:
            raise StackError("no live OVN controller agent in `network agent list` "
                             "(see `stacktui logs ovn-controller`)")
        time.sleep(2)
    return (f"neutron: {PUBLIC_NET}, {PRIVATE_NET}, {ROUTER} present; a port on {PRIVATE_NET} "
            f"got {ips[0]}; {len(ctl)} OVN controller agent(s) alive on "
            f"{', '.join(sorted({ag['host'] for ag in ctl}))}")


# ------------------------------------------------------------ for nova.conf

def nova_neutron_section(answers) -> dict:
    """nova.conf's [neutron] when q-svc runs: nova's service credentials,
    the region and the endpoint found through the catalog (DevStack's
    configure_neutron_nova)."""
    meta = metadata_enabled(answers)
    return {**svckit.service_auth(answers, "nova"), "valid_interfaces": "public",
            "service_metadata_proxy": meta,
            "metadata_proxy_shared_secret": metadata_secret(answers) if meta else None}


def cleanup(ctx):
    for d in (_etc(ctx), _data(ctx.layout)):
        shutil.rmtree(d, ignore_errors=True)

def tempest(a, found) -> dict:
    return {"auth": {"create_isolated_networks": True},
            "network": {"region": a.region, "endpoint_type": "publicURL",
                        "project_network_cidr": a.fixed_range,
                        "floating_network_name": "public",
                        "public_network_id": found.get("public_network_id", "")},
            # Project subnets of either family are neutron's own business, not
            # the host's (DevStack's IP_VERSION defaults to 4+6).
            "network-feature-enabled": {"ipv6": True,
                                        "api_extensions": found.get("network_extensions", "")}}


SPEC = ServiceSpec(
    "neutron", SERVICES, tempest=tempest, verify=checks.check_neutron,
    configure=configure, init=init, panes=panes, accounts=accounts,
    after_start=after_start, before_up=before_up, cleanup=cleanup, inputs=inputs,
    ready_timeout=READY_TIMEOUT, packages=PACKAGES,
    databases={"neutron": ("neutron",)}, messaging=True,
    config_files=(ConfigFile("$NEUTRON_CONF", "neutron", None, "/etc/neutron/neutron.conf",
                             "neutron.conf"),
                  ConfigFile("$Q_PLUGIN_CONF_FILE", "neutron", "ml2_conf.ini",
                             "/etc/neutron/plugins/ml2/ml2_conf.ini", "neutron/ml2_conf.ini")),
    source_prefix={"neutron": "NEUTRON"}, port_vars={"q-svc": "Q_PORT"},
    replaces={"n-net": ("q-svc", "q-ovn-agent", "ovn-northd", "ovn-controller", "ovs-vswitchd",
                        "ovsdb-server"),
              "q-meta": ("q-ovn-agent",)},
    refused={
        "q-ovn-metadata-agent": "the OVN metadata agent is folded into q-ovn-agent",
        "q-fake": "the fake neutron agent is not supported",
        "q-qos": "QoS is a neutron extension, not a service; set it with "
                 "[[post-config|$NEUTRON_CONF]]",
        "q-trunk": "trunk is a neutron extension, not a service; set it with "
                   "[[post-config|$NEUTRON_CONF]]"},
    kolla_flags={"q-svc": ("enable_neutron",), "q-ovn-agent": ("enable_neutron",)},
    # stacktui's neutron is ML2/OVN, so Kolla's is too.
    kolla_globals={"neutron_plugin_agent": "ovn", "enable_ovn": "yes", "enable_openvswitch": "yes"},
    tempest_available={"neutron": "q-svc"}, tempest_scoped={"neutron": "q-svc"})
