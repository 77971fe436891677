"""Every file or folder a service's config names is under DEST.

For each service `profile: devstack` installs, the config files are written
exactly as an install writes them (the phases' own configure functions, into
a temporary DEST; no service starts), then loaded the way that service loads
them: with the options its own `oslo-config-generator` namespaces list (the
`oslo.config.opts` entry points in the stack's venv) plus those its modules
register on import. Any option whose effective value, set or default, is a
path outside DEST fails the test, unless ALLOWED below says why that path is
right. A default like keystone's `[fernet_receipts] key_repository =
/etc/keystone/fernet-keys/` works on a machine where an old experiment left
that folder, and fails on every fresh host: this test sees it on any host.

The loading runs in subprocesses with the stack venv's python
(tests/config_paths_probe.py), one per service, because the services'
packages live in that venv and not in the test venv; the venv is built once
per session from the project's own lock with uv (seconds with uv's cache).
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stacktui import answers as answers_mod
from stacktui import events, tempest_conf
from stacktui.context import Context, service_specs
from stacktui.masking import Masker
from stacktui.paths import Layout
from stacktui.phases import install
from stacktui.runner import Runner

PROBE = Path(__file__).with_name("config_paths_probe.py")

# What each service reads, and with which options. The namespaces are copied
# from each project's oslo-config-generator file (path given per service);
# a service whose files more than one program reads gets the union (glance-api
# and glance-manage read glance-api.conf; neutron's API and its OVN
# maintenance worker read neutron.conf and ml2_conf.ini). `modules` are
# imported as the service's processes import them: they register options on
# oslo.config's global CONF that no namespace lists (glance's
# metadata_source_path, read by glance-manage, is one).
SERVICES: dict[str, dict] = {
    "keystone": {  # keystone: config-generator/keystone.conf
        "files": ["keystone/keystone.conf"],
        "namespaces": ["keystone", "oslo.cache", "oslo.log", "oslo.messaging", "oslo.policy",
                       "oslo.db", "oslo.middleware", "osprofiler"],
        "modules": ["keystone.server.flask.application"],
    },
    "glance": {  # glance: etc/oslo-config-generator/glance-api.conf, glance-manage.conf
        "files": ["glance/glance-api.conf"],
        "namespaces": ["castellan.config", "glance.api", "glance.store", "os_brick",
                       "glance.multi_store", "oslo.concurrency", "oslo.messaging", "oslo.db",
                       "oslo.policy", "keystonemiddleware.auth_token", "oslo.limit", "oslo.log",
                       "oslo.middleware.cors", "oslo.middleware.healthcheck",
                       "oslo.middleware.http_proxy_to_wsgi", "oslo.reports", "glance.manage"],
        "modules": ["glance.common.wsgi_app", "glance.cmd.manage"],
    },
    "placement": {  # placement: etc/placement/config-generator.conf
        "files": ["placement/placement.conf"],
        "namespaces": ["placement.conf", "keystonemiddleware.auth_token", "oslo.log",
                       "oslo.middleware.cors", "oslo.middleware.http_proxy_to_wsgi",
                       "oslo.policy", "osprofiler"],
        "modules": ["placement.deploy"],
    },
    "nova": {  # nova: etc/nova/nova-config-generator.conf
        "files": ["nova/nova.conf"],
        "namespaces": ["nova.conf", "oslo.limit", "oslo.log", "oslo.messaging", "oslo.policy",
                       "oslo.privsep", "oslo.service.periodic_task", "oslo.service.service",
                       "oslo.middleware", "oslo.concurrency", "oslo.reports",
                       "oslo.versionedobjects", "keystonemiddleware.auth_token", "osprofiler",
                       "os_vif", "os_brick"],
        # Before anything imports eventlet: nova's commands refuse to load after it.
        "modules": ["nova.cmd.compute", "nova.cmd.conductor", "nova.cmd.scheduler",
                    "nova.api.openstack.compute", "nova.api.metadata.handler"],
    },
    "neutron": {  # neutron: etc/oslo-config-generator/neutron.conf, ml2_conf.ini
        "files": ["neutron/neutron.conf", "neutron/ml2_conf.ini"],
        "namespaces": ["neutron", "neutron.agent", "neutron.db", "neutron.experimental",
                       "neutron.extensions", "nova.auth", "ironic.auth", "placement.auth",
                       "designate.auth", "oslo.log", "oslo.cache", "oslo.db", "oslo.policy",
                       "oslo.privsep", "oslo.concurrency", "oslo.messaging",
                       "oslo.middleware.cors", "oslo.middleware.healthcheck",
                       "oslo.middleware.http_proxy_to_wsgi", "oslo.reports",
                       "oslo.service.periodic_task", "oslo.service.service",
                       "oslo.versionedobjects", "keystonemiddleware.auth_token", "osprofiler",
                       "neutron.ml2", "neutron.ml2.ovn"],
        "modules": ["neutron.common.config", "neutron.plugins.ml2.plugin",
                    "neutron.plugins.ml2.drivers.ovn.mech_driver.mech_driver",
                    "neutron.server.ovn_maintenance"],
    },
    "neutron-ovn-agent": {  # neutron: etc/oslo-config-generator/ovn_agent.ini (q-ovn-agent)
        "files": ["neutron/neutron.conf", "neutron/ovn_agent.ini"],
        "namespaces": ["neutron", "neutron.agent", "neutron.base.agent", "neutron.ml2.ovn.agent",
                       "neutron.ovn.metadata.agent", "oslo.log", "oslo.privsep",
                       "oslo.concurrency", "oslo.messaging"],
        "modules": ["neutron.common.config"],
    },
    "cinder": {  # cinder: tools/config/cinder-config-generator.conf
        "files": ["cinder/cinder.conf"],
        "namespaces": ["castellan.config", "cinder", "keystonemiddleware.auth_token",
                       "osprofiler", "oslo.config", "oslo.concurrency", "oslo.db", "oslo.log",
                       "oslo.messaging", "oslo.middleware", "oslo.policy", "oslo.privsep",
                       "oslo.reports", "oslo.service.periodic_task", "oslo.service.service",
                       "oslo.service.sslutils", "oslo.service.wsgi", "oslo.versionedobjects",
                       "os_brick"],
        "modules": ["cinder.common.config", "cinder.cmd.volume", "cinder.cmd.scheduler"],
    },
    "tempest": {  # tempest: tempest/cmd/config-generator.tempest.conf; its own venv
        "files": ["tempest/tempest.conf"],
        "namespaces": ["tempest.config", "oslo.concurrency", "oslo.log"],
        "modules": [],
        "venv": "tempest",
    },
}

# Phase modules of `profile: devstack` whose files are not oslo.config's,
# and why they are not in SERVICES. horizon has its own check below.
NOT_OSLO = {
    "mysql": "MariaDB's my.cnf: its paths are checked by tests/test_mysql_rabbit.py's real server",
    "rabbit": "RabbitMQ's own files; RABBITMQ_* variables place its folders (phases/rabbit.py)",
    "ovn": "no config file: the daemons get every path on their command lines",
    "libvirt": "libvirtd runs in a mount namespace that binds DEST's folders over /etc/libvirt",
    "horizon": "Django settings: test_horizon_settings_paths_are_under_dest",
    "etcd3": "no config file: etcd gets its data folder and URLs on its command line",
    "dstat": "no config file: dstat's options are on its command line",
    "novnc": "writes no file: nova-novncproxy reads nova.conf, audited as nova's",
    "memcached": "no config file: memcached gets its address and size on its command line",
    "swift": "paste.deploy files read by swift's own parsers: test_swift_paths_are_under_dest",
    "swift_rsync": "rsyncd.conf under DEST/etc/swift: its paths are checked by "
                   "test_swift_paths_are_under_dest",
}

# Files configure writes that are neither a SERVICES file nor scanned below as
# plain ini files, and why.
OTHER_FILES = {
    "*/stacktui_*.py": "Python modules stacktui writes (cinder's WSGI shim, its fake driver)",
    "cinder/rootwrap.d/*": "rootwrap filter lists copied from the venv: commands, not paths read",
    "nova/rootwrap.d/*": "rootwrap filter lists copied from the venv: commands, not paths read",
    "cinder/resource_filters.json": "cinder's API filter list: no paths",
    "horizon/*": "checked by test_horizon_settings_paths_are_under_dest",
    "horizon/local/*": "checked by test_horizon_settings_paths_are_under_dest",
    "libvirt/*": "libvirt runs in a mount namespace of its own where DEST's folders are bound "
                 "over /etc/libvirt, /run/libvirt, /var/lib/libvirt ... (phases/libvirt.py binds); "
                 "test_e2e_libvirt and the DevStack e2e boot guests through it",
    "mysql/my.cnf": NOT_OSLO["mysql"],
    "rabbit/*": NOT_OSLO["rabbit"],
    "swift/*": NOT_OSLO["swift"] + " (and its rings: binary, written by swift-ring-builder)",
}
# Plain ini files (paste pipelines, rootwrap): every value that is an
# absolute path must be under DEST, but for these.
INI_FILES = ("*/api-paste.ini", "glance/glance-api-paste.ini", "*/rootwrap.conf")
INI_ALLOWED = {
    ("rootwrap.conf", "exec_dirs"): "rootwrap runs the filters' commands from the system's "
                                    "binary folders (and the venv's, which is under DEST)",
}

# Paths outside DEST that are right, or that the service never reads the way
# stacktui configures it. Keyed (service or "*", group or "*", option).
ALLOWED: dict[tuple[str, str, str], str] = {
    ("nova", "vif_plug_ovs_privileged", "helper_command"):
        "a command line: /usr/bin/nsenter enters the stack's own network namespace "
        "(DEST/run/netns/stack) to run the venv's privsep-helper with DEST's nova.conf",
    ("*", "privsep_osbrick", "helper_command"):
        "a command line: unshare and stacktui.nsbind bind DEST/data/nvme over /etc/nvme in "
        "the helper's own mount namespace, so os-brick's host id stays under DEST",
    ("neutron-ovn-agent", "ovn_evpn", "frr_vty_socket"):
        "read only by the ovn_evpn agent extension; stacktui enables only metadata",
    # -- every oslo service
    ("*", "oslo_middleware", "http_basic_auth_user_file"):
        "read only with auth_strategy = http_basic; stacktui's services use keystone",
    ("*", "oslo_messaging_metrics", "metrics_socket_file"):
        "used only with [oslo_messaging_metrics] metrics_enabled, which is off",
    ("*", "os_brick", "lightos_discovery_client_dir_path"):
        "os-brick's LightOS connector only; no LightOS volumes here",
    # -- keystone
    ("keystone", "federation", "sso_callback_template"): "federated single sign-on only (off)",
    ("keystone", "identity", "domain_config_dir"):
        "read only with domain_specific_drivers_enabled (off)",
    ("keystone", "jwt_tokens", "jws_private_key_repository"): "JWS tokens only; tokens are fernet",
    ("keystone", "jwt_tokens", "jws_public_key_repository"): "JWS tokens only; tokens are fernet",
    ("keystone", "saml", "certfile"): "keystone as a SAML identity provider only (not set up)",
    ("keystone", "saml", "keyfile"): "keystone as a SAML identity provider only (not set up)",
    ("keystone", "saml", "idp_metadata_path"): "keystone as a SAML identity provider only",
    # -- glance
    ("glance", "DEFAULT", "node_staging_uri"):
        "single-store setting: with enabled_backends glance stages in [os_glance_staging_store]",
    ("glance", "glance_store", "filesystem_store_datadir"):
        "single-store setting: with enabled_backends the file store is [fast]",
    ("glance", "file", "filesystem_store_datadir"):
        "single-store setting: with enabled_backends the file store is [fast]",
    ("glance", "*", "cinder_mount_point_base"): "glance's cinder store only; the store is file",
    ("glance", "*", "rootwrap_config"): "glance's cinder store only; the store is file",
    ("glance", "*", "vmware_store_image_dir"): "a folder on a VMware datastore, not on this host",
    # -- nova
    ("nova", "DEFAULT", "web"): "served by nova-spicehtml5proxy, which stacktui does not run",
    ("nova", "libvirt", "rng_dev_path"): "the host's random device, given to guests",
    ("nova", "libvirt", "vzstorage_log_path"): "Virtuozzo Storage volumes only",
    ("nova", "vmware", "serial_log_dir"): "the VMware driver only",
    # -- neutron
    ("neutron", "agent", "kill_scripts_path"): "neutron's L3 and DHCP agents only; OVN has none",
    ("neutron", "AGENT", "kill_scripts_path"): "neutron's L3 and DHCP agents only; OVN has none",
    # -- cinder: files of storage products' drivers; the backend is LVM or the fake
    ("cinder", "DEFAULT", "backup_ceph_conf"): "the Ceph backup driver only (c-bak's is swift)",
    ("cinder", "*", "chiscsi_conf"): "the Chelsio iSCSI target only; the target is lioadm",
    ("cinder", "DEFAULT", "infortrend_cli_path"): "the Infortrend driver only",
    ("cinder", "DEFAULT", "java_path"): "the Infortrend driver's Java only",
    ("cinder", "DEFAULT", "vrts_target_config"): "the Veritas target only",
    ("cinder", "*", "cinder_eternus_config_file"): "the Fujitsu ETERNUS driver only",
    ("cinder", "*", "cinder_huawei_conf_file"): "the Huawei driver only",
    ("cinder", "*", "nexenta_nbd_symlinks_dir"): "the Nexenta driver only",
    ("cinder", "*", "nexenta_shares_config"): "the Nexenta driver only",
    ("cinder", "*", "nfs_shares_config"): "the NFS driver only",
    ("cinder", "*", "vmware_tmp_dir"): "the VMware driver only",
    ("cinder", "*", "vzstorage_shares_config"): "the Virtuozzo Storage driver only",
    ("cinder", "fakedriver-1", "lvm_conf_file"):
        "the LVM driver only; this backend is the fake (the LVM one sets it under DEST)",
    ("cinder", "backend_defaults", "lvm_conf_file"):
        "a default the backend section overrides (lvmdriver-1 sets it under DEST)",
    # -- tempest
    ("tempest", "scenario", "img_file"):
        "an image only scenario tests upload; DevStack's CirrOS file, which no host here has",
    ("tempest", "scenario", "target_dir"): "a folder inside the guest, written over SSH",
}
# Whole trees that are right wherever an option points into them.
ALLOWED_TREES = {
    "/dev/": "device files: the kernel's, not state a service keeps",
    "/proc/": "the kernel's view of processes",
    "/sys/": "the kernel's view of devices",
}


def _lock_requirements(tmp: Path) -> Path:
    """The services' lock as an install uses it for a stack without libvirt
    (install.ON_DEMAND entries are built from source, and need no options
    of theirs checked: nova's libvirt options are nova's)."""
    lines = [line for line in (install._locks_dir() / "full.txt").read_text().splitlines()
             if line.split("==")[0].strip().lower() not in install.ON_DEMAND]
    out = tmp / "requirements.txt"
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="session")
def stack_venvs(tmp_path_factory) -> dict[str, Path]:
    """The services' venv and tempest's, from the project's locks, as
    phases/install.py and phases/tempest.py build them."""
    root = tmp_path_factory.mktemp("config-paths-venvs")
    uv = install.uv()
    venvs = {"stack": (root / "stack", _lock_requirements(root)),
             "tempest": (root / "tempest", install._locks_dir() / "tempest.txt")}
    t0 = time.monotonic()
    for venv, req in venvs.values():
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, venv], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", venv / "bin" / "python",
                        "--no-deps", "-r", req], check=True, timeout=1200)
    print(f"venvs built in {time.monotonic() - t0:.1f} s")
    return {k: v[0] for k, v in venvs.items()}


def _configure(dest: Path, venv: Path, monkeypatch, device_mapper: bool) -> answers_mod.Answers:
    """DEST/etc as `stacktui install` writes it for `profile: devstack`."""
    from stacktui.phases import cinder
    dest.mkdir(parents=True)
    # The venv lives in DEST, as in an install; here it is the session's one.
    (dest / "venv").symlink_to(venv)
    # The backend follows the host's kernel; each test run sees both. LVM's
    # setup makes a loop device and a volume group on the host, which a test
    # of config files must not: only its config is wanted.
    monkeypatch.setattr(cinder, "has_device_mapper", lambda root="/": device_mapper)
    monkeypatch.setattr(cinder, "setup_lvm", lambda *a, **k: None)
    # libvirt's configure makes the stack's network namespace, its host link
    # and the floating range's route: the host's, not config files; two
    # DESTs here would claim one range, and the links would outlive the test.
    from stacktui import netns
    monkeypatch.setattr(netns, "ensure", lambda *a, **k: None)
    # The session stack's services: DevStack's list plus swift and c-bak.
    from tests.stackfix import devstack_services
    ans = answers_mod.load(None, dest=dest, overrides={"profile": "devstack",
                                                       "enabled_services": devstack_services(),
                                                       "host_ip": "127.0.0.1"})
    layout = Layout(ans.dest)
    runner = Runner(layout.stack_log, Masker(ans.secret_values))
    ctx = Context(ans, layout, events.Bus(), runner)
    try:
        for spec in service_specs(ans):
            if spec.configure:
                spec.configure(ctx)
        # tempest.conf is written by tempest's accounts step; its paths do not
        # depend on what the running services report.
        tempest_conf.write(ans, layout, {})
        # swift's proxy reads its rings when its app is built (init writes them).
        from stacktui.phases import swift
        swift.init(ctx)
    finally:
        runner.close()
    return ans


def _probe(python: Path, args: list[str], tmp: Path) -> dict:
    r = subprocess.run([str(python), str(PROBE), *args], capture_output=True, text=True,
                       timeout=300, cwd=tmp,
                       # nova's commands run on native threads, as its panes do;
                       # unset, they refuse to load once eventlet is imported.
                       env={**os.environ, "OS_NOVA_DISABLE_EVENTLET_PATCHING": "true"})
    assert r.returncode == 0, f"probe {' '.join(args)} failed:\n{r.stderr[-4000:]}"
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def audited(stack_venvs, tmp_path_factory):
    """Both cinder backends' configs, every service probed, side by side."""
    root = tmp_path_factory.mktemp("config-paths")
    mp = pytest.MonkeyPatch()
    try:
        dests = {"fake": root / "dest-fake", "lvm": root / "dest-lvm"}
        answers = {k: _configure(d, stack_venvs["stack"], mp, device_mapper=(k == "lvm"))
                   for k, d in dests.items()}
    finally:
        mp.undo()
    jobs = []
    for name, spec in SERVICES.items():
        # Only cinder's files differ between the two DESTs.
        variants = dests if name == "cinder" else {"fake": dests["fake"]}
        spec_file = root / f"{name}.json"
        spec_file.write_text(json.dumps({
            "project": name, "namespaces": spec["namespaces"], "modules": spec["modules"],
            "variants": {v: [str(d / "etc" / f) for f in spec["files"]]
                         for v, d in variants.items()}}))
        python = stack_venvs[spec.get("venv", "stack")] / "bin" / "python"
        jobs.append((name, python, [str(spec_file)]))
    jobs.append(("horizon", stack_venvs["stack"] / "bin" / "python",
                 ["--horizon", str(dests["fake"] / "etc" / "horizon")]))
    jobs.append(("swift", stack_venvs["stack"] / "bin" / "python",
                 ["--swift", *map(str, _swift_confs(dests["fake"]))]))
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(zip([j[0] for j in jobs],
                           pool.map(lambda j: _probe(j[1], j[2], root), jobs)))
    print(f"{len(jobs)} probes in {time.monotonic() - t0:.1f} s")
    return {"dests": dests, "answers": answers, "results": results, "venvs": stack_venvs}


def _swift_confs(dest: Path) -> list[Path]:
    from stacktui.paths import Layout
    from stacktui.phases import swift
    L = Layout(dest)
    return [swift.proxy_conf(L), *(swift.server_conf(L, k) for k in swift.STORAGE.values())]


def _under(path: str, root: Path) -> bool:
    p = os.path.normpath(path)
    r = os.path.normpath(str(root))
    return p == r or p.startswith(r + os.sep)


def _allowed(service: str, group: str, option: str) -> str | None:
    for key in ((service, group, option), (service, "*", option), ("*", group, option),
                ("*", "*", option)):
        if key in ALLOWED:
            return ALLOWED[key]
    return None


def outside(found: dict, dest: Path, venv: Path, service: str) -> tuple[list[str], int]:
    """The findings of one probe that are neither under DEST nor allowed,
    and how many were allowed."""
    bad, allowed = [], 0
    for p in found["paths"]:
        where = f"[{p['group']}] {p['option']} = {p['value']}"
        if p["relative"]:
            # oslo.log puts a relative log_file in log_dir.
            if p["option"] == "log_file" and p["group"] == "DEFAULT":
                continue
            if _allowed(service, p["group"], p["option"]):
                allowed += 1
            else:
                bad.append(f"{where} (relative: oslo.config's find_file looks for it in "
                           f"/etc/{service}/ and /etc/ too)")
            continue
        path = p["path"]
        # The venv is DEST/venv in an install; in this test it is a symlink
        # to the session's venv, and modules report their real location.
        if _under(path, dest) or _under(path, venv) or any(
                path.startswith(t) for t in ALLOWED_TREES):
            continue
        if _allowed(service, p["group"], p["option"]):
            allowed += 1
        else:
            bad.append(where)
    return bad, allowed


def test_every_devstack_service_is_audited(audited):
    """A service added to the DevStack profile fails here until its config
    files are checked (or it says why they need not be)."""
    ans = audited["answers"]["fake"]
    specs = service_specs(ans)
    mods = {spec.name for spec in specs}
    assert mods - set(SERVICES) - set(NOT_OSLO) == set()
    assert {"keystone", "glance", "placement", "nova", "neutron", "cinder", "tempest"} <= mods
    # The files a service declares for post-config are the ones audited
    # (swift's, paste.deploy files, by test_swift_paths_are_under_dest).
    declared = {f"{c.project}/{c.name or c.project + '.conf'}" for spec in specs
                for c in spec.config_files if spec.name not in NOT_OSLO}
    audited_files = {f for spec in SERVICES.values() for f in spec["files"]}
    # nova-cpu.conf: DevStack's name for a compute node's file; stacktui
    # writes one nova.conf, and the file exists only if post-config makes it.
    assert declared - audited_files == {"nova/nova-cpu.conf"}


def test_every_written_file_is_audited(audited):
    """Every file configure writes under DEST/etc is read by a SERVICES
    probe, scanned as a plain ini file, or listed with a reason."""
    import fnmatch
    audited_files = {f for spec in SERVICES.values() for f in spec["files"]}
    for dest in audited["dests"].values():
        etc = dest / "etc"
        for f in sorted(etc.rglob("*")):
            if not f.is_file():
                continue
            rel = f.relative_to(etc).as_posix()
            if rel in audited_files or any(fnmatch.fnmatch(rel, g) for g in INI_FILES):
                continue
            assert any(fnmatch.fnmatch(rel, g) for g in OTHER_FILES), \
                f"{rel}: written by configure and not audited; add it to SERVICES or OTHER_FILES"


@pytest.mark.parametrize("service", list(SERVICES))
def test_service_paths_are_under_dest(audited, service):
    failures = []
    probed = audited["results"][service]
    assert not probed["missing_namespaces"], \
        f"{service}: no oslo.config.opts entry point for {probed['missing_namespaces']}"
    for variant, found in probed["variants"].items():
        dest = audited["dests"][variant]
        assert found["errors"] == [], found["errors"]
        # The files were really read, and options really registered.
        expected = [str(dest / "etc" / f) for f in SERVICES[service]["files"]]
        assert found["read"] == expected
        assert found["registered"] > 100
        venv = audited["venvs"][SERVICES[service].get("venv", "stack")]
        bad, allowed = outside(found, dest, venv.resolve(), service)
        failures += [f"{variant}: {b}" for b in bad]
        print(f"{service} ({variant}): {found['registered'] + len(found['from_modules'])} options, "
              f"{len(found['paths'])} name a path: {len(bad)} outside DEST, {allowed} allowed")
    assert not failures, (f"{service}: options naming paths outside DEST (set them under DEST "
                          f"in phases/, or add them to ALLOWED with the reason):\n  "
                          + "\n  ".join(failures))


def test_plain_ini_files_name_no_path_outside_dest(audited):
    import fnmatch
    failures = []
    for dest in audited["dests"].values():
        etc = dest / "etc"
        for f in sorted(etc.rglob("*")):
            rel = f.relative_to(etc).as_posix()
            if not any(fnmatch.fnmatch(rel, g) for g in INI_FILES):
                continue
            p = configparser.RawConfigParser(interpolation=None, strict=False)
            p.read(f)
            for section in [p.default_section, *p.sections()]:
                for key, value in p.items(section) if section != p.default_section \
                        else p.defaults().items():
                    for item in value.replace(",", " ").split():
                        if not item.startswith("/") or _under(item, dest):
                            continue
                        if (f.name, key) in INI_ALLOWED:
                            continue
                        failures.append(f"{rel} [{section}] {key} = {item}")
    assert not failures, "\n".join(sorted(set(failures)))


# Horizon's settings that start with "/" but are URL paths (or cookie
# scopes) in the browser, not files.
HORIZON_URLS = {"WEBROOT", "STATIC_URL", "MEDIA_URL", "LOGIN_URL", "LOGOUT_URL", "LOGIN_ERROR",
                "LOGIN_REDIRECT_URL", "COMPRESS_URL", "COMPRESS_URL_PLACEHOLDER",
                "CSRF_COOKIE_PATH", "SESSION_COOKIE_PATH", "LANGUAGE_COOKIE_PATH",
                "COMPRESS_TEMPLATE_FILTER_CONTEXT", "HORIZON_COMPRESS_OFFLINE_CONTEXT_BASE",
                "OPERATION_LOG_OPTIONS"}
# Settings whose None means "no such file" (not a default location).
HORIZON_NONE_OK = {
    "FORMAT_MODULE_PATH": "None: Django's own date formats, no module read",
    "MESSAGES_PATH": "None: no operator messages folder",
    "STATIC_ROOT": "set by stacktui",
}


def test_horizon_settings_paths_are_under_dest(audited):
    found = audited["results"]["horizon"]
    dest = audited["dests"]["fake"]
    venv = audited["venvs"]["stack"].resolve()
    assert found["local_settings"] == str(dest / "etc" / "horizon" / "local" /
                                          "local_settings.py")
    bad = []
    for p in found["paths"]:
        name, path = p["option"], p["path"]
        if name in HORIZON_URLS:
            continue
        if path is None:
            if name not in HORIZON_NONE_OK:
                bad.append(f"{name} = None (a default location outside DEST)")
            continue
        if not (_under(path, dest) or _under(path, venv)):
            bad.append(f"{name} = {path}")
    assert not bad, "horizon settings naming paths outside DEST:\n  " + "\n  ".join(bad)


def test_swift_paths_are_under_dest(audited):
    """swift's configs are paste.deploy files, not oslo.config's: each
    server's app is built from its file by swift itself, and every absolute
    path its objects hold (set or swift's default) must be under DEST."""
    found = audited["results"]["swift"]
    dest = audited["dests"]["fake"]
    venv = audited["venvs"]["stack"].resolve()
    assert sorted(found["apps"].values()) == ["swift.account.server", "swift.container.server",
                                              "swift.obj.server", "swift.proxy.server"]
    import re
    held: dict[str, set] = {}
    for p in found["paths"]:
        held.setdefault(re.split(r"[.:\[]", p["option"])[-1].rstrip("]"), set()).add(p["path"])
    # The options whose defaults are outside DEST were really seen, and set.
    for option in ("swift_dir", "devices", "recon_cache_path"):
        assert held.get(option) and all(_under(v, dest) for v in held[option]), \
            (option, held.get(option))
    swift_conf = [p["path"] for p in found["paths"] if p["option"] == "swift.conf"]
    assert swift_conf and _under(swift_conf[0], dest), swift_conf
    bad = sorted({f"{p['option']} = {p['path']}" for p in found["paths"]
                  if not (_under(p["path"], dest) or _under(p["path"], venv)
                          or any(p["path"].startswith(t) for t in ALLOWED_TREES))})
    assert not bad, "swift: paths outside DEST:\n  " + "\n  ".join(bad)
    # The replicators' rsync daemon: its modules, pid and lock files.
    from stacktui.phases import swift_rsync
    rsyncd = swift_rsync.conf_path(Layout(dest)).read_text()
    paths = re.findall(r"^(?:path|pid file|lock file|log file) = (.+)$", rsyncd, re.M)
    assert len(paths) == 1 + 2 * 3 and all(_under(v, dest) for v in paths), paths
    # The daemons' own sections name only DEST's files (the expirer's client).
    conf = configparser.RawConfigParser(interpolation=None)
    conf.read(Layout(dest).etc / "swift" / "object-server" / "1.conf")
    assert _under(conf.get("object-expirer", "internal_client_conf_path"), dest)
