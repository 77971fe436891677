"""End to end: the Octavia plugin (plugins/octavia) with the OVN provider.

One install, shared by the module: a DevStack local.conf with neutron on
ML2/OVN (the userspace datapath this machine allows), `enable_plugin
octavia URL` and `enable_plugin ovn-octavia-provider URL`, imported with
`import-localconf` and installed as is; o-api and o-da come from the plugin
package, found on the stacktui commands' PYTHONPATH. Then a load balancer, a TCP
listener, a pool and two members on `private` reach ACTIVE, and a request to
the VIP from a third port on `private` reaches a member. The members and the
client are network namespaces the test makes, each plugged into br-int by a
veth pair whose switch end lives in ovs-vswitchd's own namespace, bound to a
neutron port by its iface-id, as a guest's tap would be.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from tests.conftest import NASTY, stack_processes, stacktui
from tests.pluginfix import plugin_on_path
from tests.stackfix import installed_stack, pane_rss_mb, stack_ports

SERVICES = ["mysql", "rabbit", "key", "q-svc", "ovsdb-server", "ovs-vswitchd", "ovn-northd",
            "ovn-controller", "o-api", "o-da"]
PORTED = ["key", "mysql", "rabbit", "q-svc", "ovn-northd", "o-api"]
# oslo.messaging cannot carry a `/` in the rabbit password (phases/rabbit.py).
PASSWORDS = {**NASTY, "rabbit": NASTY["rabbit"].replace("/", "")}
FIXED, FLOATING = "10.93.0.0/22", "172.29.93.0/24"
LB_SCRIPT = Path(__file__).parent / "data" / "octavia_lb.py"

pytestmark = pytest.mark.timeout(1200) if hasattr(pytest.mark, "timeout") else []


def sh(*argv, check=True, **kw):
    return subprocess.run([str(a) for a in argv], check=check, capture_output=True, text=True,
                          timeout=60, **kw)


def lb_script(stack, *args) -> dict:
    r = subprocess.run([str(stack["dest"] / "venv" / "bin" / "python"), str(LB_SCRIPT), *args],
                       capture_output=True, text=True, env=stack["env"], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    return json.loads(r.stdout) if r.stdout.strip() else {}


def local_conf() -> str:
    """Octavia with the OVN provider as its DevStack plugin README enables it
    (the amphora services left out: the OVN provider needs none)."""
    return (
        f"[[local|localrc]]\nHOST_IP=127.0.0.1\nDATABASE_TYPE=mysql\n"
        f"FIXED_RANGE={FIXED}\nFLOATING_RANGE={FLOATING}\n"
        "disable_all_services\n"
        "enable_service mysql rabbit key q-svc ovsdb-server ovs-vswitchd ovn-northd ovn-controller\n"
        "enable_plugin octavia https://opendev.org/openstack/octavia\n"
        "enable_plugin ovn-octavia-provider https://opendev.org/openstack/ovn-octavia-provider\n"
        "enable_service octavia o-api o-da\n")


@pytest.fixture(scope="module")
def octavia_stack(tmp_path_factory):
    if not shutil.which("ip"):
        pytest.skip("iproute2 missing")
    work = tmp_path_factory.mktemp("octavia-plugin")
    conf = work / "local.conf"
    conf.write_text(local_conf())
    with plugin_on_path("octavia", work):
        imported = stacktui("import-localconf", conf, "-o", work / "stacktui.yaml", timeout=120)
        answers = yaml.safe_load((work / "stacktui.yaml").read_text())
        for key in ("dest", "host_ip", "ports"):
            answers.pop(key, None)
        with installed_stack("e2e-octavia-", {**answers, "passwords": PASSWORDS},
                             ports=stack_ports(PORTED), imported=imported,
                             imported_answers=answers) as stack:
            print(f"octavia stack installed in {stack['install_seconds']:.1f}s")
            yield stack


def test_import_maps_both_plugins_to_the_installed_package(octavia_stack):
    err = octavia_stack["imported"].stderr
    for name, line in (("octavia", 8), ("ovn-octavia-provider", 9)):
        assert f"local.conf:{line}: enable_plugin {name}: provided by the stacktui plugin " \
               "stacktui-octavia (o-api, o-da)" in err, err
    a = octavia_stack["imported_answers"]
    assert sorted(a["enabled_services"]) == sorted(SERVICES)
    assert (a["database"], a["fixed_range"], a["floating_range"]) == ("mysql", FIXED, FLOATING)


class Plug:
    """Network namespaces on `private`, removed again at the end."""

    def __init__(self, stack, info: dict):
        self.tag = "ot" + secrets.token_hex(2)
        self.info = info
        self.db = f"--db=unix:{stack['dest']}/run/ovs/db.sock"
        switch = [p for p in stack_processes(stack["dest"]) if p.name() == "ovs-vswitchd"]
        assert switch, "no ovs-vswitchd"
        self.switch_pid = switch[0].pid
        self.netns: list[str] = []
        self.links: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def in_switch(self, *argv, check=True):
        return sh("nsenter", "-t", self.switch_pid, "-n", *argv, check=check)

    def add(self, name: str) -> str:
        port = self.info["ports"][name]
        ns, inner, outer = f"{self.tag}{name}", f"{self.tag}{name}i", f"{self.tag}{name}o"
        sh("ip", "netns", "add", ns)
        self.netns.append(ns)
        sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
        sh("ip", "link", "set", inner, "netns", ns)
        sh("ip", "link", "set", outer, "netns", self.switch_pid)
        self.links.append(outer)
        self.in_switch("ip", "link", "set", outer, "up")
        # The userspace datapath does not fill in checksums a veth left to offload.
        self.in_switch("ethtool", "-K", outer, "tx", "off", check=False)
        prefix = self.info["cidr"].split("/")[1]
        for argv in (("link", "set", inner, "address", port["mac"]),
                     ("link", "set", inner, "mtu", str(self.info["mtu"] or 1400)),
                     ("addr", "add", f"{port['ip']}/{prefix}", "dev", inner),
                     ("link", "set", inner, "up"), ("link", "set", "lo", "up")):
            sh("ip", "-n", ns, *argv)
        sh("ip", "netns", "exec", ns, "ethtool", "-K", inner, "tx", "off", check=False)
        sh("ovs-vsctl", self.db, "--timeout=30", "add-port", "br-int", outer, "--", "set",
           "Interface", outer, f"external_ids:iface-id={port['id']}")
        return ns

    def serve(self, ns: str, root: Path, ip: str) -> None:
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", "8080", "--bind", ip,
             "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def close(self, stack) -> None:
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for link in self.links:
            sh("ovs-vsctl", self.db, "--timeout=10", "--if-exists", "del-port", "br-int", link,
               check=False)
            if psutil.pid_exists(self.switch_pid):
                self.in_switch("ip", "link", "del", link, check=False)
        for ns in self.netns:
            sh("ip", "netns", "del", ns, check=False)


def test_install_verified_octavia(octavia_stack):
    out = octavia_stack["output"]
    assert "start:octavia" in out
    log = (octavia_stack["dest"] / "logs" / "stack.log").read_text()
    assert "octavia: providers " in log and "ovn" in log.split("octavia: providers ", 1)[1][:200]
    assert "stacktui_octavia/lock.txt)" in log


def test_lb_listener_pool_members_active_and_vip_reaches_a_member(octavia_stack, tmp_path):
    s = octavia_stack
    info = lb_script(s, "ports", "m1", "m2", "c")
    plug = Plug(s, info)
    try:
        for name in ("m1", "m2"):
            root = tmp_path / name
            root.mkdir()
            (root / "index.html").write_text(f"member {name}\n")
            plug.serve(plug.add(name), root, info["ports"][name]["ip"])
        client = plug.add("c")
        lb = lb_script(s, "lb", info["ports"]["m1"]["ip"], info["ports"]["m2"]["ip"])
        assert lb["lb"][0] == "ACTIVE" and lb["listener"] == "ACTIVE" and lb["pool"] == "ACTIVE"
        assert lb["members"] == ["ACTIVE", "ACTIVE"], lb
        deadline = time.monotonic() + 90
        while True:
            r = sh("ip", "netns", "exec", client, "curl", "-s", "--max-time", "3",
                   f"http://{lb['vip']}/", check=False)
            if r.stdout.startswith("member m"):
                break
            assert time.monotonic() < deadline, (lb, r.returncode, r.stdout, r.stderr)
            time.sleep(2)
        print(f"VIP {lb['vip']} answered {r.stdout.strip()!r}; RSS MB {pane_rss_mb(s)}")
    finally:
        plug.close(s)
        lb_script(s, "delete")


def test_import_localconf_maps_octavia_plugins_and_names_amphora_services(tmp_path):
    """No stack: DevStack's usual Octavia lines, with the plugin installed,
    become o-api and o-da; the amphora services say why they are left out."""
    conf = tmp_path / "local.conf"
    conf.write_text("[[local|localrc]]\nHOST_IP=127.0.0.1\n"
                    "enable_plugin octavia https://opendev.org/openstack/octavia\n"
                    "enable_plugin ovn-octavia-provider https://opendev.org/openstack/ovn-octavia-provider\n"
                    "enable_service o-api o-cw o-hm o-hk o-da\n")
    with plugin_on_path("octavia", tmp_path):
        r = stacktui("import-localconf", conf, "-o", tmp_path / "a.yaml", timeout=120)
    services = yaml.safe_load((tmp_path / "a.yaml").read_text())["enabled_services"]
    assert {"o-api", "o-da", "q-svc", "ovn-northd"} <= set(services)
    assert not {"o-cw", "o-hm", "o-hk"} & set(services)
    assert "local.conf:3: enable_plugin octavia: provided by the stacktui plugin stacktui-octavia " \
           "(o-api, o-da)" in r.stderr
    assert "local.conf:4: enable_plugin ovn-octavia-provider: provided by" in r.stderr
    assert "o-cw: the Octavia controller worker, which only amphora load balancers need" in r.stderr
