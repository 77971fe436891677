"""The same answers as a Kolla-Ansible deployment, for users who outgrow one
machine: globals.yml, passwords.yml and an all-in-one inventory.

Kolla's own files are the reference. When kolla-ansible is installed its
passwords.yml template and all-in-one inventory are read at export time, so a
newer Kolla with new keys is followed without a stacktui release; the key
list below is the fallback (kolla-ansible 22.x).
"""

from __future__ import annotations

import base64
import hashlib
import secrets as _secrets
import string
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

from . import catalog, hostinfo
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

# stacktui service -> the enable_* flags in globals.yml it turns on.
ENABLE_FLAGS: dict[str, tuple[str, ...]] = {
    "key": ("enable_keystone",),
    "g-api": ("enable_glance",),
    "placement-api": ("enable_placement",),
    "n-api": ("enable_nova",), "n-cpu": ("enable_nova",), "n-cond": ("enable_nova",),
    "n-sch": ("enable_nova",), "n-api-meta": ("enable_nova",), "n-novnc": ("enable_nova",),
    "q-svc": ("enable_neutron",), "q-ovn-agent": ("enable_neutron",),
    "ovn-northd": ("enable_ovn",), "ovn-controller": ("enable_ovn",),
    "ovsdb-server": ("enable_openvswitch",), "ovs-vswitchd": ("enable_openvswitch",),
    "c-api": ("enable_cinder",), "c-sch": ("enable_cinder",),
    "c-vol": ("enable_cinder", "enable_cinder_backend_lvm"),
    "c-bak": ("enable_cinder_backup",),
    "horizon": ("enable_horizon",),
    "mysql": ("enable_mariadb",), "rabbit": ("enable_rabbitmq",),
    "memcached": ("enable_memcached",), "etcd3": ("enable_etcd",),
}
# Every flag we decide, so a service left out is written as "no" rather than
# left to Kolla's enable_openstack_core default.
ALL_FLAGS = sorted({f for fl in ENABLE_FLAGS.values() for f in fl})
NO_KOLLA = {"s-proxy": "Kolla-Ansible no longer deploys Swift; use Ceph RGW (enable_ceph_rgw)",
            "tempest": "Kolla-Ansible does not run Tempest; run it from a client machine",
            "dstat": "Kolla-Ansible has Prometheus for host statistics (enable_prometheus)",
            "tls-proxy": "Kolla-Ansible terminates TLS in HAProxy (kolla_enable_tls_external)"}

# post_config files -> Kolla's node_custom_config overrides (merged by Kolla
# into the generated files).
CUSTOM_CONFIG = {
    "$KEYSTONE_CONF": "keystone.conf",
    "$NOVA_CONF": "nova.conf",
    "$NOVA_CPU_CONF": "nova/nova-compute.conf",
    "$GLANCE_API_CONF": "glance-api.conf",
    "$PLACEMENT_CONF": "placement.conf",
    "$NEUTRON_CONF": "neutron.conf",
    "$Q_PLUGIN_CONF_FILE": "neutron/ml2_conf.ini",
    "$CINDER_CONF": "cinder.conf",
}

TOP_GROUPS = ("control", "network", "compute", "storage", "monitoring", "deployment")


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
        f = Path(d) / "key"
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "4096", "-m", "PKCS8", "-N", "",
                        "-f", str(f)], check=True)
        return {"private_key": f.read_text(), "public_key": (Path(d) / "key.pub").read_text().strip()}


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


def _from_answers(key: str, ans) -> str | None:
    """The answers password a Kolla key means, as DevStack uses one password
    per kind (admin, database, rabbit, service)."""
    if key == "keystone_admin_password":
        return ans.password("admin")
    if key == "database_password":
        return ans.password("database")
    if key == "rabbitmq_password":
        return ans.password("rabbit")
    if key.endswith("_keystone_password") and not key.startswith("ceph_rgw"):
        return ans.password("service")
    if key.endswith("_database_password") and not key.startswith(_NOT_SERVICE_DB):
        return ans.password("database")
    return None


def passwords(ans, keys: list[str], ssh_keys: set[str], existing: dict | None = None) -> dict:
    existing = existing or {}
    out = {}
    for k in keys:
        v = _from_answers(k, ans)
        if v is None:
            # Keep what an earlier export generated: re-exporting must not
            # rotate passwords of a deployed cloud.
            v = existing.get(k) if existing.get(k) not in (None, "") else _generated(k, k in ssh_keys)
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


def globals_for(ans, warnings: list[str]) -> dict:
    d = ans.data
    services = catalog.expand(d["enabled_services"])
    flags = {f: "no" for f in ALL_FLAGS}
    for s in services:
        for f in ENABLE_FLAGS.get(s, ()):
            flags[f] = "yes"
        why = NO_KOLLA.get(s) or (NO_KOLLA["s-proxy"] if catalog.get(s).group == "swift" else None)
        if why:
            warnings.append(f"{s}: {why}")
    openstack = any(ENABLE_FLAGS.get(s) for s in services if not catalog.get(s).infra)
    if openstack and flags["enable_mariadb"] == "no":
        flags["enable_mariadb"] = "yes"
        warnings.append("database: Kolla has no SQLite; enable_mariadb is on")
    if openstack and flags["enable_rabbitmq"] == "no" and \
            any(f in ("enable_nova", "enable_neutron", "enable_cinder")
                for s in services for f in ENABLE_FLAGS.get(s, ())):
        flags["enable_rabbitmq"] = "yes"
        warnings.append("rabbit: nova, neutron and cinder need RabbitMQ; enable_rabbitmq is on")
    if openstack:
        flags["enable_memcached"] = "yes"
    g: dict = {
        "kolla_base_distro": "debian",
        "kolla_internal_vip_address": d["host_ip"],
        # One node: no VIP to float, the API address is the node's own.
        "enable_haproxy": "no",
        "enable_keepalived": "no",
        "enable_openstack_core": "no",
        "openstack_region_name": d["region"],
        "keystone_admin_user": "admin",
        "keystone_admin_project": "admin",
    }
    iface = _interface_of(d["host_ip"]) or hostinfo.default_route_interface()
    if iface:
        g["network_interface"] = iface
    else:
        warnings.append("network_interface: no interface holds host_ip here; set it in globals.yml")
    if int(d.get("service_ip_version", 4)) == 6:
        g["network_address_family"] = "ipv6"
    if flags["enable_neutron"] == "yes":
        g["neutron_plugin_agent"] = "ovn"
        flags["enable_ovn"] = "yes"
        flags["enable_openvswitch"] = "yes"
        if d.get("public_interface"):
            g["neutron_external_interface"] = d["public_interface"]
        else:
            warnings.append("neutron_external_interface: Kolla needs a second interface for "
                            "the provider network; set public_interface (or edit globals.yml)")
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

def inventory_text(root: Path | None) -> str:
    head = ["# All-in-one inventory written by stacktui export-kolla.",
            "# Every group runs on this machine; to grow, put more hosts in the first groups."]
    for grp in TOP_GROUPS:
        head += ["", f"[{grp}]", "localhost       ansible_connection=local"]
    children = None
    if root:
        try:
            text = (root / "ansible" / "inventory" / "all-in-one").read_text(encoding="utf-8")
            lines = text.splitlines()
            # The :children part is Kolla's own wiring of service groups
            # onto the first groups; take it as the installed Kolla has it.
            first = next((i for i, l in enumerate(lines) if l.strip().endswith(":children]")), None)
            if first is not None:
                start = first
                while start > 0 and lines[start - 1].lstrip().startswith("#"):
                    start -= 1
                children = lines[start:]
        except OSError:
            children = None
    if children is None:
        head += ["", "# kolla-ansible was not found here: append the part of Kolla's",
                 "# ansible/inventory/all-in-one from the first [...:children] group on",
                 "# (pip install kolla-ansible, then stacktui export-kolla again does it)."]
        return "\n".join(head) + "\n"
    return "\n".join(head) + "\n\n" + "\n".join(children) + "\n"


# ---------------------------------------------------------------- export

def export_kolla(ans, outdir, *, kolla_path: Path | None = None) -> tuple[dict[str, Path], list[str]]:
    """Write globals.yml (0640), passwords.yml (0600), all-in-one and, for
    post_config, Kolla config overrides under config/. Returns the files by
    name and warnings about what Kolla does differently."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    root = find_kolla(kolla_path)
    warnings: list[str] = []
    g = globals_for(ans, warnings)

    files: dict[str, Path] = {}
    custom = _custom_config(ans, outdir / "config", warnings)
    if custom:
        g["node_custom_config"] = str((outdir / "config").resolve())
        files.update(custom)

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
    pw = passwords(ans, keys, ssh, existing if isinstance(existing, dict) else {})
    atomic_write(pp, "---\n" + yaml.safe_dump(pw, sort_keys=False, default_flow_style=False,
                                              allow_unicode=True), 0o600)
    files["passwords.yml"] = pp

    inv = outdir / "all-in-one"
    atomic_write(inv, inventory_text(root), 0o644)
    files["all-in-one"] = inv
    if root is None:
        warnings.append("kolla-ansible not found: the inventory holds only the host groups; "
                        "install kolla-ansible and export again for the full inventory")
    return files, warnings


def _custom_config(ans, confdir: Path, warnings: list[str]) -> dict[str, Path]:
    from .postconfig import DEVSTACK_PATHS, _fill_passwords
    out = {}
    for target, sections in (ans.data.get("post_config") or {}).items():
        t = DEVSTACK_PATHS.get(target, target)
        rel = CUSTOM_CONFIG.get(t)
        if not rel:
            warnings.append(f"post_config {target}: no Kolla override file for it; left out")
            continue
        lines = []
        for sec, opts in sections.items():
            lines.append(f"[{sec}]")
            lines += [f"{k} = {_fill_passwords(str(v), ans)}" for k, v in (opts or {}).items()]
            lines.append("")
        path = confdir / rel
        # may hold passwords filled in from the answers
        atomic_write(path, "\n".join(lines), 0o600)
        out[f"config/{rel}"] = path
    return out
