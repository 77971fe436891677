"""Cinder (`c-api`, `c-sch`, `c-vol`): DevStack's lib/cinder.

One cinder.conf; the API under uwsgi, the scheduler and the volume service
as plain processes. The backend follows the host: LVM on a loop file of
`volume_backing_file_size` (DevStack's VOLUME_BACKING_FILE_SIZE habit) when
the kernel has device-mapper, else the fake driver DevStack's gate uses,
with each volume's bytes in a sparse file so images go in and out. Whichever runs is said at
configure time, and `stacktui check` says it too (its device-mapper check).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from stacktui import inifile, shims, svckit
from stacktui.errors import StackError
from stacktui.fsutil import copy_file, make_dirs
from stacktui.phases import verify as checks
from stacktui.service import ConfigFile, ServiceSpec, default_inputs, pane_spec

SERVICES = ("c-api", "c-sch", "c-vol", "c-bak")
# Bumped when this module writes a different config: the engine's
# fingerprints then redo cinder's steps on the next install.
REVISION = 6
READY_TIMEOUT = 180

LVM_BACKEND = "lvmdriver-1"
FAKE_BACKEND = "fakedriver-1"
FAKE_DRIVER = "cinder.tests.fake_driver.FakeLoggingVolumeDriver"
# The fake driver reports this backend name whatever the config says, and
# the scheduler matches a volume type's volume_backend_name against it.
FAKE_REPORTS = "fake"
LVM_DRIVER = "cinder.volume.drivers.lvm.LVMVolumeDriver"
# DevStack's VOLUME_GROUP_NAME-backend naming, so `vgs` reads as it does there.
VG = f"stack-volumes-{LVM_BACKEND}"


def has_device_mapper(root: str = "/") -> bool:
    """The kernel can map block devices (what LVM needs). /proc/misc lists
    the control device once dm is loaded; /sys/module/dm_mod exists whether
    it is a module or built in."""
    r = Path(root)
    if (r / "sys/module/dm_mod").exists():
        return True
    for name in ("proc/misc", "proc/devices"):
        try:
            text = (r / name).read_text()
        except OSError:
            continue
        if any(line.split()[-1:] == ["device-mapper"] for line in text.splitlines()):
            return True
    return False


# Read once at import, from the host: the prerequisites step installs the LVM
# tools only where they can work, so a host without device-mapper never waits
# on apt for them. qemu-img turns images into volumes with any backend.
PACKAGES = (("lvm2", "thin-provisioning-tools") if has_device_mapper() else ()) + ("qemu-utils",)


def backend(answers=None) -> tuple[str, str]:
    """("lvm" | "fake", why)."""
    if has_device_mapper():
        return "lvm", f"LVM volume group {VG} on a loop file (device-mapper present)"
    return "fake", ("the kernel has no device-mapper, so no LVM: DevStack's gate fake "
                    f"{FAKE_DRIVER}, each volume a sparse file under DEST/data/cinder "
                    f"({FILE_FAKE_DRIVER}), attached to guests as a loop device over that file")


def backend_name(answers=None) -> str:
    return LVM_BACKEND if backend(answers)[0] == "lvm" else FAKE_BACKEND


def reported_name(answers=None) -> str:
    """What the volume service reports as volume_backend_name."""
    return LVM_BACKEND if backend(answers)[0] == "lvm" else FAKE_REPORTS


def _etc(layout) -> Path:
    return layout.etc / "cinder"


def _conf(layout) -> Path:
    return _etc(layout) / "cinder.conf"


def _data(layout) -> Path:
    return layout.data / "cinder"


def backing_file(layout) -> Path:
    return _data(layout) / f"{VG}-backing-file"


def _has(ctx, name: str) -> bool:
    return name in ctx.answers.services


# cinder's WSGI module parses sys.argv for its options, and under uwsgi that
# is just ["uwsgi"]: without this shim it would only look in /etc/cinder. The
# shim lives in DEST/etc/cinder (on uwsgi's --pythonpath), not in the venv.
# The gate's fake driver keeps no bytes: a volume made from an image fails
# (qemu-img has no device to write to) and so do tempest's image tests. This
# subclass gives each volume a sparse file under state_path, so images go in
# and out for real; everything else stays the gate fake's. c-vol finds it on
# PYTHONPATH in DEST/etc/cinder.
FILE_FAKE_MODULE = "stacktui_cinder_fake"
FILE_FAKE_DRIVER = f"{FILE_FAKE_MODULE}.FileBackedFakeDriver"

WSGI_MODULE = "stacktui_cinder_api"


# ------------------------------------------------------------ phases

def inputs(answers, phase):
    import sys
    got = default_inputs(answers, "cinder")
    got["revision"] = REVISION
    got["backend"] = backend(answers)[0]
    got["volume_backing_file_size"] = answers.volume_backing_file_size
    for other in ("mysql", "rabbit", "memcached", "g-api", "etcd3", "s-proxy"):
        if other in answers.services:
            got["ports"][other] = answers.port(other)
    return got


def config(ctx) -> dict:
    from stacktui.phases import rabbit
    a, L = ctx.answers, ctx.layout
    data = _data(L)
    kind, _why = backend(a)
    name = backend_name(a)
    authtoken = svckit.authtoken(a, "cinder")
    if "memcached" in a.services:
        from stacktui.phases import memcached
        authtoken["memcached_servers"] = memcached.servers(a)
    if kind == "lvm":
        be = {"volume_driver": LVM_DRIVER, "volume_group": VG, "volume_backend_name": name,
              "target_helper": "lioadm", "target_protocol": "iscsi",
              "target_ip_address": a.host_ip, "lvm_type": "auto",
              "volume_clear": "none",
              # An lvm.conf here would replace the host's LVM settings for
              # cinder's commands (default /etc/cinder/lvm.conf); none is written.
              "lvm_conf_file": _etc(L) / "lvm.conf"}
    else:
        be = {"volume_driver": FILE_FAKE_DRIVER, "volume_backend_name": FAKE_REPORTS}
    default = {
        "debug": False, "use_stderr": True, "transport_url": rabbit.transport_url(a),
        "my_ip": a.host_ip, "state_path": data, "auth_strategy": "keystone",
        "enabled_backends": name, "default_volume_type": name,
        "rootwrap_config": _etc(ctx.layout) / "rootwrap.conf",
        "api_paste_config": _etc(ctx.layout) / "api-paste.ini",
        "volumes_dir": data / "volumes", "osapi_volume_workers": svckit.workers(a),
        "resource_query_filters_file": _etc(L) / "resource_filters.json",
    }
    if "g-api" in a.services:
        default["glance_api_servers"] = ctx.endpoint("g-api")
    if "c-bak" in a.services:
        default.update(backup_options(a, data))
    return {
        "DEFAULT": default,
        "database": {"connection": svckit.db_url(a, L, "cinder")},
        "keystone_authtoken": authtoken,
        # Nova is called for assisted snapshots and attach events. DevStack
        # logs in as nova there; cinder's own user (admin and service roles on
        # the service project) is allowed the same calls and exists whether
        # or not nova is deployed.
        "nova": {**svckit.service_auth(a, "cinder"), "interface": "public"},
        "service_user": {"send_service_user_token": True, **svckit.service_auth(a, "cinder")},
        "oslo_concurrency": {"lock_path": data / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_policy": svckit.policy_files(_etc(L)),
        "coordination": {"backend_url": coordination_url(a, data)},
        name: be,
        **privsep(ctx),
    }


SWIFT_BACKUP = "cinder.backup.drivers.swift.SwiftBackupDriver"
POSIX_BACKUP = "cinder.backup.drivers.posix.PosixBackupDriver"


def backup_options(answers, data) -> dict:
    """c-bak's driver: swift when it runs, as DevStack's default
    CINDER_BACKUP_DRIVER=swift (lib/cinder_backups/swift) sets it; else a
    folder under DEST (cinder's posix driver), so c-bak alone still works."""
    if "s-proxy" in answers.services:
        from stacktui.phases import swift
        # The user's own token reaches swift (backup_swift_auth = per_user).
        return {"backup_driver": SWIFT_BACKUP, "backup_swift_url": swift.storage_url(answers),
                # Not DevStack's zlib: a 1 GiB volume backed up in 24 s instead
                # of 53 s on a loaded 2-core host (zstd comes with cinder).
                "backup_compression_algorithm": "zstd"}
    return {"backup_driver": POSIX_BACKUP, "backup_posix_path": data / "backup"}


def coordination_url(answers, data) -> str:
    """tooz's backend: etcd when it runs, as DevStack's lib/cinder wires it,
    else a folder, which serves the one c-vol of a single host."""
    if "etcd3" in answers.services:
        from stacktui.phases import etcd3
        return etcd3.backend_url(answers)
    return f"file://{data / 'coordination'}"


def privsep(ctx) -> dict:
    """The privileged helpers by the venv's path: by default oslo.privsep
    goes through `sudo cinder-rootwrap`, which a root shell may not have
    (images to volumes then fail) and which sudo's secure_path never finds
    in a venv (an ordinary user's c-bak then cannot open a volume). An
    ordinary user's go through `sudo -n` (stacktui/privileged.py)."""
    import shlex
    from stacktui.privileged import as_root
    argv = [ctx.venv_bin("privsep-helper"), "--config-file", str(_conf(ctx.layout))]
    return {"cinder_sys_admin": {"helper_command": shlex.join(map(str, as_root(argv)))},
            "privsep_osbrick": {"helper_command": svckit.osbrick_helper(ctx, argv)}}


def _rootwrap(ctx) -> None:
    """rootwrap.conf pointing at the filters and binaries of DEST's venv, not
    /etc/cinder and /usr/local/bin as the shipped one does."""
    src = ctx.layout.venv / "etc" / "cinder"
    etc = _etc(ctx.layout)
    filters = etc / "rootwrap.d"
    if filters.exists():
        shutil.rmtree(filters)
    shutil.copytree(src / "rootwrap.d", filters)
    # The file-backed fake driver attaches a volume as a loop device over its
    # file (stacktui/shims/cinder_fake_driver.py); cinder ships no such rule.
    (filters / "stacktui-fake.filters").write_text(
        "[Filters]\nlosetup: CommandFilter, losetup, root\n")
    inifile.write(etc / "rootwrap.conf", {"DEFAULT": {
        "filters_path": filters,
        "exec_dirs": ",".join([str(ctx.layout.bin), "/sbin", "/usr/sbin", "/bin", "/usr/bin",
                               "/usr/local/bin", "/usr/local/sbin"]),
        "use_syslog": False, "syslog_log_facility": "syslog", "syslog_log_level": "ERROR",
    }}, mode=0o640)


def configure(ctx):
    L = ctx.layout
    etc, data = _etc(L), _data(L)
    for d in (etc, data, data / "locks", data / "volumes", data / "coordination"):
        make_dirs(d, mode=0o750)
    src = L.venv / "etc" / "cinder"
    copy_file(src / "resource_filters.json", etc / "resource_filters.json")
    svckit.copy_paste_ini(src / "api-paste.ini", etc / "api-paste.ini",
                          data / "healthcheck_disable")
    _rootwrap(ctx)
    (etc / f"{WSGI_MODULE}.py").write_text(shims.source("cinder_wsgi"))
    (etc / f"{FILE_FAKE_MODULE}.py").write_text(shims.source("cinder_fake_driver"))
    kind, why = backend(ctx.answers)
    ctx.say(f"cinder backend {backend_name(ctx.answers)}: {why}")
    inifile.write(_conf(L), config(ctx), mode=0o640)
    if kind == "lvm" and _has(ctx, "c-vol"):
        setup_lvm(ctx.answers, L, say=ctx.say)


def init(ctx):
    status, tail = ctx.run([ctx.venv_bin("cinder-manage"), "--config-file", _conf(ctx.layout),
                            "db", "sync"], check=False, timeout=900)
    if status != 0:
        err = StackError(f"cinder-manage db sync failed with exit code {status}")
        err.tail = tail
        raise err


def _env(ctx) -> dict:
    # rootwrap and cinder-rtstool are looked up on PATH. A fixed PATH, not
    # the installing shell's: the pane specs are fingerprinted, and another
    # shell's PATH would restart the panes on the next install.
    return {"STACKTUI_CINDER_CONF": str(_conf(ctx.layout)), "PYTHONPATH": str(_etc(ctx.layout)),
            "PATH": f"{ctx.layout.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def panes(ctx) -> list[dict]:
    a = ctx.answers
    specs = []
    if _has(ctx, "c-api"):
        argv = svckit.uwsgi_argv(ctx, "c-api", f"{WSGI_MODULE}:application",
                                 "--pythonpath", _etc(ctx.layout))
        specs.append(pane_spec(ctx, "c-api", argv, env=_env(ctx),
                               ready=svckit.http_ready(ctx, "c-api", "/"), port=a.port("c-api")))
    for name, exe in (("c-sch", "cinder-scheduler"), ("c-vol", "cinder-volume"),
                      ("c-bak", "cinder-backup")):
        if _has(ctx, name):
            specs.append(pane_spec(ctx, name, [ctx.venv_bin(exe), "--config-file",
                                               _conf(ctx.layout)], env=_env(ctx)))
    return specs


def _keystone(ctx):
    from stacktui.keystone_api import KeystoneAdmin
    a = ctx.answers
    ks = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region)
    ks.service_user("cinder", a.password("service"))
    if _has(ctx, "c-api"):
        # DevStack registers both: block-storage is the current type,
        # volumev3 what older clients and tempest configs ask for.
        url = ctx.endpoint("c-api") + "/v3/%(project_id)s"
        ks.endpoints(ks.service("cinder", "block-storage", "Cinder Volume Service"), url)
        ks.endpoints(ks.service("cinderv3", "volumev3", "Cinder Volume Service V3"), url)
    return ks


def accounts(ctx):
    _keystone(ctx)


def after_start(ctx):
    """With the panes up: the backend's volume type (DevStack's
    `lvmdriver-1`), then the scheduler and volume service seen up, so a
    volume can be created the moment install ends."""
    if not _has(ctx, "c-api"):
        return
    # An admin session only: service_user() would set cinder's password
    # again, and Keystone then revokes the tokens c-api has just fetched
    # (to the second), so its first requests answer 503.
    from stacktui.keystone_api import KeystoneAdmin
    a = ctx.answers
    ks = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region)
    url = f"{ctx.endpoint('c-api')}/v3/{ks.s.get_project_id()}"
    name = backend_name(ctx.answers)
    made = ensure_volume_type(ks.s, url, name, reported_name(ctx.answers))
    ctx.say(f"cinder: volume type {name} " + ("created" if made else "already there"))
    want = [b for s, b in (("c-sch", "cinder-scheduler"), ("c-vol", "cinder-volume"),
                           ("c-bak", "cinder-backup")) if _has(ctx, s)]
    if want:
        wait_services_up(ks.s, url, want, timeout=120)
        ctx.say(f"cinder: {', '.join(want)} up; backend {name}: {backend(ctx.answers)[1]}")
    if _has(ctx, "c-sch") and _has(ctx, "c-vol"):
        ctx.say(wait_scheduler_knows_pool(ctx, ks.s, url))


def wait_scheduler_knows_pool(ctx, sess, url: str, timeout: float = 180,
                              grace: float = 10) -> str:
    """Until c-sch lists c-vol's pool, so the first volume is placed.

    c-sch asks every volume service for its capabilities once, as it starts
    (cinder's SchedulerManager.init_host_with_rpc); c-vol otherwise sends
    them on its stats timer (backend_stats_polling_interval, 60 s, first run
    60 s after it starts). Both panes start together, so when c-sch asks
    before c-vol listens, nothing reaches it for 60 to 120 s and every
    volume made meanwhile fails with "No valid backend" (the install's
    verify waited 31 s on that). c-sch is restarted then, to ask a c-vol
    that is listening now; the wait before another restart doubles, as a
    loaded host boots c-sch slowly."""
    deadline = time.monotonic() + timeout
    asked = time.monotonic()
    restarts = 0
    while True:
        r = sess.get(f"{url}/scheduler-stats/get_pools", raise_exc=False)
        pools = [p.get("name") for p in r.json().get("pools", [])] if r.status_code == 200 else []
        if pools:
            how = f" after {restarts} restart(s) of c-sch" if restarts else ""
            return f"cinder: the scheduler knows pool {', '.join(pools)}{how}"
        if time.monotonic() > deadline:
            raise StackError(f"cinder-scheduler heard no capabilities from cinder-volume within "
                             f"{timeout:g} s (see `stacktui logs c-vol`, `stacktui logs c-sch`)")
        if time.monotonic() - asked > grace * 2 ** restarts:
            ctx.say("cinder: c-sch asked for capabilities before c-vol listened; restarting c-sch "
                    "so it asks again")
            ctx.client.restart(["c-sch"])
            restarts += 1
            asked = time.monotonic()
        time.sleep(0.5)


def ensure_volume_type(sess, url: str, name: str, backend_name_: str) -> bool:
    # By URL, not the catalog: the token may predate the volume endpoint.
    types = sess.get(f"{url}/types", raise_exc=True).json()["volume_types"]
    have = [t for t in types if t["name"] == name]
    if have:
        specs = have[0].get("extra_specs") or {}
        if specs.get("volume_backend_name") != backend_name_:
            # Refused while volumes of the type exist; such a type keeps
            # working for them, and new volumes say why in c-sch's log.
            r = sess.post(f"{url}/types/{have[0]['id']}/extra_specs", raise_exc=False,
                          json={"extra_specs": {"volume_backend_name": backend_name_}})
            if r.status_code >= 400:
                raise StackError(f"volume type {name} names backend "
                                 f"{specs.get('volume_backend_name')!r}, not {backend_name_!r}, and "
                                 f"cinder refused to change it: {r.text[:200]}; delete its volumes "
                                 "and run install again")
        return False
    sess.post(f"{url}/types", raise_exc=True, json={"volume_type": {
        "name": name, "os-volume-type-access:is_public": True,
        "extra_specs": {"volume_backend_name": backend_name_}}})
    return True


def serving(ctx, timeout: float = 120) -> str | None:
    """For `stacktui up`: cinder-volume has reported since its pane started
    (after a reboot the old record stays `up` for a minute), and c-sch
    knows its pool."""
    if not (_has(ctx, "c-api") and _has(ctx, "c-vol")):
        return None
    from stacktui.keystone_api import KeystoneAdmin
    a = ctx.answers
    ks = KeystoneAdmin(ctx.endpoint("key") + "/v3", a.password("admin"), a.region)
    url = f"{ctx.endpoint('c-api')}/v3/{ks.s.get_project_id()}"
    wait_services_up(ks.s, url, ["cinder-volume"], timeout,
                     since=svckit.pane_started(ctx, "c-vol"))
    if not _has(ctx, "c-sch"):
        return "cinder: cinder-volume reports up"
    # up starts c-sch and c-vol together too: the same race as at install.
    return "cinder: cinder-volume reports up; " + \
        wait_scheduler_knows_pool(ctx, ks.s, url).removeprefix("cinder: ")


def wait_services_up(sess, url: str, binaries: list[str], timeout: float,
                     since: float = 0.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        r = sess.get(f"{url}/os-services", raise_exc=False)
        svcs = r.json().get("services", []) if r.status_code == 200 else []
        up = {s["binary"] for s in svcs if s.get("state") == "up" and s.get("status") == "enabled"
              and svckit.reported_since(s, since)}
        if set(binaries) <= up:
            return svcs
        if time.monotonic() > deadline:
            raise StackError(f"cinder services not up within {timeout:g} s: "
                             f"{', '.join(sorted(set(binaries) - up))} (see `stacktui logs c-vol`, "
                             "`stacktui logs c-sch`)")
        time.sleep(1)


# ------------------------------------------------------------ LVM on a loop file

def _root(argv: list[str]) -> list[str]:
    return argv if os.geteuid() == 0 else ["sudo", "-n", *argv]


def _sh(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(_root([str(a) for a in argv]), capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise StackError(f"{' '.join(map(str, argv))} failed: {(r.stderr or r.stdout).strip()[-300:]}")
    return r


def loop_device(path: Path) -> str | None:
    """The loop device already backed by ``path``, if one is."""
    r = _sh(["losetup", "-j", path], check=False)
    for line in r.stdout.splitlines():
        dev = line.split(":", 1)[0].strip()
        if dev.startswith("/dev/"):
            return dev
    return None


def attach_loop(path: Path) -> str:
    return loop_device(path) or _sh(["losetup", "--show", "-f", path]).stdout.strip()


def _vg_exists() -> bool:
    return _sh(["vgs", "--noheadings", VG], check=False).returncode == 0


def setup_lvm(answers, layout, say=print) -> None:
    """The loop file (sparse), its loop device and the volume group on it;
    each made only when missing, so a rerun keeps every volume."""
    f = backing_file(layout)
    if not f.exists():
        f.parent.mkdir(parents=True, exist_ok=True)
        _sh(["truncate", "-s", answers.volume_backing_file_size, f])
    dev = attach_loop(f)
    if not _vg_exists():
        _sh(["pvcreate", "-f", dev])
        _sh(["vgcreate", VG, dev])
        say(f"cinder: volume group {VG} made on {dev} ({f}, "
            f"{answers.data['volume_backing_file_size']})")
    else:
        say(f"cinder: volume group {VG} on {dev}")


def before_up(answers, layout):
    """After a reboot the loop device is gone (DevStack's users re-run
    stack.sh for this): attach the file again and activate the group."""
    f = backing_file(layout)
    if not f.exists() or not has_device_mapper() or "c-vol" not in answers.services:
        return
    attach_loop(f)
    _sh(["pvscan", "--cache"], check=False)
    _sh(["vgchange", "-ay", VG], check=False)


def cleanup(ctx):
    """The volume group and loop device this stack made, then its files."""
    L = ctx.layout
    f = backing_file(L)
    if f.exists():
        dev = loop_device(f)
        if dev and shutil.which("vgremove"):
            pvs = _sh(["pvs", "--noheadings", "-o", "pv_name,vg_name"], check=False).stdout
            if any(line.split() == [dev, VG] for line in pvs.splitlines()):
                _sh(["vgremove", "-f", VG], check=False)
            _sh(["pvremove", "-ff", "-y", dev], check=False)
        if dev:
            _sh(["losetup", "-d", dev], check=False)
    # The fake driver's attachments: a loop device per attached volume file.
    fake = _data(L) / "fake-volumes"
    if fake.is_dir():
        for vol in fake.iterdir():
            dev = loop_device(vol)
            if dev:
                _sh(["losetup", "-d", dev], check=False)
    for d in (_etc(L), _data(L)):
        shutil.rmtree(d, ignore_errors=True)

def tempest(a, found) -> dict:
    # Before any volume service has reported, the backend configure named
    # (the conf is written at install, verify refreshes it).
    volume = {"region": a.region, "endpoint_type": "publicURL", "build_timeout": 300,
              "backend_names": found.get("volume_backends") or backend_name(a)}
    if "c-bak" in a.services and "s-proxy" in a.services:
        volume["backup_driver"] = "swift"     # DevStack's lib/tempest, for the swift driver
    return {"volume": volume,
            "volume-feature-enabled": {"backup": "c-bak" in a.services, "api_v3": True}}


SPEC = ServiceSpec(
    "cinder", SERVICES, tempest=tempest, verify=checks.check_cinder,
    configure=configure, init=init, panes=panes, accounts=accounts,
    after_start=after_start, before_up=before_up, serving=serving, cleanup=cleanup,
    inputs=inputs,
    ready_timeout=READY_TIMEOUT, packages=PACKAGES,
    databases={"cinder": ("cinder",)}, messaging=True,
    config_files=(ConfigFile("$CINDER_CONF", "cinder", None, "/etc/cinder/cinder.conf",
                             "cinder.conf"),),
    source_prefix={"cinder": "CINDER"}, port_vars={"c-api": "CINDER_SERVICE_PORT"},
    kolla_flags={"c-api": ("enable_cinder",), "c-sch": ("enable_cinder",),
                 "c-vol": ("enable_cinder", "enable_cinder_backend_lvm"),
                 "c-bak": ("enable_cinder_backup",)},
    tempest_available={"cinder": "c-api"}, tempest_scoped={"cinder": "c-api"})
