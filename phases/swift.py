"""Swift (`s-proxy`, `s-object`, `s-container`, `s-account`): DevStack's
lib/swift with one replica, each server in a pane of its own.

As DevStack lays it out, but under DEST: the configs in DEST/etc/swift
(proxy-server.conf, {object,container,account}-server/1.conf, swift.conf),
the rings built there at init with swift-ring-builder (partition power 9,
one replica, one device `sdb1` per ring, rebalanced with seed 42), and the
device a plain folder DEST/data/swift/1/sdb1 with `mount_check = false`:
DevStack formats a loop file as XFS and mounts it, which needs root and a
mount this host may not allow; swift only needs a folder with xattrs.

The proxy's pipeline is DevStack's with keystone (crossdomain, authtoken,
keystoneauth before formpost and staticweb), the operator roles DevStack
gives (`member, admin`; swift compares roles case-insensitively) and
ResellerAdmin as the reseller role. Left out: tempauth and its static test
users (nothing here logs in through it), and container sync (tempest is
told).

The background daemons DevStack starts with SWIFT_START_ALL_SERVICES (its
default; `swift-init rest start`) run too, each in a pane of its own named
`s-<kind>-<daemon>` (swift-init's names with DevStack's `s-` prefix, as its
own `s-container-sync`): the object, container and account replicators and
auditors, the object and container updaters, the account reaper and the
object expirer. They are panes of the storage service whose config they
read (each daemon reads its section of that server's `<kind>-server/1.conf`,
[object-replicator] ...), not catalog services: DevStack has no
ENABLED_SERVICES name for them, a local.conf cannot pick them one by one,
and none works without its server. Their memory is counted in that server's
catalog row. Left out as not applicable: the object reconstructor (erasure
coding only), the container sharder (no sharding is set up), the container
reconciler (one storage policy). The replicators push with rsync to the
`s-rsync` pane (phases/swift_rsync.py); the expirer talks to the cluster
through swift's internal client (DEST/etc/swift/internal-client.conf, as
DevStack copies internal-client.conf-sample).

Swift's configs are paste.deploy files, not oslo.config's: written by
:func:`render` (swift interpolates ``%`` only in values holding ``%(``), and
swift logs to syslog besides the console unless told otherwise; a
``log_custom_handlers`` hook (DEST/etc/swift/stacktui_swift_log.py) drops
that handler, so a pane's output is the whole log and nothing reaches the
host's syslog. Storage policies: swift reads them from /etc/swift/swift.conf
at import (no option moves that), so DEST's swift.conf defines only the
default policy, which is what swift assumes without that file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil

from stacktui.errors import StackError
from stacktui.phases import memcached
from stacktui.fsutil import atomic_write, make_dirs
from stacktui.service import ConfigFile, ServiceSpec, default_inputs, pane_spec

PROXY = "s-proxy"
STORAGE = {"s-object": "object", "s-container": "container", "s-account": "account"}
# Each storage server's background daemons (swift-<kind>-<daemon>), in its panes.
DAEMONS = {"s-object": ("replicator", "auditor", "updater", "expirer"),
           "s-container": ("replicator", "auditor", "updater"),
           "s-account": ("replicator", "auditor", "reaper")}
SERVICES = (PROXY, *STORAGE)
# Bumped when this module writes a different config.
REVISION = 2
PART_POWER, REPLICAS, MIN_HOURS, SEED = 9, 1, 1, 42
NODE, DEVICE = "1", "sdb1"
HASH_SECRET = "swift_hash"
LOG_MODULE = "stacktui_swift_log"
# DevStack's proxy pipeline with keystone (lib/swift configure_swift), tempauth left out.
PIPELINE = ("catch_errors gatekeeper healthcheck proxy-logging cache listing_formats "
            "container_sync bulk tempurl ratelimit crossdomain authtoken keystoneauth "
            "formpost staticweb copy container-quotas account-quotas slo dlo versioned_writes "
            "symlink proxy-logging proxy-server")
# paste.deploy names in the pipeline -> swift's egg entry points.
FILTERS = {"catch_errors": "catch_errors", "gatekeeper": "gatekeeper",
           "healthcheck": "healthcheck", "proxy-logging": "proxy_logging", "cache": "memcache",
           "listing_formats": "listing_formats", "container_sync": "container_sync",
           "bulk": "bulk", "tempurl": "tempurl", "ratelimit": "ratelimit",
           "crossdomain": "crossdomain", "keystoneauth": "keystoneauth", "formpost": "formpost",
           "staticweb": "staticweb", "copy": "copy", "container-quotas": "container_quotas",
           "account-quotas": "account_quotas", "slo": "slo", "dlo": "dlo",
           "versioned_writes": "versioned_writes", "symlink": "symlink"}
OPERATOR_ROLES = "member, admin"
RESELLER_ADMIN_ROLE = "ResellerAdmin"
# DevStack's SWIFT_MAX_FILE_SIZE when tempest runs (swift's own default).
MAX_FILE_SIZE = 5368709122
MAX_HEADER_SIZE = 16384

LOG_HOOK = '''"""Written by stacktui: swift's log_custom_handlers hook. Swift adds a
syslog handler to every logger; the pane's console is the log here."""
from logging.handlers import SysLogHandler


def console_only(conf, name, log_to_console, log_route, fmt, logger, adapted_logger):
    for handler in list(logger.handlers):
        if isinstance(handler, SysLogHandler):
            logger.removeHandler(handler)
'''

DAEMON_MODULE = "stacktui_swift_daemon"
# Swift's servers take swift.conf from their swift_dir (wsgi.run_wsgi calls
# set_swift_dir); its daemons do not and read /etc/swift/swift.conf, which
# DevStack makes a link to its config folder and which is outside DEST here.
DAEMON_HOOK = '''"""Written by stacktui: runs a swift daemon's own script with swift.conf
read from the stack's config folder, as the servers read it (their
swift_dir): swift's daemons otherwise read /etc/swift/swift.conf."""
import runpy
import sys

from swift.common import utils
from swift.common.storage_policy import reload_storage_policies


def main():
    swift_dir, script = sys.argv[1], sys.argv[2]
    if utils.set_swift_dir(swift_dir):
        reload_storage_policies()
    sys.argv = [script, *sys.argv[3:]]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
'''


# ------------------------------------------------------------ where things are

def etc(layout):
    return layout.etc / "swift"


def data(layout):
    return layout.data / "swift"


def devices(layout):
    """swift's `devices`: the folder holding the device folders."""
    return data(layout) / NODE


def proxy_conf(layout):
    return etc(layout) / "proxy-server.conf"


def server_conf(layout, kind: str):
    return etc(layout) / f"{kind}-server" / f"{NODE}.conf"


def internal_client_conf(layout):
    return etc(layout) / "internal-client.conf"


def daemon_pane(svc: str, daemon: str) -> str:
    return f"{svc}-{daemon}"


def storage_url(answers) -> str:
    """The account URL prefix: DevStack's `.../v1/AUTH_` (cinder's backup_swift_url)."""
    return f"http://{answers.url_host()}:{answers.port(PROXY)}/v1/AUTH_"


def _user() -> str:
    # Swift's servers setuid to `user` (default "swift"): the stack's own user.
    return pwd.getpwuid(os.geteuid()).pw_name


# ------------------------------------------------------------ paste.deploy files

def value(v) -> str:
    """A value as swift's config parsers give it back: they interpolate only
    values that hold ``%(``, so only those get their ``%`` doubled."""
    s = ("true" if v else "false") if isinstance(v, bool) else str(v)
    if "\n" in s or "\r" in s or s != s.strip():
        raise StackError(f"a swift config value cannot span lines or start or end with "
                         f"blanks: {s[:20]!r}...")
    return s.replace("%", "%%") if "%(" in s else s


def render(sections: dict[str, dict]) -> str:
    out = []
    for name, opts in sections.items():
        out.append(f"[{name}]")
        out += [f"{k} = {value(v)}" for k, v in opts.items() if v is not None]
        out.append("")
    return "\n".join(out)


def _common(ctx, port: int, workers: int) -> dict:
    L = ctx.layout
    return {"bind_ip": ctx.answers.bind_host, "bind_port": port, "workers": workers,
            "user": _user(), "swift_dir": etc(L), "log_level": "INFO",
            "log_custom_handlers": f"{LOG_MODULE}.console_only",
            # Read by the recon middleware and the daemons; default /var/cache/swift.
            "recon_cache_path": data(L) / "cache"}


def proxy_sections(ctx) -> dict[str, dict]:
    a = ctx.answers
    # One process unless the answers ask for more (0: swift does not fork).
    workers = 0 if a.workers == "auto" or int(a.workers) <= 1 else int(a.workers)
    auth = {"paste.filter_factory": "keystonemiddleware.auth_token:filter_factory",
            **ctx.authtoken_section("swift"), "delay_auth_decision": True,
            "cache": "swift.cache", "include_service_catalog": False, "log_name": "swift"}
    s = {"DEFAULT": _common(ctx, a.port(PROXY), workers),
         "pipeline:main": {"pipeline": PIPELINE},
         # DevStack's timeouts for a small slow host; accounts made on first use.
         "app:proxy-server": {"use": "egg:swift#proxy", "account_autocreate": True,
                              "allow_account_management": True, "node_timeout": 120,
                              "conn_timeout": 20},
         "filter:authtoken": auth,
         "filter:keystoneauth": {"use": "egg:swift#keystoneauth",
                                 "operator_roles": OPERATOR_ROLES,
                                 "reseller_admin_role": RESELLER_ADMIN_ROLE}}
    for name, egg in FILTERS.items():
        s.setdefault(f"filter:{name}", {})["use"] = f"egg:swift#{egg}"
    # s-proxy needs memcached (DevStack's start_swift restarts it too).
    s["filter:cache"]["memcache_servers"] = memcached.servers(a)
    s["filter:proxy-logging"]["reveal_sensitive_prefix"] = 12
    s["filter:versioned_writes"]["allow_versioned_writes"] = True
    return s


def server_sections(ctx, svc: str) -> dict[str, dict]:
    kind = STORAGE[svc]
    L = ctx.layout
    common = {**_common(ctx, ctx.answers.port(svc), 0), "devices": devices(L),
              # A folder, not a mounted XFS file system (see the module's doc).
              "mount_check": False, "disable_fallocate": True}
    out = {"DEFAULT": common,
           "pipeline:main": {"pipeline": f"healthcheck recon {kind}-server"},
           f"app:{kind}-server": {"use": f"egg:swift#{kind}"},
           "filter:healthcheck": {"use": "egg:swift#healthcheck"},
           "filter:recon": {"use": "egg:swift#recon", "recon_cache_path": data(L) / "cache"}}
    # Each daemon exits unless its section is there; they read [DEFAULT] too.
    for daemon in DAEMONS[svc]:
        out[f"{kind}-{daemon}"] = {}
    from stacktui.phases import swift_rsync
    out[f"{kind}-replicator"]["rsync_module"] = swift_rsync.rsync_module(ctx.answers, svc)
    if svc == "s-object":
        # The object server queues expiring objects in the legacy queue (the
        # .expiring_objects account); this one node is the cluster's expirer.
        out["object-expirer"].update(internal_client_conf_path=internal_client_conf(L),
                                     dequeue_from_legacy=True)
    return out


def internal_client_sections(ctx) -> dict[str, dict]:
    """swift's internal client (the object expirer's way into the cluster):
    a proxy app in the daemon's own process, as internal-client.conf-sample."""
    a = ctx.answers
    pipeline = "catch_errors proxy-logging cache proxy-server"
    s = {"DEFAULT": _common(ctx, 0, 0),
         "pipeline:main": {"pipeline": pipeline},
         "app:proxy-server": {"use": "egg:swift#proxy", "account_autocreate": True},
         "filter:catch_errors": {"use": "egg:swift#catch_errors"},
         "filter:proxy-logging": {"use": "egg:swift#proxy_logging"},
         "filter:cache": {"use": "egg:swift#memcache"}}
    for k in ("bind_ip", "bind_port", "workers"):
        del s["DEFAULT"][k]
    if "memcached" in a.services:
        s["filter:cache"]["memcache_servers"] = memcached.servers(a)
    else:
        s["pipeline:main"]["pipeline"] = pipeline.replace(" cache", "")
        del s["filter:cache"]
    return s


def swift_conf(ctx) -> dict[str, dict]:
    # Hex digests: swift reads [swift-hash] with interpolation on.
    digest = hashlib.sha256(ctx.secret(HASH_SECRET).encode()).hexdigest()
    return {"swift-hash": {"swift_hash_path_suffix": digest[:32],
                           "swift_hash_path_prefix": digest[32:]},
            "storage-policy:0": {"name": "Policy-0", "default": "yes"},
            "swift-constraints": {"max_file_size": MAX_FILE_SIZE,
                                  "max_header_size": MAX_HEADER_SIZE}}


# ------------------------------------------------------------ verbs

def inputs(answers, phase):
    got = default_inputs(answers, "swift")
    got["revision"] = REVISION
    got["ports"].update({s: answers.port(s) for s in (*SERVICES, "s-rsync")
                         if s in answers.services})
    if "memcached" in answers.services:
        got["ports"]["memcached"] = answers.port("memcached")
    return got


def configure(ctx):
    L = ctx.layout
    make_dirs(etc(L), mode=0o750)
    for d in (devices(L) / DEVICE, data(L) / "cache"):
        make_dirs(d, mode=0o750)
    atomic_write(etc(L) / f"{LOG_MODULE}.py", LOG_HOOK, mode=0o640)
    atomic_write(etc(L) / f"{DAEMON_MODULE}.py", DAEMON_HOOK, mode=0o640)
    atomic_write(etc(L) / "swift.conf", render(swift_conf(ctx)), mode=0o600)
    # It holds the service password (authtoken).
    atomic_write(proxy_conf(L), render(proxy_sections(ctx)), mode=0o600)
    for svc, kind in STORAGE.items():
        if svc in ctx.answers.services:
            make_dirs(server_conf(L, kind).parent, mode=0o750)
            atomic_write(server_conf(L, kind), render(server_sections(ctx, svc)), mode=0o640)
    if "s-object" in ctx.answers.services:
        atomic_write(internal_client_conf(L), render(internal_client_sections(ctx)), mode=0o640)


def ring_device(answers, svc: str) -> str:
    return f"r1z1-{answers.url_host()}:{answers.port(svc)}/{DEVICE}"


# swift-ring-builder's own entry point, run once per command as the CLI
# would but in one interpreter: nine CLI starts (each imports swift) cost
# 30 s of CPU on a loaded 2-core host, one costs about 3.
RING_SCRIPT = """
import json, sys
from swift.cli.ringbuilder import main
for argv in json.loads(sys.argv[1]):
    try:
        main(["swift-ring-builder", *argv])
        code = 0
    except SystemExit as e:
        code = e.code or 0
    # rebalance exits 1 on a warning (one device in one zone) and still writes the ring.
    if not (code == 0 or (code == 1 and argv[1] == "rebalance")):
        sys.exit(f"swift-ring-builder {' '.join(argv)} exited {code}")
"""


def ring_commands(answers, layout) -> list[list[str]]:
    out = []
    for svc, kind in STORAGE.items():
        f = str(etc(layout) / f"{kind}.builder")
        out += [[f, "create", str(PART_POWER), str(REPLICAS), str(MIN_HOURS)],
                [f, "add", ring_device(answers, svc), "1"], [f, "rebalance", str(SEED)]]
    return out


def init(ctx):
    """The three rings, made again from scratch as DevStack's init_swift
    does: the same seed gives the same partitions, and the objects stay."""
    L = ctx.layout
    for old in [*etc(L).glob("*.builder"), *etc(L).glob("*.ring.gz"), etc(L) / "backups"]:
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    status, tail = ctx.run([ctx.venv_bin("python"), "-c", RING_SCRIPT,
                            json.dumps(ring_commands(ctx.answers, L))], check=False, timeout=300)
    missing = [k for k in STORAGE.values() if not (etc(L) / f"{k}.ring.gz").exists()]
    if status != 0 or missing:
        err = StackError(f"swift's rings were not built in {etc(L)} (exit {status}; "
                         f"missing: {', '.join(missing) or 'none'})")
        err.tail = tail
        raise err
    ctx.say(f"swift: rings built in {etc(L)} (1 replica, 2^{PART_POWER} partitions)")


def _env(ctx) -> dict:
    return {"PYTHONPATH": str(etc(ctx.layout))}


def panes(ctx) -> list[dict]:
    a, L = ctx.answers, ctx.layout
    out = []
    for svc, kind in STORAGE.items():
        if svc in a.services:
            url = f"http://{a.url_host()}:{a.port(svc)}/healthcheck"
            out.append(pane_spec(ctx, svc, [ctx.venv_bin(f"swift-{kind}-server"),
                                             server_conf(L, kind), "-v"],
                                 env=_env(ctx), cwd=etc(L), ready={"http": url}, port=a.port(svc)))
            for daemon in DAEMONS[svc]:
                # -v: the log to the console (the pane) as the servers do.
                d = pane_spec(ctx, daemon_pane(svc, daemon),
                              [ctx.venv_bin("python"), "-m", DAEMON_MODULE, etc(L),
                               ctx.venv_bin(f"swift-{kind}-{daemon}"), server_conf(L, kind), "-v"],
                              env=_env(ctx), cwd=etc(L))
                d["group"] = "swift"
                out.append(d)
    if PROXY in a.services:
        out.append(pane_spec(ctx, PROXY, [ctx.venv_bin("swift-proxy-server"), proxy_conf(L), "-v"],
                             env=_env(ctx), cwd=etc(L), port=a.port(PROXY),
                             ready={"http": f"{ctx.endpoint(PROXY)}/info"}))
    return out


def accounts(ctx):
    if PROXY not in ctx.answers.services:
        return
    ks = ctx.keystone()
    ks.service_user("swift", ctx.answers.password("service"))
    # keystone's bootstrap does not make it; tempest's reseller tests and
    # DevStack (lib/keystone) do.
    ks.role(RESELLER_ADMIN_ROLE)
    base = ctx.endpoint(PROXY)
    # DevStack's two: the public one per project, the admin one the bare proxy.
    ks.endpoints(ks.service("swift", "object-store", "Swift Service"),
                 base + "/v1/AUTH_%(project_id)s", per_interface={"admin": base})


def verify(ctx, sess) -> None:
    """A container and an object made through the proxy, read back, removed."""
    if PROXY not in ctx.answers.services:
        return
    where = {"endpoint_filter": {"service_type": "object-store", "interface": "public",
                                 "region_name": ctx.answers.region}}
    body = os.urandom(4096)
    path = "/stacktui-verify"
    sess.put(path, raise_exc=True, **where)
    try:
        sess.put(f"{path}/probe", data=body, raise_exc=True, **where)
        got = sess.get(f"{path}/probe", raise_exc=True, **where).content
        if got != body:
            raise StackError("swift: the object read back differs from what was written")
    finally:
        sess.delete(f"{path}/probe", raise_exc=False, **where)
        sess.delete(path, raise_exc=False, **where)
    ctx.say("swift: a container and a 4 KiB object written, read back and deleted")


def cleanup(ctx):
    for d in (etc(ctx.layout), data(ctx.layout)):
        shutil.rmtree(d, ignore_errors=True)


def tempest(a, found) -> dict:
    if PROXY not in a.services:
        return {}
    return {"object-storage": {"region": a.region, "endpoint_type": "publicURL",
                               "operator_role": "member",
                               "reseller_admin_role": RESELLER_ADMIN_ROLE},
            # No swift-container-sync daemon runs (nor realms are set up).
            "object-storage-feature-enabled": {"discoverable_apis": "all",
                                               "container_sync": False,
                                               "object_versioning": True}}


def adjust_services(names: list[str], answers: dict) -> list[str]:
    """memcached comes with the proxy, as DevStack's start_swift (re)starts
    it: the proxy's cache middleware and its token cache live there."""
    if PROXY in names and "memcached" not in names:
        return [*names, "memcached"]
    return names


# The files a local.conf's [[post-config|...]] may name, as DevStack names
# them: $SWIFT_CONF_DIR (/etc/swift) and the file under it, or the proxy's
# own variable (lib/swift). Merged with swift's reader's rules ("paste").
_FILES = {"proxy-server.conf": "$SWIFT_CONFIG_PROXY_SERVER",
          "object-server/1.conf": None, "container-server/1.conf": None,
          "account-server/1.conf": None, "swift.conf": None, "internal-client.conf": None}
CONFIG_FILES = tuple(
    ConfigFile(var, "swift", rel, f"/etc/swift/{rel}" if var == f"$SWIFT_CONF_DIR/{rel}" else None,
               syntax="paste")
    for rel, own in _FILES.items() for var in (f"$SWIFT_CONF_DIR/{rel}", own) if var)


SPEC = ServiceSpec(
    "swift", SERVICES, configure=configure, init=init, panes=panes, accounts=accounts,
    verify=verify, cleanup=cleanup, inputs=inputs, tempest=tempest,
    secrets=(HASH_SECRET,), adjust_services=adjust_services, config_files=CONFIG_FILES,
    port_vars={PROXY: "SWIFT_DEFAULT_BIND_PORT", "s-object": "OBJECT_PORT_BASE",
               "s-container": "CONTAINER_PORT_BASE", "s-account": "ACCOUNT_PORT_BASE"},
    source_prefix={"swift": "SWIFT"},
    kolla_notes={s: "Kolla-Ansible no longer deploys Swift (its role was removed in 2025.1); "
                    "use Ceph RGW (enable_ceph_rgw)" for s in SERVICES},
    tempest_available={"swift": PROXY})
