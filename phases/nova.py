"""Nova (`n-api`, `n-api-meta`, `n-cond`, `n-sch`, `n-cpu`): DevStack's lib/nova.

configure writes one nova.conf (cell1 is the main database, cell0 beside it,
the API database apart: DevStack's single-conductor layout); init syncs the
databases and sets up cells v2; the panes run both APIs under uwsgi and the
conductor, scheduler and compute as plain processes; accounts registers the
compute service, makes DevStack's flavors and maps the compute host into
cell1 once it has reported to Placement.
"""

from __future__ import annotations

import os
import shutil
import socket
import time

from stacktui import catalog, inifile, svckit
from stacktui.engine import pane_spec
from stacktui.errors import StackError

SERVICES = ("n-api", "n-api-meta", "n-cond", "n-sch", "n-cpu")
# The main database is cell1; `map_cell0` derives cell0's URL from it by
# appending _cell0 to the name, with the same user.
DATABASES = {"nova_api": ["nova_api"], "nova": ["nova"], "nova_cell0": ["nova"]}
READY_TIMEOUT = 180

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

def kvm_works() -> bool:
    """A real probe of /dev/kvm (KVM_GET_API_VERSION): the CPU flags in
    /proc/cpuinfo can say no while the device answers (FIELD-NOTES 4)."""
    import fcntl
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, 0xAE00) == 12
    except OSError:
        return False
    finally:
        os.close(fd)


def virt_choice(answers) -> tuple[str, str]:
    """(compute_driver, why). libvirt is not deployed by this stacktui yet,
    so every choice lands on the fake driver and says so."""
    want = answers.data["virt_driver"]
    if want == "fake":
        return "fake.FakeDriver", "virt_driver is fake"
    kvm = kvm_works()
    if want in ("kvm", "qemu"):
        raise StackError(f"virt_driver {want} needs libvirt, which this stacktui version does not "
                         "deploy yet; set `virt_driver: fake` (or auto) in the answers")
    return "fake.FakeDriver", ("virt_driver auto: /dev/kvm " + ("answers" if kvm else "is absent")
                               + ", but libvirt is not deployed by this stacktui version; "
                               "servers run on the fake driver (no real VMs)")


# ------------------------------------------------------------ phases

def inputs(answers, phase):
    from stacktui.engine import default_inputs
    import sys
    got = default_inputs(answers, sys.modules[__name__])
    got["virt_driver"] = answers.data["virt_driver"]
    got["memcached"] = "memcached" in answers.services and answers.port("memcached")
    for infra in ("mysql", "rabbit"):
        got["ports"][infra] = answers.port(infra)
    return got


def _auth_section(a, user: str = "nova") -> dict:
    return {"auth_type": "password", "auth_url": svckit.auth_url(a), "username": user,
            "password": a.password("service"), "user_domain_name": "Default",
            "project_name": "service", "project_domain_name": "Default",
            "region_name": a.data["region"]}


def config(ctx) -> dict:
    from stacktui.phases import rabbit
    a, L = ctx.answers, ctx.layout
    data = L.data / "nova"
    driver, _why = virt_choice(a)
    w = svckit.workers(a)
    authtoken = svckit.authtoken(a, "nova")
    cache = {}
    if "memcached" in a.services:
        from stacktui.phases import memcached
        authtoken["memcached_servers"] = memcached.servers(a)
        cache = {"enabled": True, "backend": "dogpile.cache.pymemcache",
                 "memcache_servers": memcached.servers(a)}
    return {
        "DEFAULT": {"debug": False, "use_stderr": True, "transport_url": rabbit.transport_url(a),
                    "my_ip": a.data["host_ip"], "state_path": data,
                    "instances_path": data / "instances", "compute_driver": driver,
                    "allow_resize_to_same_host": True,
                    "rootwrap_config": _etc(ctx) / "rootwrap.conf",
                    "osapi_compute_workers": w, "metadata_workers": w},
        "wsgi": {"api_paste_config": _etc(ctx) / "api-paste.ini"},
        "api": {"auth_strategy": "keystone"},
        "api_database": {"connection": svckit.db_url(a, L, "nova_api")},
        "database": {"connection": svckit.db_url(a, L, "nova")},
        "keystone_authtoken": authtoken,
        "service_user": {"send_service_user_token": True, **_auth_section(a)},
        "placement": _auth_section(a),
        "glance": {"region_name": a.data["region"]},
        "conductor": {"workers": w},
        "scheduler": {"workers": w},
        "vnc": {"enabled": False},
        "cache": cache or None,
        "upgrade_levels": {"compute": "auto"},
        "oslo_concurrency": {"lock_path": data / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
    }


def configure(ctx):
    etc = _etc(ctx)
    data = ctx.layout.data / "nova"
    for d in (etc, data, data / "instances", data / "locks"):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o750)
    src = ctx.layout.venv / "etc" / "nova"
    for name in ("api-paste.ini", "rootwrap.conf"):
        shutil.copyfile(src / name, etc / name)
    driver, why = virt_choice(ctx.answers)
    ctx.say(f"nova-compute driver: {driver} ({why})")
    sections = {k: v for k, v in config(ctx).items() if v is not None}
    inifile.write(_conf(ctx), sections, mode=0o640)


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
    _manage(ctx, "cell_v2", "map_cell0")
    fix_cell0_url(ctx)
    # 2: a cell with this database and queue exists already (a rerun).
    _manage(ctx, "cell_v2", "create_cell", "--name", "cell1", ok=(0, 2))
    _manage(ctx, "db", "sync")


def fix_cell0_url(ctx):
    """map_cell0 derives cell0's URL from [database]/connection but
    percent-decodes it on the way (nova/cmd/manage.py _map_cell0), so a
    password holding `%`, `/` or `@` no longer parses. The mapping gets the
    encoded URL here, over MariaDB's socket: passing it to map_cell0 would put
    the password on a command line."""
    from stacktui.phases import mysql
    url = svckit.db_url(ctx.answers, ctx.layout, "nova").replace("/nova?", "/nova_cell0?")
    mysql.run_sql(ctx, "UPDATE `nova_api`.`cell_mappings` SET database_connection = "
                  f"{mysql.sql_string(url)} WHERE uuid = '00000000-0000-0000-0000-000000000000';\n",
                  "cell0's database URL")


def panes(ctx) -> list[dict]:
    a = ctx.answers
    specs = []
    if _has(ctx, "n-api"):
        specs.append(pane_spec(ctx, "n-api", svckit.uwsgi_argv(ctx, "n-api",
                                                                "nova.wsgi.osapi_compute:application"),
                               env=_env(ctx), ready=svckit.http_ready(ctx, "n-api", "/"),
                               port=a.port("n-api")))
    if _has(ctx, "n-api-meta"):
        specs.append(pane_spec(ctx, "n-api-meta",
                               svckit.uwsgi_argv(ctx, "n-api-meta", "nova.wsgi.metadata:application"),
                               env=_env(ctx), ready=svckit.http_ready(ctx, "n-api-meta", "/"),
                               port=a.port("n-api-meta")))
    for name, exe in (("n-cond", "nova-conductor"), ("n-sch", "nova-scheduler"),
                      ("n-cpu", "nova-compute")):
        if _has(ctx, name):
            specs.append(pane_spec(ctx, name, [ctx.venv_bin(exe), "--config-file", _conf(ctx)],
                                   env=_env(ctx)))
    return specs


def accounts(ctx):
    from stacktui.keystone_api import KeystoneAdmin
    a = ctx.answers
    ks = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region)
    ks.service_user("nova", a.password("service"))
    if _has(ctx, "n-api"):
        ks.endpoints(ks.service("nova", "compute", "Nova compute service"),
                     ctx.endpoint("n-api") + "/v2.1")
    # A session made now sees the compute endpoint in its token's catalog.
    ks = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region)
    if _has(ctx, "n-api"):
        made = create_flavors(ks.s, a.region)
        ctx.say(f"nova: flavors {', '.join(f[1] for f in FLAVORS)}"
                + (f" ({made} new)" if made else " (all there)"))
    if _has(ctx, "n-cpu"):
        host = wait_compute_provider(ks.s, a.region, timeout=120)
        _manage(ctx, "cell_v2", "discover_hosts")
        ctx.say(f"nova: compute host {host} reported to placement and is mapped into cell1")


def create_flavors(sess, region: str) -> int:
    ep = {"service_type": "compute", "region_name": region}
    made = 0
    for fid, name, ram, disk, vcpus in FLAVORS:
        r = sess.get(f"/flavors/{fid}", endpoint_filter=ep, raise_exc=False)
        if r.status_code == 200:
            continue
        sess.post("/flavors", endpoint_filter=ep, raise_exc=True,
                  json={"flavor": {"id": fid, "name": name, "ram": ram, "disk": disk,
                                   "vcpus": vcpus}})
        made += 1
    return made


def compute_host() -> str:
    # nova's own default for [DEFAULT] host
    return socket.gethostname()


def wait_compute_provider(sess, region: str, timeout: float) -> str:
    """nova-compute creates its resource provider in Placement once it has
    started and taken its first inventory; host discovery needs that."""
    host = compute_host()
    ep = {"service_type": "placement", "region_name": region}
    deadline = time.monotonic() + timeout
    while True:
        r = sess.get("/resource_providers", endpoint_filter=ep, raise_exc=False,
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
