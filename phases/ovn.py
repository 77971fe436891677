"""Open vSwitch and OVN (`ovsdb-server`, `ovs-vswitchd`, `ovn-northd`,
`ovn-controller`): DevStack's lib/neutron_plugins/ovn_agent, as panes.

Everything a system install keeps in /etc/openvswitch, /var/run/openvswitch
and /var/lib/ovn lives under DEST instead (databases in DEST/data/ovs and
DEST/data/ovn, sockets and pid files in DEST/run/ovs and DEST/run/ovn), so a
system Open vSwitch or another stack is never touched.

Without the openvswitch kernel module (FIELD-NOTES 4) the switch runs the
userspace datapath (`datapath_type=netdev`), and ovs-vswitchd runs in the
stack's network namespace (stacktui/netns.py), shared with libvirtd so a
guest's tap can join br-int, and holding the public gateway address: the
tap devices that back its bridges (br-int, br-ex) cannot clash with another
stack's bridges of the same name, and no bridge appears on the host.

The OVN northbound and southbound databases are served by the same
ovsdb-server as the local Open_vSwitch database (pane `ovsdb-server`): each
client names the database it wants, one process is one pane less to watch,
and the databases come up first, before anything that connects to them
(`stacktui up` starts panes in catalog order and waits for each).
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid

from stacktui import netns, privileged
from stacktui.errors import StackError
from stacktui.fsutil import atomic_write, make_dirs
from stacktui.service import ServiceSpec, pane_spec

SERVICES = ("ovsdb-server", "ovs-vswitchd", "ovn-northd", "ovn-controller")
# ethtool: checksums filled in software on the namespace's gateway link (stacktui/netns.py).
PACKAGES = ("openvswitch-switch", "ovn-central", "ovn-host", "ethtool")
READY_TIMEOUT = 60
# DevStack's PHYSICAL_NETWORK and PUBLIC_BRIDGE.
PHYSICAL_NETWORK = "public"
PUBLIC_BRIDGE = "br-ex"
INTEGRATION_BRIDGE = "br-int"
VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"


# ------------------------------------------------------------ places

def ovs_run(layout):
    return layout.run / "ovs"


def ovn_run(layout):
    return layout.run / "ovn"


def ovs_data(layout):
    return layout.data / "ovs"


def ovn_data(layout):
    return layout.data / "ovn"


def ovs_db_sock(layout):
    return ovs_run(layout) / "db.sock"


def nb_sock(layout):
    return ovn_run(layout) / "ovnnb_db.sock"


def sb_sock(layout):
    return ovn_run(layout) / "ovnsb_db.sock"


def nb_port(answers) -> int:
    return answers.port("ovn-northd")


def sb_port(answers) -> int:
    # DevStack's 6641/6642 pair; a moved NB port moves SB with it.
    p = nb_port(answers)
    return p + 1 if p < 65535 else p - 1


def nb_connection(answers) -> str:
    return f"tcp:{answers.url_host()}:{nb_port(answers)}"


def sb_connection(answers) -> str:
    return f"tcp:{answers.url_host()}:{sb_port(answers)}"


def env(layout) -> dict:
    """Where every ovs-*/ovn-* program looks for its sockets and databases."""
    return {"OVS_RUNDIR": str(ovs_run(layout)), "OVS_DBDIR": str(ovs_data(layout)),
            "OVS_LOGDIR": str(layout.logs / "ovs"), "OVS_SYSCONFDIR": str(ovs_data(layout)),
            "OVN_RUNDIR": str(ovn_run(layout)), "OVN_DBDIR": str(ovn_data(layout)),
            "OVN_LOGDIR": str(layout.logs / "ovn"), "OVN_SYSCONFDIR": str(ovn_data(layout))}


def kernel_datapath() -> bool:
    from stacktui.virt import openvswitch_module
    return openvswitch_module()


def datapath_type() -> str:
    return "system" if kernel_datapath() else "netdev"


def _exe(name: str) -> str:
    for d in ("/usr/sbin", "/usr/bin"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    exe = shutil.which(name)
    if not exe:
        raise StackError(f"{name} not found: the prerequisites step installs "
                         f"{', '.join(PACKAGES)}")
    return exe


def _log_opts() -> list[str]:
    # The pane is the log: console at info, nothing to syslog or files.
    return ["-vconsole:info", "-vsyslog:off", "-vfile:off"]


def _daemon_opts(run, name: str) -> list[str]:
    return [f"--pidfile={run / (name + '.pid')}", f"--unixctl={run / (name + '.ctl')}"]


# ------------------------------------------------------------ phases

def inputs(answers, phase):
    return {"host_ip": answers.host_ip, "nb_port": nb_port(answers),
            "services": [s for s in answers.services if s in SERVICES],
            "datapath": datapath_type()}


def configure(ctx):
    L = ctx.layout
    for d in (ovs_data(L), ovn_data(L), L.logs / "ovs", L.logs / "ovn"):
        make_dirs(d, mode=0o750)
    before_up(ctx.answers, L)
    ident = ovs_data(L) / "system-id.conf"
    if not ident.exists():
        # The chassis name in OVN's southbound database, kept for the stack's life.
        atomic_write(ident, str(uuid.uuid4()) + "\n", mode=0o644)
    if datapath_type() == "netdev":
        ctx.say("Open vSwitch: no openvswitch kernel module; the userspace datapath "
                "(datapath_type=netdev) runs in the stack's network namespace, with libvirt")


def system_id(layout) -> str:
    return (ovs_data(layout) / "system-id.conf").read_text().strip()


def _create_db(ctx, path, schema) -> None:
    if path.exists():
        return      # a rerun keeps the networks and the chassis
    ctx.run([_exe("ovsdb-tool"), "create", path, schema])


def init(ctx):
    L = ctx.layout
    _create_db(ctx, ovs_data(L) / "conf.db", VSWITCH_SCHEMA)
    _create_db(ctx, ovn_data(L) / "ovnnb_db.db", NB_SCHEMA)
    _create_db(ctx, ovn_data(L) / "ovnsb_db.db", SB_SCHEMA)


def uses_netns(answers) -> bool:
    """The switch, libvirt and the public gateway share the stack's network
    namespace (stacktui/netns.py) when the switch is userspace."""
    return "ovs-vswitchd" in answers.services and datapath_type() == "netdev"


def public_gateway(answers) -> str:
    """DevStack's PUBLIC_NETWORK_GATEWAY with its prefix: the floating range's
    first address, which neutron's public subnet names as its gateway."""
    import ipaddress
    net = ipaddress.ip_network(answers.data["floating_range"], strict=False)
    return f"{net[1]}/{net.prefixlen}"


def before_up(answers, layout):
    # DEST/run is emptied by a reboot; the daemons want their socket folders,
    # and the namespace goes with a reboot too.
    for d in (layout.run, ovs_run(layout), ovn_run(layout)):
        d.mkdir(parents=True, exist_ok=True, mode=0o750)
    if uses_netns(answers):
        import ipaddress
        tun = "/dev/net/tun"
        if not privileged.is_root() and not os.access(tun, os.R_OK | os.W_OK):
            raise StackError(f"ovs-vswitchd runs as you and makes its taps through {tun}, which "
                             f"you cannot open; as root: chmod 666 {tun} (its mode on Debian "
                             "and Ubuntu)")
        floating = ipaddress.ip_network(answers.data["floating_range"], strict=False)
        netns.ensure(layout, public_gateway(answers), str(floating))


def panes(ctx) -> list[dict]:
    a, L = ctx.answers, ctx.layout
    e = env(L)
    orun, nrun = ovs_run(L), ovn_run(L)
    specs = []
    host = a.bind_host
    if "ovsdb-server" in a.services:
        argv = [_exe("ovsdb-server"), ovs_data(L) / "conf.db", f"--remote=punix:{ovs_db_sock(L)}",
                "--remote=db:Open_vSwitch,Open_vSwitch,manager_options"]
        ready = port = None
        if "ovn-northd" in a.services:
            argv += [ovn_data(L) / "ovnnb_db.db", ovn_data(L) / "ovnsb_db.db",
                     f"--remote=punix:{nb_sock(L)}", f"--remote=punix:{sb_sock(L)}",
                     f"--remote=ptcp:{nb_port(a)}:{host}", f"--remote=ptcp:{sb_port(a)}:{host}"]
            ready, port = {"tcp": [host, sb_port(a)]}, nb_port(a)
        specs.append(pane_spec(ctx, "ovsdb-server", [*argv, *_daemon_opts(orun, "ovsdb-server"),
                                                      *_log_opts()], env=e, ready=ready, port=port))
    if "ovs-vswitchd" in a.services:
        argv = [_exe("ovs-vswitchd"), f"unix:{ovs_db_sock(L)}",
                *_daemon_opts(orun, "ovs-vswitchd"), *_log_opts()]
        if uses_netns(a):
            # --disable-system: no kernel datapath to probe for. In the
            # stack's namespace, with libvirt's guests and the gateway.
            argv = [*netns.nsenter(L), *argv, "--disable-system"]
        if not privileged.is_root():
            # A datapath (taps in the namespace, or the kernel's) wants root;
            # ovs-vswitchd then becomes the user, keeping only its network
            # capabilities, so its sockets and the pane's stop stay the user's.
            argv = privileged.as_root([*argv, "--user=%s:%s" % privileged.user_group()], env=e)
        specs.append(pane_spec(ctx, "ovs-vswitchd", argv, env=e))
    if "ovn-northd" in a.services:
        specs.append(pane_spec(ctx, "ovn-northd", [
            _exe("ovn-northd"), f"--ovnnb-db=unix:{nb_sock(L)}", f"--ovnsb-db=unix:{sb_sock(L)}",
            *_daemon_opts(nrun, "ovn-northd"), *_log_opts()], env=e))
    if "ovn-controller" in a.services:
        # ovn-controller 23.03 crashes (SIGSEGV) on a database without
        # system-id, which after_start sets once ovsdb-server is up: the pane
        # waits for it, then becomes ovn-controller. No --unixctl in this
        # version: its control socket goes to OVN_RUNDIR. DEST reaches the
        # script only as an argument ($1), never inside its text.
        wait = ('db=$1; shift; until "$0" --db="$db" --timeout=5 get Open_vSwitch . '
                'external_ids:system-id >/dev/null 2>&1; do sleep 0.3; done; exec "$@"')
        specs.append(pane_spec(ctx, "ovn-controller", [
            "/bin/sh", "-c", wait, _exe("ovs-vsctl"), f"unix:{ovs_db_sock(L)}",
            _exe("ovn-controller"), f"unix:{ovs_db_sock(L)}",
            f"--pidfile={nrun / 'ovn-controller.pid'}", *_log_opts()], env=e))
    return specs


def vsctl(ctx, *args, timeout: int = 30, check: bool = True):
    L = ctx.layout
    return ctx.run([_exe("ovs-vsctl"), f"--db=unix:{ovs_db_sock(L)}", f"--timeout={timeout}",
                    "--retry", *args], env=env(L), timeout=timeout + 10, check=check)


def serving(ctx, timeout: int = 90) -> str | None:
    """For `stacktui up`: the chassis row survives a reboot in the
    southbound file, so its presence proves nothing; `--wait=hv sync`
    returns only once every chassis's ovn-controller has caught up with the
    northbound database, i.e. this one is connected and working."""
    a, L = ctx.answers, ctx.layout
    if not {"ovn-controller", "ovn-northd", "ovsdb-server"} <= set(a.services):
        return None
    ctx.run([_exe("ovn-nbctl"), f"--db=unix:{nb_sock(L)}", f"--timeout={timeout}", "--wait=hv",
             "sync"], env=env(L), timeout=timeout + 10)
    return f"OVN: chassis {system_id(L)} is connected and up to date"


def sbctl(ctx, *args, timeout: int = 30, check: bool = True):
    L = ctx.layout
    return ctx.run([_exe("ovn-sbctl"), f"--db=unix:{sb_sock(L)}", f"--timeout={timeout}", *args],
                   env=env(L), timeout=timeout + 10, check=check)


def chassis_settings(answers, layout) -> dict[str, str]:
    """Open_vSwitch external_ids that make this host an OVN chassis, as
    DevStack's ovn_agent sets them (and a gateway: ENABLE_CHASSIS_AS_GW)."""
    return {
        "system-id": system_id(layout),
        # nova-compute's host name, so port bindings find this chassis.
        "hostname": socket.gethostname(),
        "ovn-remote": sb_connection(answers),
        "ovn-encap-type": "geneve",
        "ovn-encap-ip": answers.host_ip,
        "ovn-bridge": INTEGRATION_BRIDGE,
        "ovn-bridge-datapath-type": datapath_type(),
        "ovn-bridge-mappings": f"{PHYSICAL_NETWORK}:{PUBLIC_BRIDGE}",
        "ovn-cms-options": "enable-chassis-as-gw",
    }


def after_start(ctx):
    a, L = ctx.answers, ctx.layout
    if "ovsdb-server" not in a.services:
        return
    vsctl(ctx, "--no-wait", "init")
    sets = [f'external_ids:{k}="{v}"' for k, v in chassis_settings(a, L).items()]
    vsctl(ctx, "--no-wait", "set", "Open_vSwitch", ".", *sets)
    if "ovs-vswitchd" in a.services:
        # Without --no-wait: returns once ovs-vswitchd has made the bridge.
        vsctl(ctx, "--may-exist", "add-br", PUBLIC_BRIDGE, "--", "set", "Bridge", PUBLIC_BRIDGE,
              f"datapath_type={datapath_type()}", timeout=60)
        if uses_netns(a):
            vsctl(ctx, "--may-exist", "add-port", PUBLIC_BRIDGE, netns.GW_PORT)
            ctx.say(f"Open vSwitch: {PUBLIC_BRIDGE} ({datapath_type()} datapath) is up in the "
                    f"stack's network namespace, public gateway {public_gateway(a)} on it; the "
                    f"host reaches {a.data['floating_range']} through {netns.host_link(L)}")
        else:
            ctx.say(f"Open vSwitch: {PUBLIC_BRIDGE} ({datapath_type()} datapath) is up")
    if "ovn-controller" in a.services and "ovn-northd" in a.services:
        sid = system_id(L)
        sbctl(ctx, "wait-until", "Chassis", sid, timeout=90)
        vsctl(ctx, "wait-until", "Bridge", INTEGRATION_BRIDGE, timeout=60)
        ctx.say(f"OVN: chassis {sid} ({socket.gethostname()}) registered in the southbound "
                f"database; {INTEGRATION_BRIDGE} made by ovn-controller")


def cleanup(ctx):
    L = ctx.layout
    netns.remove(L)
    for d in (ovs_data(L), ovn_data(L), ovs_run(L), ovn_run(L), L.logs / "ovs", L.logs / "ovn"):
        shutil.rmtree(d, ignore_errors=True)


SPEC = ServiceSpec(
    "ovn", SERVICES, configure=configure, init=init, panes=panes, after_start=after_start,
    before_up=before_up, serving=serving, cleanup=cleanup, inputs=inputs,
    ready_timeout=READY_TIMEOUT,
    packages=PACKAGES, provides={"ovn_nb": nb_connection, "ovn_sb": sb_connection},
    ports_beside=lambda a: ({"OVN's southbound database": sb_port(a)}
                            if "ovn-northd" in a.services else {}),
    replaces={"q-agt": ("ovn-controller", "ovs-vswitchd", "ovsdb-server"),
              "q-l3": ("ovn-northd",), "q-dhcp": ("ovn-northd",)},
    kolla_flags={"ovn-northd": ("enable_ovn",), "ovn-controller": ("enable_ovn",),
                 "ovsdb-server": ("enable_openvswitch",), "ovs-vswitchd": ("enable_openvswitch",)})
