"""Nova (`n-api`, `n-api-meta`, `n-cond`, `n-sch`, `n-cpu`): DevStack's lib/nova.

configure writes one nova.conf (cell1 is the main database, cell0 beside it,
the API database apart: DevStack's single-conductor layout); init syncs the
databases and writes the cell mappings; the panes run both APIs under uwsgi
and the conductor, scheduler and compute as plain processes; accounts
registers the compute service; after_start, with the panes up, makes
DevStack's flavors and maps the compute host into cell1 once it has reported
to Placement.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time

from stacktui import inifile, shims, svckit
from stacktui.errors import StackError
from stacktui.fsutil import copy_file, make_dirs
from stacktui.phases import verify as checks
from stacktui.service import ConfigFile, ServiceSpec, default_inputs, pane_spec

SERVICES = ("n-api", "n-api-meta", "n-cond", "n-sch", "n-cpu")
# The main database is cell1; cell0's is its name plus _cell0, reached by the
# same user (nova's own convention in map_cell0).
DATABASES = {"nova_api": ["nova_api"], "nova": ["nova"], "nova_cell0": ["nova"]}
READY_TIMEOUT = 180
CELL0_UUID = "00000000-0000-0000-0000-000000000000"
# Without neutron, an empty network API stands in on q-svc's port
# (stacktui/shims/no_network_api.py says why).
NO_NETWORK = "no-network"

# DevStack's flavors (lib/nova create_flavors): id, name, RAM MB, disk GB, vCPUs.
FLAVORS = (
    ("1", "m1.tiny", 512, 1, 1), ("2", "m1.small", 2048, 20, 1),
    ("3", "m1.medium", 4096, 40, 2), ("4", "m1.large", 8192, 80, 4),
    ("5", "m1.xlarge", 16384, 160, 8), ("c1", "cirros256", 256, 1, 1),
    ("d1", "ds512M", 512, 5, 1), ("d2", "ds1G", 1024, 10, 1),
    ("d3", "ds2G", 2048, 10, 2), ("d4", "ds4G", 4096, 20, 4),
)


def _etc(ctx):
    return ctx.layout.etc / "nova"


def _conf(ctx):
    return _etc(ctx) / "nova.conf"


def _env(ctx) -> dict:
    return {"OS_NOVA_CONFIG_DIR": str(_etc(ctx))}


def _has(ctx, name: str) -> bool:
    return name in ctx.answers.services


# ------------------------------------------------------------ virt driver

# nova's FakeDriver names its node with a UUID drawn anew in every process
# (oslo's uuidsentinel), so a restarted nova-compute is a stranger to its own
# compute node and refuses to start ("No local node identity found"). This
# subclass reports the node identity nova keeps in state_path/compute_id.
# nova loads drivers from nova.virt only, so the module goes there.
FAKE_MODULE = "stacktui_fakevirt"
FAKE_DRIVER = f"{FAKE_MODULE}.StableFakeDriver"


LIBVIRT_DRIVER = "libvirt.LibvirtDriver"


def virt_choice(answers) -> tuple[str, str]:
    """(compute_driver, why), as stacktui/virt.py decides for these answers."""
    from stacktui import virt
    choice = virt.for_answers(answers)
    return (LIBVIRT_DRIVER if choice.libvirt else FAKE_DRIVER), choice.why


def libvirt_sections(ctx, virt_type: str) -> dict:
    """nova.conf for libvirt on one small host: this stack's own libvirtd
    (phases/libvirt.py), the CPU model qemu picks (DevStack's LIBVIRT_CPU_MODE
    default: no host-model computation, which needs CPU flags this kind of
    host may hide), and no migration settings: with one compute host there is
    nowhere to migrate to, and nothing listens for qemu+ssh or qemu+tcp."""
    from stacktui.phases import libvirt, ovn
    out = {"libvirt": {"virt_type": virt_type, "connection_uri": libvirt.uri(ctx.layout),
                       "cpu_mode": "none"}}
    if "ovs-vswitchd" in ctx.answers.services:
        # os-vif makes sure br-int exists through the switch's database: this
        # stack's, not the compiled-in tcp:127.0.0.1:6640.
        out["os_vif_ovs"] = {"ovsdb_connection": f"unix:{ovn.ovs_db_sock(ctx.layout)}"}
    return out


def privsep(ctx) -> dict:
    """As root, the privileged helpers nova-compute starts on libvirt (files
    in instances, os-vif's port plugging, os-brick's volume attach) run
    directly: by default oslo.privsep goes through sudo, which a root shell
    may not have (this machine has none)."""
    if os.geteuid() != 0:
        return {}
    import shlex
    from stacktui import netns
    from stacktui.phases import ovn
    argv = [ctx.venv_bin("privsep-helper"), "--config-file", str(_conf(ctx))]
    out = {s: {"helper_command": shlex.join(argv)} for s in (
        "nova_sys_admin", "vif_plug_ovs_privileged", "vif_plug_linux_bridge_privileged")}
    out["privsep_osbrick"] = {"helper_command": svckit.osbrick_helper(ctx, argv)}
    if ovn.uses_netns(ctx.answers):
        # os-vif makes each guest's tap (neutron's ovs_create_tap) where
        # libvirt's qemu and the userspace switch can both use it.
        out["vif_plug_ovs_privileged"]["helper_command"] = shlex.join(
            [*netns.nsenter(ctx.layout), *argv])
    return out


# ------------------------------------------------------------ phases

# Bumped when configure writes something new (the one-process shim): the
# engine's fingerprints then redo configure before the panes need it.
REVISION = 2


def inputs(answers, phase):
    got = default_inputs(answers, "nova")
    got["revision"] = REVISION
    got["virt_driver"] = answers.virt_driver
    got["virt_choice"] = virt_choice(answers)[0]
    got["neutron"] = "q-svc" in answers.services
    from stacktui.phases import ovn
    got["netns"] = ovn.uses_netns(answers)
    got["memcached"] = "memcached" in answers.services and answers.port("memcached")
    # [vnc] follows n-novnc (phases/novnc.py)
    got["novnc"] = "n-novnc" in answers.services and answers.port("n-novnc")
    for infra in ("mysql", "rabbit"):
        got["ports"][infra] = answers.port(infra)
    return got


def config(ctx) -> dict:
    from stacktui.phases import novnc, rabbit
    a, L = ctx.answers, ctx.layout
    data = L.data / "nova"
    driver, _why = virt_choice(a)
    w = svckit.workers(a)
    authtoken = svckit.authtoken(a, "nova")
    cache = svckit.cache(a)
    if cache:
        authtoken["memcached_servers"] = cache["memcache_servers"]
    fake = driver == FAKE_DRIVER
    return {
        "DEFAULT": {"debug": False, "use_stderr": True, "transport_url": rabbit.transport_url(a),
                    "my_ip": a.host_ip, "state_path": data,
                    "instances_path": data / "instances", "compute_driver": driver,
                    "allow_resize_to_same_host": True,
                    # oslo.service waits up to 60 s for a stopping service;
                    # nova-compute used it all and met the pane's SIGKILL.
                    "graceful_shutdown_timeout": 5,
                    "rootwrap_config": _etc(ctx) / "rootwrap.conf",
                    "osapi_compute_workers": w, "metadata_workers": w,
                    # The fake driver plugs no VIF, so neutron never sends the
                    # vif-plugged event a real boot waits for (DevStack's fake setup).
                    **({"vif_plugging_is_fatal": False, "vif_plugging_timeout": 0} if fake
                       else mkisofs())},
        "wsgi": {"api_paste_config": _etc(ctx) / "api-paste.ini"},
        "api": {"auth_strategy": "keystone"},
        "api_database": {"connection": svckit.db_url(a, L, "nova_api")},
        "database": {"connection": svckit.db_url(a, L, "nova")},
        "keystone_authtoken": authtoken,
        "service_user": {"send_service_user_token": True, **svckit.service_auth(a, "nova")},
        "placement": svckit.service_auth(a, "nova"),
        "glance": {"region_name": a.region},
        "neutron": neutron_section(a),
        "conductor": {"workers": w},
        "scheduler": {"workers": w},
        "vnc": novnc.vnc_section(a, L),
        "cache": cache or None,
        "upgrade_levels": {"compute": "auto"},
        "oslo_concurrency": {"lock_path": data / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_policy": svckit.policy_files(_etc(ctx)),
        # nova-compute reads provider configs from here (default
        # /etc/nova/provider_config/).
        "compute": {"provider_config_location": _etc(ctx) / "provider_config"},
        **({} if fake else {**libvirt_sections(ctx, _virt_type(a)), **privsep(ctx)}),
    }


def mkisofs() -> dict:
    """Config drives: nova runs genisoimage; the RHEL family has xorriso's
    mkisofs instead, which DevStack's lib/nova names there too."""
    if not shutil.which("genisoimage") and shutil.which("mkisofs"):
        return {"mkisofs_cmd": shutil.which("mkisofs")}
    return {}


def _virt_type(a) -> str:
    from stacktui import virt
    return virt.for_answers(a).virt_type


def neutron_section(a) -> dict:
    """With q-svc, neutron's own view of how nova reaches it; without, the
    no-network stand-in on q-svc's port."""
    if "q-svc" in a.services:
        from stacktui.phases import neutron
        return neutron.nova_neutron_section(a)
    return {**svckit.service_auth(a, "nova"), "endpoint_override": no_network_url(a)}


def configure(ctx):
    etc = _etc(ctx)
    data = ctx.layout.data / "nova"
    for d in (etc, data, data / "instances", data / "locks"):
        make_dirs(d, mode=0o750)
    src = ctx.layout.venv / "etc" / "nova"
    copy_file(src / "api-paste.ini", etc / "api-paste.ini")
    svckit.write_one_process(etc)
    _rootwrap(ctx, src, etc)
    from stacktui import virt as virtmod
    if ctx.answers.data["virt_driver"] == "auto" and virtmod.for_answers(ctx.answers).virt_type == "kvm":
        # Once per host boot: does a kernel really run under this KVM?
        virtmod.kvm_boots_linux(run=True)
    driver, why = virt_choice(ctx.answers)
    for virt in ctx.layout.venv.glob("lib/python3*/site-packages/nova/virt"):
        (virt / f"{FAKE_MODULE}.py").write_text(shims.source("nova_fakevirt"))
    ctx.say(f"nova-compute driver: {driver} ({why})")
    sections = {k: v for k, v in config(ctx).items() if v is not None}
    inifile.write(_conf(ctx), sections, mode=0o640)


def _rootwrap(ctx, src, etc) -> None:
    """The shipped rootwrap.conf reads its filters from /etc/nova/rootwrap.d
    and /usr/share/nova/rootwrap, and finds no privsep-helper outside the
    system's folders: the filters are copied under DEST, and the venv's bin
    comes first."""
    filters = etc / "rootwrap.d"
    shutil.rmtree(filters, ignore_errors=True)
    shutil.copytree(src / "rootwrap.d", filters)
    copy_file(src / "rootwrap.conf", etc / "rootwrap.conf")
    inifile.merge(etc / "rootwrap.conf", {"DEFAULT": {
        "filters_path": filters,
        "exec_dirs": ",".join([str(ctx.layout.bin), "/sbin", "/usr/sbin", "/bin", "/usr/bin",
                               "/usr/local/sbin", "/usr/local/bin"])}})


def _manage(ctx, *args, ok=(0,)):
    status, tail = ctx.run([ctx.venv_bin("nova-manage"), "--config-file", _conf(ctx), *args],
                           check=False, timeout=900)
    if status not in ok:
        err = StackError(f"nova-manage {' '.join(args)} failed with exit code {status}")
        err.tail = tail
        raise err
    return status, tail


def init(ctx):
    _manage(ctx, "api_db", "sync")
    write_cell_mappings(ctx)
    # Syncs cell1 (the main database) and cell0, found through its mapping.
    _manage(ctx, "db", "sync")


def write_cell_mappings(ctx):
    """cell0 and cell1 in the API database: what `nova-manage cell_v2
    map_cell0` and `create_cell` make, written here over MariaDB's socket.
    map_cell0 percent-decodes the URL it derives (nova/cmd/manage.py
    _map_cell0), so a password holding `%` or `@` would no longer parse;
    create_cell keeps a cell's old URLs after an answer changed a password;
    giving the URLs to nova-manage would put passwords on a command line;
    and each nova-manage run costs seconds of imports."""
    import uuid
    from stacktui.phases import mysql, rabbit
    a = ctx.answers
    main = svckit.db_url(a, ctx.layout, "nova")
    cell0 = main.replace("/nova?", "/nova_cell0?")
    q = mysql.sql_string
    t = "`nova_api`.`cell_mappings`"
    cols = "(created_at, uuid, name, transport_url, database_connection, disabled)"
    mysql.run_sql(ctx, "\n".join([
        f"INSERT INTO {t} {cols} VALUES (NOW(), '{CELL0_UUID}', 'cell0', 'none:///', {q(cell0)}, 0)"
        " ON DUPLICATE KEY UPDATE database_connection = VALUES(database_connection),"
        " updated_at = NOW();",
        f"INSERT INTO {t} {cols} SELECT NOW(), '{uuid.uuid4()}', 'cell1', "
        f"{q(rabbit.transport_url(a))}, {q(main)}, 0 FROM DUAL "
        f"WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE name = 'cell1');",
        f"UPDATE {t} SET transport_url = {q(rabbit.transport_url(a))}, "
        f"database_connection = {q(main)}, updated_at = NOW() WHERE name = 'cell1';",
        ""]), "the cell mappings")


def panes(ctx) -> list[dict]:
    a = ctx.answers
    specs = []
    if _has(ctx, "n-api"):
        specs.append(pane_spec(ctx, "n-api", svckit.uwsgi_argv(ctx, "n-api",
                                                                "nova.wsgi.osapi_compute:application"),
                               env=_env(ctx), ready=svckit.http_ready(ctx, "n-api", "/"),
                               port=a.port("n-api")))
    if _has(ctx, "n-api-meta"):
        extra = []
        from stacktui import netns
        from stacktui.phases import neutron, ovn
        if neutron.metadata_enabled(a) and ovn.uses_netns(a):
            # The OVN agent asks from the stack's network namespace, which
            # reaches the host at its link address (stacktui/netns.py).
            extra = ["--http-socket", f"{netns.host_addr(ctx.layout)}:{a.port('n-api-meta')}"]
        specs.append(pane_spec(ctx, "n-api-meta",
                               svckit.uwsgi_argv(ctx, "n-api-meta", "nova.wsgi.metadata:application",
                                                 *extra),
                               env=_env(ctx), ready=svckit.http_ready(ctx, "n-api-meta", "/"),
                               port=a.port("n-api-meta")))
    if "q-svc" not in a.services and specs:
        host, port = a.bind_host, a.port("q-svc")
        specs.append(pane_spec(ctx, NO_NETWORK, [sys.executable, "-m",
                                                  "stacktui.shims.no_network_api", host, str(port)],
                               ready=svckit.http_ready(ctx, "q-svc", "/"), port=port))
    for name, exe in (("n-cond", "nova-conductor"), ("n-sch", "nova-scheduler")):
        if _has(ctx, name):
            specs.append(pane_spec(ctx, name, svckit.one_process(ctx, _etc(ctx), exe,
                                                                 "--config-file", _conf(ctx)),
                                   env=_env(ctx)))
    if _has(ctx, "n-cpu"):
        # nova-compute asks oslo.service for one process itself (no_fork).
        specs.append(pane_spec(ctx, "n-cpu", [ctx.venv_bin("nova-compute"), "--config-file",
                                              _conf(ctx)], env=_env(ctx)))
    return specs


def _keystone(ctx):
    """nova's service user and the compute endpoint: idempotent, so both the
    accounts step and after_start may run it, whichever order the engine
    gives them (n-api validates tokens as this user)."""
    from stacktui.keystone_api import KeystoneAdmin
    a = ctx.answers
    ks = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region)
    ks.service_user("nova", a.password("service"))
    if _has(ctx, "n-api"):
        ks.endpoints(ks.service("nova", "compute", "Nova compute service"),
                     ctx.endpoint("n-api") + "/v2.1")
    return ks


def accounts(ctx):
    _keystone(ctx)


def after_start(ctx):
    """With the panes up: DevStack's flavors, then the compute host mapped
    into cell1 once it has reported to Placement."""
    ks = _keystone(ctx)
    if _has(ctx, "n-api"):
        made = create_flavors(ks.s, ctx.endpoint("n-api") + "/v2.1")
        ctx.say(f"nova: flavors {', '.join(f[1] for f in FLAVORS)}"
                + (f" ({made} new)" if made else " (all there)"))
    if _has(ctx, "n-cpu"):
        host = wait_compute_provider(ks.s, ctx.endpoint("placement-api"), timeout=180)
        _manage(ctx, "cell_v2", "discover_hosts")
        ctx.say(f"nova: compute host {host} reported to placement and is mapped into cell1")
        ctx.say(serving(ctx, ks.s))


def serving(ctx, sess=None, timeout: float = 180) -> str | None:
    """DevStack's wait_for_compute, stricter: nova-compute has reported to
    the conductor since its pane started (a record still `up` from before a
    reboot is not enough) and its hypervisor is listed and up. Until then a
    new server goes to ERROR. Run by install and by `stacktui up`."""
    if not (_has(ctx, "n-cpu") and _has(ctx, "n-api")):
        return None
    if sess is None:
        from stacktui.keystone_api import KeystoneAdmin
        a = ctx.answers
        sess = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region).s
    since = svckit.pane_started(ctx, "n-cpu")
    url = ctx.endpoint("n-api") + "/v2.1"
    host = compute_host()
    deadline = time.monotonic() + timeout
    why = "no answer from n-api"
    while True:
        r = sess.get(f"{url}/os-services", params={"binary": "nova-compute"}, raise_exc=False)
        svcs = [s for s in (r.json().get("services", []) if r.status_code == 200 else [])
                if s.get("host") == host]
        if not svcs:
            why = f"no nova-compute service on {host}"
        elif not any(s.get("state") == "up" and s.get("status") == "enabled"
                     and svckit.reported_since(s, since) for s in svcs):
            why = f"nova-compute on {host} has not reported to the conductor since it started"
        else:
            r = sess.get(f"{url}/os-hypervisors/detail", raise_exc=False)
            hyps = [h for h in (r.json().get("hypervisors", []) if r.status_code == 200 else [])
                    if (h.get("service") or {}).get("host") == host and h.get("state") == "up"]
            if hyps:
                return (f"nova: nova-compute on {host} reports up; hypervisor "
                        f"{hyps[0].get('hypervisor_hostname')} listed")
            why = f"no hypervisor of {host} listed up"
        if time.monotonic() > deadline:
            raise StackError(f"nova cannot place servers yet: {why} within {timeout:g} s "
                             "(see `stacktui logs n-cpu`, `stacktui logs n-cond`)")
        time.sleep(1)


def create_flavors(sess, url: str) -> int:
    # By URL, not the catalog: the token may predate the compute endpoint.
    made = 0
    for fid, name, ram, disk, vcpus in FLAVORS:
        r = sess.get(f"{url}/flavors/{fid}", raise_exc=False)
        if r.status_code == 200:
            continue
        sess.post(f"{url}/flavors", raise_exc=True,
                  json={"flavor": {"id": fid, "name": name, "ram": ram, "disk": disk,
                                   "vcpus": vcpus}})
        made += 1
    return made


def compute_host() -> str:
    # nova's own default for [DEFAULT] host
    return socket.gethostname()


def wait_compute_provider(sess, url: str, timeout: float) -> str:
    """nova-compute creates its resource provider in Placement once it has
    started and taken its first inventory; host discovery needs that."""
    host = compute_host()
    deadline = time.monotonic() + timeout
    while True:
        r = sess.get(f"{url}/resource_providers", raise_exc=False,
                     params={"name": host},
                     headers={"OpenStack-API-Version": "placement 1.14"})
        if r.status_code == 200 and r.json().get("resource_providers"):
            return host
        if time.monotonic() > deadline:
            raise StackError(f"nova-compute on {host} did not report to Placement within "
                             f"{timeout:g} s; see `stacktui logs n-cpu`")
        time.sleep(1)


def cleanup(ctx):
    for d in (_etc(ctx), ctx.layout.data / "nova"):
        shutil.rmtree(d, ignore_errors=True)


def no_network_url(answers) -> str:
    return f"http://{answers.url_host()}:{answers.port('q-svc')}"

def tempest(a, found) -> dict:
    compute = {"region": a.region, "endpoint_type": "publicURL", "build_timeout": 300,
               "fixed_network_name": "private"}
    for key in ("image_ref", "image_ref_alt", "flavor_ref", "flavor_ref_alt"):
        if found.get(key):
            compute[key] = found[key]
    return {"compute": compute,
            "compute-feature-enabled": {
                "console_output": found.get("virt_driver") != "fake",
                "resize": True, "cold_migration": False, "live_migration": False,
                "vnc_console": "n-novnc" in a.services, "change_password": False}}


SPEC = ServiceSpec(
    "nova", SERVICES, tempest=tempest, verify=checks.check_nova,
    configure=configure, init=init, panes=panes, accounts=accounts,
    after_start=after_start, serving=serving, cleanup=cleanup, inputs=inputs,
    ready_timeout=READY_TIMEOUT,
    # nova-compute asks neutron about its instances' ports as it starts
    # (DevStack starts neutron before nova too).
    start_after=frozenset({"neutron"}),
    databases={db: tuple(users) for db, users in DATABASES.items()}, messaging=True,
    config_files=(ConfigFile("$NOVA_CONF", "nova", None, "/etc/nova/nova.conf", "nova.conf"),
                  ConfigFile("$NOVA_CPU_CONF", "nova", "nova-cpu.conf", "/etc/nova/nova-cpu.conf",
                             "nova/nova-compute.conf")),
    source_prefix={"nova": "NOVA"}, port_vars={"n-api": "NOVA_SERVICE_PORT"},
    replaces={"n-xvnc": ("n-novnc",)},
    refused={"n-spice": "the SPICE console proxy is not supported; n-novnc gives a console",
             "n-sproxy": "the serial console proxy is not supported; n-novnc gives a console"},
    kolla_flags={s: ("enable_nova",) for s in ("n-api", "n-cpu", "n-cond", "n-sch", "n-api-meta")},
    tempest_available={"nova": "n-api"}, tempest_scoped={"nova": "n-api"})
