"""End to end: Neutron with ML2/OVN the way DevStack runs it by default.

One install (keystone, glance, placement, MariaDB, RabbitMQ, q-svc and the
Open vSwitch / OVN panes) on free loopback ports, with passwords made of
every character that breaks naive quoting; then, in order: DevStack's
`public`, `private` and `router1` exist; a network, subnet and router made
with the stack's own `openstack` CLI; a port on `private` gets an address;
the OVN controller shows in `network agent list`; a restart of the neutron
group; a simulated reboot then `stacktui up`; and `unstack --all` leaves no
process, no link and no namespace behind on the host. The fast tests at the
end need no stack."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from tests.conftest import NASTY, stacktui
from tests.stackfix import (host_links, host_netns, installed_stack, kill_stack, osc, osc_json,
                            stack_ports, unstack_all, up_after_reboot)

SERVICES = ["mysql", "rabbit", "key", "g-api", "placement-api", "q-svc", "ovsdb-server",
            "ovs-vswitchd", "ovn-northd", "ovn-controller"]
PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "q-svc", "ovn-northd"]
# oslo.messaging cannot carry a `/` in the rabbit password (phases/rabbit.py).
PASSWORDS = {**NASTY, "rabbit": NASTY["rabbit"].replace("/", "")}
# Not DevStack's defaults: a host running another stack keeps its ranges.
FIXED, FLOATING = "10.91.0.0/22", "172.29.91.0/24"

pytestmark = pytest.mark.timeout(1500) if hasattr(pytest.mark, "timeout") else []


@pytest.fixture(scope="module")
def neutron_stack():
    if not shutil.which("ip"):
        pytest.skip("iproute2 missing")
    links, netns = host_links(), host_netns()
    with installed_stack("e2e-neutron-", {"database": "mysql", "enabled_services": SERVICES,
                                          "passwords": PASSWORDS, "fixed_range": FIXED,
                                          "floating_range": FLOATING},
                         ports=stack_ports(PORTED), links=links, netns=netns) as stack:
        yield stack


def test_install_verified_neutron(neutron_stack):
    out = neutron_stack["output"]
    assert "neutron: public, private, router1 present" in out, out[-3000:]
    assert "OVN controller agent(s) alive" in out
    # The userspace datapath: this machine's kernel has no openvswitch module.
    assert "br-ex" in out


def test_initial_networks(neutron_stack):
    nets = {n["Name"]: n for n in osc_json(neutron_stack, "network", "list", "--long")}
    assert {"public", "private"} <= set(nets)
    public = osc_json(neutron_stack, "network", "show", "public")
    assert public["router:external"] in (True, "External")
    assert public["provider:network_type"] == "flat"
    assert public["provider:physical_network"] == "public"
    subnets = {s["Name"]: s for s in osc_json(neutron_stack, "subnet", "list")}
    assert subnets["public-subnet"]["Subnet"] == FLOATING
    assert subnets["private-subnet"]["Subnet"] == FIXED
    router = osc_json(neutron_stack, "router", "show", "router1")
    gw = router["external_gateway_info"]
    gw = json.loads(gw) if isinstance(gw, str) else gw
    assert gw["network_id"] == public["id"]
    demo = osc_json(neutron_stack, "project", "show", "demo")["id"]
    assert router["project_id"] == demo
    ports = osc_json(neutron_stack, "port", "list", "--router", "router1", "--long")
    assert any("10.91." in json.dumps(p.get("Fixed IP Addresses")) for p in ports), ports


def test_cli_network_subnet_router(neutron_stack):
    s = neutron_stack
    net = osc_json(s, "network", "create", "e2e-net")
    sub = osc_json(s, "subnet", "create", "--network", "e2e-net", "--subnet-range",
                   "192.168.219.0/24", "e2e-subnet")
    assert sub["network_id"] == net["id"]
    router = osc_json(s, "router", "create", "e2e-router")
    osc(s, "router", "add", "subnet", "e2e-router", "e2e-subnet")
    osc(s, "router", "set", "--external-gateway", "public", "e2e-router")
    shown = osc_json(s, "router", "show", "e2e-router")
    assert shown["id"] == router["id"]
    ifaces = osc_json(s, "port", "list", "--router", "e2e-router")
    assert any("192.168.219.1" in json.dumps(p["Fixed IP Addresses"]) for p in ifaces), ifaces
    # The router reached OVN's northbound database: a logical router of that name.
    dest = s["dest"]
    nb = subprocess.run(["ovn-nbctl", f"--db=unix:{dest}/run/ovn/ovnnb_db.sock", "lr-list"],
                        capture_output=True, text=True, timeout=30)
    assert f"neutron-{router['id']}" in nb.stdout, nb.stdout + nb.stderr


def test_port_on_private_gets_an_address(neutron_stack):
    port = osc_json(neutron_stack, "port", "create", "--network", "private", "e2e-port")
    ips = port["fixed_ips"]
    ips = json.loads(ips) if isinstance(ips, str) else ips
    assert ips and ips[0]["ip_address"].startswith("10.91."), port
    osc(neutron_stack, "port", "delete", "e2e-port")


def test_agent_list_shows_ovn_controller(neutron_stack):
    deadline = time.monotonic() + 60
    while True:
        agents = osc_json(neutron_stack, "network", "agent", "list")
        ctl = [a for a in agents if "OVN Controller" in a["Agent Type"]]
        if ctl and all(a["Alive"] in (True, ":-)") for a in ctl):
            break
        assert time.monotonic() < deadline, agents
        time.sleep(2)
    assert ctl[0]["Binary"] == "ovn-controller"


def test_no_bridge_on_the_host(neutron_stack):
    # The userspace datapath's taps live in ovs-vswitchd's own namespace.
    new = host_links() - neutron_stack["links"]
    assert not new & {"br-int", "br-ex", "ovs-netdev", "genev_sys_6081"}, new


def test_restart_neutron_group(neutron_stack):
    s = neutron_stack
    before = {p["name"]: p["pid"] for p in status(s)}
    r = stacktui("--dest", s["dest"], "restart", "neutron", timeout=300)
    assert "q-svc: running" in r.stdout, r.stdout
    after = {p["name"]: p for p in status(s)}
    assert after["q-svc"]["pid"] != before["q-svc"]
    assert after["q-svc"]["state"] == "running"
    # The OVN panes were not part of it.
    assert after["ovn-northd"]["pid"] == before["ovn-northd"]
    nets = {n["Name"] for n in osc_json(s, "network", "list")}
    assert {"public", "private", "e2e-net"} <= nets
    port = osc_json(s, "port", "create", "--network", "private", "e2e-after-restart")
    assert port["fixed_ips"]
    osc(s, "port", "delete", "e2e-after-restart")


def status(stack) -> list[dict]:
    r = stacktui("--dest", stack["dest"], "status", "--json", check=False)
    if r.returncode == 0 and r.stdout.strip().startswith(("[", "{")):
        data = json.loads(r.stdout)
        return data["panes"] if isinstance(data, dict) else data
    from stacktui.client import Client
    from stacktui.paths import Layout
    return Client(Layout(stack["dest"])).status()


def links_gone(s, timeout=20) -> None:
    deadline = time.monotonic() + timeout
    while not host_links() <= s["links"] | {"lo"} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert host_links() <= s["links"] | {"lo"}, host_links() - s["links"]


def test_simulated_reboot_then_up(neutron_stack):
    """Every process killed, DEST/run gone (what a reboot leaves): `up`
    brings the switch back with its bridges, the chassis and the API."""
    s = neutron_stack
    dest = s["dest"]
    kill_stack(dest)
    # The switch's namespace died with it: nothing of it is left on the host
    # (the kernel frees a namespace and its veth ends asynchronously).
    links_gone(s)
    up_after_reboot(s, SERVICES)
    vsctl = ["ovs-vsctl", f"--db=unix:{dest}/run/ovs/db.sock", "--timeout=30", "list-br"]
    deadline = time.monotonic() + 30
    while True:
        bridges = subprocess.run(vsctl, capture_output=True, text=True, timeout=40).stdout.split()
        if {"br-ex", "br-int"} <= set(bridges) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert {"br-ex", "br-int"} <= set(bridges)
    test_agent_list_shows_ovn_controller(s)
    port = osc_json(s, "port", "create", "--network", "private", "e2e-after-up")
    assert port["fixed_ips"]
    osc(s, "port", "delete", "e2e-after-up")


def test_unstack_all_leaves_nothing(neutron_stack):
    """Last: stops everything and checks the host is as it was."""
    s = neutron_stack
    unstack_all(s["dest"], grace=20)
    links_gone(s)
    assert host_netns() <= s["netns"]


# ------------------------------------------------------------ no stack needed

def test_nova_neutron_section_has_credentials():
    from stacktui.answers import Answers
    from stacktui.phases import neutron
    a = Answers()
    a.data.update(host_ip="127.0.0.1", passwords=dict(NASTY), ports={"key": 5001})
    sec = neutron.nova_neutron_section(a)
    assert sec["password"] == NASTY["service"]
    assert sec["auth_url"] == "http://127.0.0.1:5001"
    assert sec["username"] == "nova" and sec["region_name"] == "RegionOne"


def test_ovs_panes_use_dest_and_netns(tmp_path, monkeypatch):
    from stacktui.answers import Answers
    from stacktui.paths import Layout
    from stacktui.phases import ovn
    if not shutil.which("ovsdb-server"):
        pytest.skip("openvswitch-switch not installed")
    monkeypatch.setattr(ovn, "kernel_datapath", lambda: False)
    a = Answers()
    a.data.update(host_ip="127.0.0.1", dest=str(tmp_path), ports={"ovn-northd": 16641},
                  enabled_services=SERVICES, passwords=dict(NASTY))

    class Ctx:
        answers, layout = a, Layout(tmp_path)

    specs = {s["name"]: s for s in ovn.panes(Ctx())}
    assert set(specs) == {"ovsdb-server", "ovs-vswitchd", "ovn-northd", "ovn-controller"}
    # The userspace switch runs in the stack's own network namespace
    # (stacktui/netns.py), where libvirt plugs guests' taps into br-int.
    from stacktui import netns
    assert specs["ovs-vswitchd"]["argv"][:len(netns.nsenter(Ctx.layout))] == netns.nsenter(Ctx.layout)
    assert str(tmp_path / "run") in " ".join(netns.nsenter(Ctx.layout))
    assert "--disable-system" in specs["ovs-vswitchd"]["argv"]
    db = " ".join(specs["ovsdb-server"]["argv"])
    assert "ptcp:16641:127.0.0.1" in db and "ptcp:16642:127.0.0.1" in db
    assert specs["ovsdb-server"]["ready"] == {"tcp": ["127.0.0.1", 16642]}
    for s in specs.values():
        assert s["env"]["OVS_RUNDIR"].startswith(str(tmp_path))
        assert all("/var/run" not in x for x in s["argv"])
