"""The same answers as a Kolla-Ansible deployment, for users who outgrow one
machine: globals.yml, passwords.yml and an all-in-one inventory.

Kolla's own files are the reference. When kolla-ansible is installed its
passwords.yml template and all-in-one inventory are read at export time, so a
newer Kolla with new keys is followed without a stacktui release; the key
list below is the fallback (kolla-ansible 22.x).
"""

from __future__ import annotations

import base64
import re
import hashlib
import secrets as _secrets
import string
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

from . import answers as answers_mod, catalog, registry
from .kolla_groups import SERVICE_GROUPS
from .fsutil import atomic_write

PASSWORD_KEYS = """
rbd_secret_uuid cinder_rbd_secret_uuid database_password mariadb_backup_database_password
mariadb_monitor_password docker_registry_password hnas_nfs_password infoblox_admin_password
aodh_database_password aodh_keystone_password barbican_database_password
barbican_keystone_password barbican_p11_password barbican_crypto_key
blazar_database_password blazar_keystone_password keystone_admin_password
keystone_database_password grafana_database_password grafana_admin_password
glance_database_password glance_keystone_password gnocchi_database_password
gnocchi_keystone_password nova_database_password nova_api_database_password
nova_keystone_password placement_keystone_password placement_database_password
neutron_database_password neutron_keystone_password metadata_secret cinder_database_password
cinder_keystone_password cloudkitty_database_password cloudkitty_keystone_password
cyborg_database_password cyborg_keystone_password designate_database_password
designate_keystone_password designate_pool_id designate_rndc_key heat_database_password
heat_keystone_password heat_domain_admin_password ironic_database_password
ironic_keystone_password magnum_database_password magnum_keystone_password
mistral_database_password mistral_keystone_password trove_database_password
trove_keystone_password ceilometer_database_password ceilometer_keystone_password
watcher_database_password watcher_keystone_password horizon_secret_key
horizon_database_password telemetry_secret_key manila_database_password
manila_keystone_password octavia_database_password octavia_persistence_database_password
octavia_keystone_password octavia_ca_password octavia_client_ca_password
tacker_database_password tacker_keystone_password masakari_database_password
masakari_keystone_password memcache_secret_key skyline_secret_key skyline_database_password
skyline_keystone_password osprofiler_secret nova_ssh_key kolla_ssh_key keystone_ssh_key
bifrost_ssh_key octavia_amp_ssh_key neutron_ssh_key haproxy_ssh_key gnocchi_project_id
gnocchi_resource_id gnocchi_user_id rabbitmq_password rabbitmq_monitoring_password
rabbitmq_cluster_cookie haproxy_password keepalived_password etcd_cluster_token
valkey_master_password redis_master_password prometheus_mysql_exporter_database_password
prometheus_alertmanager_password prometheus_password prometheus_grafana_password
prometheus_haproxy_password prometheus_skyline_password prometheus_bcrypt_salt
keystone_federation_openid_crypto_password ceph_rgw_keystone_password libvirt_sasl_password
proxysql_admin_password proxysql_stats_password opensearch_dashboards_password
""".split()

# The value kinds kolla-genpwd gives the keys that are not plain passwords.
UUID_KEYS = {"rbd_secret_uuid", "cinder_rbd_secret_uuid", "gnocchi_project_id",
             "gnocchi_resource_id", "gnocchi_user_id", "designate_pool_id"}
HMAC_KEYS = {"designate_rndc_key", "osprofiler_secret"}
FERNET_KEYS = {"barbican_crypto_key"}
BCRYPT_SALT_KEYS = {"prometheus_bcrypt_salt"}
BLANK_KEYS = {"docker_registry_password"}
PASSWORD_LENGTH = 40   # Kolla's own length

# Infrastructure accounts that are not the OpenStack services' database
# users; DevStack has no password for them, so they are generated.
_NOT_SERVICE_DB = ("mariadb_", "prometheus_", "octavia_persistence_")

# Names stacktui knows but deploys no module for, and their enable_* flags;
# the deployed services' flags are in their specs (``kolla_flags``).
_UNDEPLOYED_FLAGS: dict[str, tuple[str, ...]] = {}
# The infrastructure Kolla always needs for OpenStack services: it has no
# SQLite, and oslo.messaging services need the queue.
DATABASE_FLAG, QUEUE_FLAG, CACHE_FLAG = "enable_mariadb", "enable_rabbitmq", "enable_memcached"


def enable_flags() -> dict[str, tuple[str, ...]]:
    """stacktui service -> the enable_* flags in globals.yml it turns on."""
    return {**_UNDEPLOYED_FLAGS, **registry.table("kolla_flags")}


def all_flags() -> list[str]:
    """Every flag we decide, so a service left out is written as "no" rather
    than left to Kolla's enable_openstack_core default."""
    return sorted({f for fl in enable_flags().values() for f in fl}
                  | {DATABASE_FLAG, QUEUE_FLAG, CACHE_FLAG})


NO_KOLLA = {"tls-proxy": "Kolla-Ansible terminates TLS in HAProxy (kolla_enable_tls_external)"}


TOP_GROUPS = ("control", "network", "compute", "storage", "monitoring", "deployment")

# Which kolla-ansible release for which deploy host and target hosts
# (kolla-ansible's support matrix and prechecks).
RELEASES = [
    {"series": "2026.2", "kolla_ansible": "23", "python": "3.12",
     "targets": "Debian 13 (trixie), Rocky Linux 10, Ubuntu 24.04 (noble)"},
    {"series": "2026.1", "kolla_ansible": "22", "python": "3.11",
     "targets": "Debian 12 (bookworm) or 13 (trixie), CentOS Stream 10, Rocky Linux 10, "
                "Ubuntu 24.04 (noble)"},
]
BASE_DISTROS = {"debian": "debian", "ubuntu": "ubuntu", "rocky": "rocky", "centos": "centos",
                "rhel": "rocky", "almalinux": "rocky"}

# Characters a password may hold and still go through Kolla's templates
# (which neither quote nor escape) into INI files, database and RabbitMQ
# URLs and shell commands unchanged: what kolla-genpwd itself produces,
# plus a few URL-safe marks.
_KOLLA_SAFE = re.compile(r"[A-Za-z0-9._~-]+")


# ---------------------------------------------------------------- kolla files

def _share_candidates() -> list[Path]:
    roots = [Path(sys.prefix), Path("/usr/local"), Path("/usr"), Path.home() / ".local"]
    return [r / "share" / "kolla-ansible" for r in roots]


def find_kolla(path: Path | None = None) -> Path | None:
    """A kolla-ansible share folder (installed) or source tree (sdist)."""
    for p in ([Path(path)] if path else _share_candidates()):
        if (p / "ansible" / "inventory" / "all-in-one").exists():
            return p
    return None


def kolla_template(root: Path, name: str) -> Path | None:
    for sub in ("etc_examples/kolla", "etc/kolla"):
        if (root / sub / name).exists():
            return root / sub / name
    return None


def template_password_keys(root: Path | None) -> list[str]:
    if root:
        t = kolla_template(root, "passwords.yml")
        if t:
            doc = yaml.safe_load(t.read_text(encoding="utf-8")) or {}
            if isinstance(doc, dict) and doc:
                return list(doc)
    return list(PASSWORD_KEYS)


# ---------------------------------------------------------------- values

def _password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(_secrets.choice(alphabet) for _ in range(PASSWORD_LENGTH))


def _ssh_keypair() -> dict:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        return _ssh_keypair_keygen()
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return {"private_key": private, "public_key": public}


def _ssh_keypair_keygen() -> dict:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "id_rsa"
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "4096", "-m", "PKCS8", "-N", "",
                        "-f", str(f)], check=True)
        return {"private_key": f.read_text(), "public_key": f.with_suffix(".pub").read_text().strip()}


def _generated(key: str, ssh: bool):
    if ssh:
        return _ssh_keypair()
    if key in BLANK_KEYS:
        return None
    if key in UUID_KEYS:
        return str(uuid.uuid4())
    if key in HMAC_KEYS:
        return hashlib.md5(_secrets.token_bytes(32)).hexdigest()
    if key in FERNET_KEYS:
        return base64.urlsafe_b64encode(_secrets.token_bytes(32)).decode()
    if key in BCRYPT_SALT_KEYS:
        alphabet = "./" + string.ascii_letters + string.digits
        return "".join(_secrets.choice(alphabet) for _ in range(22))
    return _password()


def _answers_password(ans, kind: str) -> str | None:
    pw = (ans.data.get("passwords") or {}).get(kind)
    return str(pw) if pw not in (None, "") else None


def _from_answers(key: str, ans) -> str | None:
    """The answers password a Kolla key means, as DevStack uses one password
    per kind (admin, database, rabbit, service); None when the answers have
    none of that kind."""
    if key == "keystone_admin_password":
        return _answers_password(ans, "admin")
    if key == "database_password":
        return _answers_password(ans, "database")
    own = next((p.key for p in answers_mod.spec_passwords() if p.kolla_key == key), None)
    if own:
        return _answers_password(ans, own)
    if key.endswith("_keystone_password") and not key.startswith("ceph_rgw"):
        return _answers_password(ans, "service")
    if key.endswith("_database_password") and not key.startswith(_NOT_SERVICE_DB):
        return _answers_password(ans, "database")
    return None


def passwords(ans, keys: list[str], ssh_keys: set[str], existing: dict | None = None,
              replaced: set | None = None) -> dict:
    """Kolla's passwords.yml. An answers password Kolla cannot carry
    unchanged is replaced (its kind lands in ``replaced``); anything not
    from the answers keeps what an earlier export wrote, so exporting again
    never rotates a deployed cloud's passwords."""
    existing = existing or {}
    out = {}
    for k in keys:
        v = _from_answers(k, ans)
        if v is not None and not _KOLLA_SAFE.fullmatch(v):
            if replaced is not None:
                replaced.add(k)
            v = None
        if v is None:
            old = existing.get(k)
            v = old if old not in (None, "") and (not isinstance(old, str) or k in BLANK_KEYS
                                                  or k in ssh_keys or _KOLLA_SAFE.fullmatch(old)
                                                  or k in HMAC_KEYS | FERNET_KEYS
                                                  | BCRYPT_SALT_KEYS) \
                else _generated(k, k in ssh_keys)
        out[k] = v
    return out


# ---------------------------------------------------------------- globals

def _interface_of(ip: str) -> str | None:
    import psutil
    for name, addrs in psutil.net_if_addrs().items():
        for a in addrs:
            if a.address.split("%")[0] == ip:
                return name
    return None


def target_facts(ans, base_distro: str | None = None, interface: str | None = None,
                 warnings: list[str] | None = None) -> dict:
    """What globals.yml must say about the machines Kolla deploys to: their
    distribution's images and the interface holding host_ip. Taken from the
    options when given, from this machine when host_ip is one of its
    addresses, else Kolla's defaults, with a warning that says which."""
    warnings = warnings if warnings is not None else []
    ip = str(ans.data["host_ip"])
    here = _interface_of(ip)
    facts = {"local": here is not None}
    if base_distro:
        facts["base_distro"] = base_distro
    elif here:
        from .distro import os_release
        osr = os_release()
        ids = [osr.get("ID", "")] + osr.get("ID_LIKE", "").split()
        facts["base_distro"] = next((BASE_DISTROS[i] for i in ids if i in BASE_DISTROS), "rocky")
        if osr.get("ID") not in BASE_DISTROS:
            warnings.append(f"kolla_base_distro: this machine runs {osr.get('PRETTY_NAME', '?')}, "
                            f"which Kolla has no images for; chose {facts['base_distro']}")
    else:
        facts["base_distro"] = "rocky"
        warnings.append(f"kolla_base_distro: {ip} is not on this machine, so its distribution is "
                        "unknown here; chose rocky (Kolla's default); pass --target-distro "
                        "debian|ubuntu|rocky to match the hosts")
    if interface:
        facts["interface"] = interface
    elif here:
        facts["interface"] = here
    else:
        warnings.append(f"network_interface: {ip} is not on this machine, so the interface that "
                        "holds it is unknown here; left to Kolla's default (eth0); pass "
                        "--network-interface NAME")
    return facts


def globals_for(ans, warnings: list[str], facts: dict | None = None,
                services: list[str] | None = None) -> dict:
    d = ans.data
    facts = facts if facts is not None else target_facts(ans, warnings=warnings)
    services = catalog.expand(services if services is not None else d["enabled_services"])
    table = enable_flags()
    flags = {f: "no" for f in all_flags()}
    notes = {**NO_KOLLA, **registry.table("kolla_notes")}
    for s in services:
        for f in table.get(s, ()):
            flags[f] = "yes"
        why = notes.get(s)
        if why:
            warnings.append(f"{s}: {why}")
    openstack = any(table.get(s) for s in services if not catalog.get(s).infra)
    if openstack and flags[DATABASE_FLAG] == "no":
        flags[DATABASE_FLAG] = "yes"
        warnings.append(f"database: Kolla has no SQLite; {DATABASE_FLAG} is on")
    queue_users = [spec.name for spec in registry.for_services(services) if spec.messaging]
    if openstack and flags[QUEUE_FLAG] == "no" and queue_users:
        flags[QUEUE_FLAG] = "yes"
        warnings.append(f"message queue: {', '.join(queue_users)} need RabbitMQ; {QUEUE_FLAG} is on")
    if openstack:
        flags[CACHE_FLAG] = "yes"
    g: dict = {
        "kolla_base_distro": facts["base_distro"],
        "kolla_internal_vip_address": d["host_ip"],
        # One node: no VIP to float, the API address is the node's own.
        "enable_haproxy": "no",
        "enable_keepalived": "no",
        # Kolla's default follows enable_mariadb; without HAProxy, ProxySQL
        # and MariaDB would both claim host_ip:3306.
        "enable_proxysql": "no",
        "enable_openstack_core": "no",
        "openstack_region_name": d["region"],
        "keystone_admin_user": "admin",
        "keystone_admin_project": "admin",
    }
    if facts.get("interface"):
        g["network_interface"] = facts["interface"]
    if int(d.get("service_ip_version", 4)) == 6:
        g["network_address_family"] = "ipv6"
    for spec in registry.for_services(services):
        if any(flags.get(f) == "yes" for fs in spec.kolla_flags.values() for f in fs):
            for k, v in spec.kolla_globals.items():
                (flags if k.startswith("enable_") else g)[k] = v
    if flags["enable_neutron"] == "yes":
        if d.get("public_interface"):
            g["neutron_external_interface"] = d["public_interface"]
        else:
            warnings.append("neutron_external_interface: Kolla needs a second interface for "
                            "the provider network; set public_interface (or edit globals.yml)")
    if flags["enable_cinder_backup"] == "yes":
        # Kolla's backup driver defaults to Ceph, which this export does not
        # deploy; DevStack backs up to Swift, which Kolla no longer has.
        flags["enable_cinder_backup"] = "no"
        warnings.append("c-bak: Kolla's cinder backup needs a target (cinder_backup_driver nfs "
                        "with cinder_backup_share, or s3); left off, enable_cinder_backup: no")
    if flags["enable_cinder_backend_lvm"] == "yes":
        g["cinder_volume_group"] = "cinder-volumes"
        warnings.append("c-vol: Kolla's LVM backend needs a volume group named cinder-volumes on "
                        "each storage host before deploy (see README.md)")
    vd = d.get("virt_driver")
    if flags["enable_nova"] == "yes":
        if vd in ("qemu", "kvm"):
            g["nova_compute_virt_type"] = vd
        elif vd == "fake":
            g["nova_compute_virt_type"] = "qemu"
            warnings.append("virt_driver fake: Kolla's globals.yml has no fake driver; using qemu")
    g.update(dict(sorted(flags.items())))
    return g


# ---------------------------------------------------------------- inventory

def _kolla_children(root: Path | None) -> list[str] | None:
    """The [...:children] part of the installed Kolla's all-in-one."""
    if not root:
        return None
    try:
        lines = (root / "ansible" / "inventory" / "all-in-one").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    first = next((i for i, l in enumerate(lines) if l.strip().endswith(":children]")), None)
    if first is None:
        return None
    while first > 0 and lines[first - 1].lstrip().startswith("#"):
        first -= 1
    return lines[first:]


def _children_from_table() -> list[str]:
    out = ["# Kolla's service groups, wired onto the host groups above (the groups",
           "# for the services this export enables; kolla-ansible's own inventory",
           "# has the rest)."]
    for grp, parents in SERVICE_GROUPS.items():
        out += ["", f"[{grp}:children]", *parents]
    return out


def inventory_text(root: Path | None, hosts: dict[str, list[str]] | None = None,
                   title: str = "All-in-one") -> str:
    hosts = hosts or {g: ["localhost       ansible_connection=local"] for g in TOP_GROUPS}
    head = [f"# {title} inventory written by stacktui export-kolla."]
    for grp in TOP_GROUPS:
        head += ["", f"[{grp}]", *hosts.get(grp, [])]
    children = _kolla_children(root) or _children_from_table()
    return "\n".join(head) + "\n\n" + "\n".join(children) + "\n"


def multinode_hosts(ans) -> dict[str, list[str]]:
    """This machine's role in every group, with commented examples where
    more hosts go: the reason to export is to outgrow one machine."""
    me = f"{ans.data['host_ip']}"
    ex = {"control": ["# control02", "# control03"], "network": ["# network01"],
          "compute": ["# compute01", "# compute02"], "storage": ["# storage01"],
          "monitoring": ["# monitoring01"]}
    out = {}
    for g in TOP_GROUPS:
        if g == "deployment":
            out[g] = ["localhost       ansible_connection=local"]
        else:
            out[g] = [f"{me}       ansible_user=root ansible_become=true", *ex.get(g, [])]
    return out


# ---------------------------------------------------------------- export

def export_kolla(ans, outdir, *, kolla_path: Path | None = None, base_distro: str | None = None,
                 interface: str | None = None, services: list[str] | None = None
                 ) -> tuple[dict[str, Path], list[str]]:
    """Write globals.yml (0640), passwords.yml (0600), the all-in-one and
    multinode inventories, README.md and, for post_config, Kolla's config
    overrides under config/ (where Kolla reads them once the folder is its
    config folder). Returns the files by name and warnings about what Kolla
    does differently."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    root = find_kolla(kolla_path)
    warnings: list[str] = []
    facts = target_facts(ans, base_distro, interface, warnings)
    g = globals_for(ans, warnings, facts, services)

    files: dict[str, Path] = {}
    files.update(_custom_config(ans, outdir / "config", warnings))

    header = "---\n# Written by stacktui export-kolla from the same answers as the local stack.\n"
    p = outdir / "globals.yml"
    atomic_write(p, header + yaml.safe_dump(g, sort_keys=False, default_flow_style=False), 0o640)
    files["globals.yml"] = p

    keys = template_password_keys(root)
    ssh = {k for k in keys if k.endswith("_ssh_key")}
    pp = outdir / "passwords.yml"
    existing = {}
    if pp.exists():
        try:
            existing = yaml.safe_load(pp.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            existing = {}
    replaced: set = set()
    pw = passwords(ans, keys, ssh, existing if isinstance(existing, dict) else {}, replaced)
    if replaced:
        kinds = sorted({_kinds().get(k) or ("service" if k.endswith("_keystone_password")
                                         else "database") for k in replaced})
        warnings.append(f"passwords: the {', '.join(kinds)} password(s) hold characters Kolla's "
                        "templates pass on unquoted (into config files, database and RabbitMQ "
                        f"URLs); passwords.yml has new ones for {len(replaced)} keys, e.g. "
                        f"{', '.join(sorted(replaced)[:3])}; read them with kolla-readpwd or "
                        "from passwords.yml")
    atomic_write(pp, "---\n" + yaml.safe_dump(pw, sort_keys=False, default_flow_style=False,
                                              allow_unicode=True), 0o600)
    files["passwords.yml"] = pp

    inv = outdir / "all-in-one"
    atomic_write(inv, inventory_text(root), 0o644)
    files["all-in-one"] = inv
    mn = outdir / "multinode"
    atomic_write(mn, inventory_text(root, multinode_hosts(ans), "Multinode"), 0o644)
    files["multinode"] = mn
    rd = outdir / "README.md"
    atomic_write(rd, readme_text(ans, g, facts, warnings), 0o644)
    files["README.md"] = rd
    return files, warnings


def _kinds() -> dict[str, str]:
    """Kolla's password keys that are one of the answers' kinds."""
    return {"keystone_admin_password": "admin", "database_password": "database",
            **{p.kolla_key: p.key for p in answers_mod.spec_passwords() if p.kolla_key}}


def readme_text(ans, g: dict, facts: dict, warnings: list[str]) -> str:
    d = ans.data
    rel = RELEASES[0]
    lines = [
        "# Deploying this cloud with Kolla-Ansible",
        "",
        "Written by `stacktui export-kolla` from the answers of a stacktui stack: the same",
        f"services, region `{d['region']}`, passwords and networks, for Kolla-Ansible.",
        "",
        "## Which kolla-ansible",
        "",
        "| kolla-ansible | OpenStack | deploy host Python | target hosts |",
        "|---|---|---|---|",
        *[f"| {r['kolla_ansible']}.x | {r['series']} | >= {r['python']} | {r['targets']} |"
          for r in RELEASES],
        "",
        f"Use kolla-ansible {RELEASES[0]['kolla_ansible']}.x; where the deploy host has only "
        f"Python 3.11, or the targets run Debian 12, use {RELEASES[1]['kolla_ansible']}.x. "
        f"Images: `kolla_base_distro: {g['kolla_base_distro']}`; it must match the target hosts.",
        "",
        "## Steps (on the deploy host)",
        "",
        "```sh",
        "python3 -m venv ~/kolla-venv && . ~/kolla-venv/bin/activate",
        f"pip install 'kolla-ansible=={rel['kolla_ansible']}.*'",
        "sudo mkdir -p /etc/kolla && sudo chown $USER /etc/kolla",
        "cp -r ./* /etc/kolla/          # or pass --configdir THIS_FOLDER to every command",
        "kolla-ansible install-deps",
        "kolla-ansible bootstrap-servers -i /etc/kolla/all-in-one   # or multinode",
        "kolla-ansible prechecks -i /etc/kolla/all-in-one",
        "kolla-ansible deploy -i /etc/kolla/all-in-one",
        "kolla-ansible post-deploy -i /etc/kolla/all-in-one        # writes clouds.yaml",
        "```",
        "",
        "Config overrides from the answers' post_config are under `config/`, which is",
        "Kolla's `node_custom_config` once this folder is its config folder.",
        "",
        "## Networks",
        "",
        "Create the same networks stacktui creates (after post-deploy):",
        "",
        "```sh",
        "openstack network create --external --provider-network-type flat "
        "--provider-physical-network physnet1 public",
        f"openstack subnet create --network public --subnet-range {d['floating_range']} "
        "--no-dhcp public-subnet",
        "openstack network create private",
        f"openstack subnet create --network private --subnet-range {d['fixed_range']} "
        "private-subnet",
        "openstack router create router1 && openstack router set --external-gateway public router1",
        "openstack router add subnet router1 private-subnet",
        "```",
    ]
    if g.get("enable_cinder_backend_lvm") == "yes":
        size = d.get("volume_backing_file_size", "24G")
        lines += ["", "## Cinder LVM", "",
                  "Each storage host needs a volume group `cinder-volumes` before deploy, e.g. on a",
                  f"spare disk (`pvcreate /dev/sdb && vgcreate cinder-volumes /dev/sdb`) or a {size}",
                  "loop file as DevStack does (`truncate -s "
                  f"{size} /var/lib/cinder.img`, `losetup`, then `vgcreate`)."]
    if not facts.get("interface"):
        lines += ["", "## Before you deploy", "",
                  "Set `network_interface` in globals.yml to the interface that holds "
                  f"{d['host_ip']} on the target."]
    lines += ["", "## What differs from the stacktui stack", ""]
    lines += [f"- {w}" for w in warnings] or ["- nothing"]
    lines += ["", "## Growing", "",
              "`multinode` lists this host in every group with comments where more hosts go",
              "(control, network, compute, storage, monitoring); add them and deploy with",
              "`-i /etc/kolla/multinode`."]
    return "\n".join(lines) + "\n"


def _custom_config(ans, confdir: Path, warnings: list[str]) -> dict[str, Path]:
    from .localconf import _normalise_file
    from .postconfig import _fill_passwords, devstack_paths, file_vars
    out = {}
    files = file_vars()
    for target, sections in (ans.data.get("post_config") or {}).items():
        t = _normalise_file(target)
        t = devstack_paths().get(t, t)
        rel = files[t].kolla if t in files else None
        if not rel:
            warnings.append(f"post_config {target}: no Kolla override file for it; left out")
            continue
        lines = []
        for sec, opts in sections.items():
            lines.append(f"[{sec}]")
            for k, v in (opts or {}).items():
                for one in (v if isinstance(v, list) else [v]):
                    lines.append(f"{k} = {_fill_passwords(str(one), ans)}")
            lines.append("")
        path = confdir / rel
        # may hold passwords filled in from the answers
        atomic_write(path, "\n".join(lines), 0o600)
        out[f"config/{rel}"] = path
    return out
