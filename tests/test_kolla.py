"""The Kolla export, judged by kolla-ansible itself: its templates, its
inventory, ansible-inventory, ansible-playbook --syntax-check and
--list-hosts of its site.yml, kolla-genpwd and kolla-ansible genconfig.

The tool venv (tests/toolvenv.py) holds kolla-ansible 23 when a Python >= 3.12
is on the machine, else 22 (the newest that runs on 3.11)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from stacktui import answers, catalog, kolla

from .toolvenv import tools  # noqa: F401  (session fixture)


@pytest.fixture(scope="session")
def share(tools) -> Path:
    return tools / "share" / "kolla-ansible"


def _env(tools, tmp):
    return {**os.environ, "PATH": f"{tools / 'bin'}:{os.environ['PATH']}",
            "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"), "ANSIBLE_HOME": str(tmp / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1"}


@pytest.fixture(autouse=True)
def _cheap_ssh_keys(request, monkeypatch):
    # 4096-bit RSA keys take seconds each; only the passwords test needs real ones.
    if request.node.name.startswith("test_passwords_every_template_key"):
        return
    monkeypatch.setattr(kolla, "_ssh_keypair", lambda: {"private_key": "p", "public_key": "k"})


def template_keys(path: Path) -> set[str]:
    """Keys a Kolla template lists, commented out or not."""
    keys = set()
    for line in path.read_text().splitlines():
        m = re.match(r"^#?([a-z_][a-z0-9_]*):", line)
        if m:
            keys.add(m.group(1))
    return keys


def _answers(tmp_path, services, pw=None, **over):
    return answers.load(None, dest=tmp_path / "stack", overrides={
        "host_ip": "127.0.0.1", "enabled_services": services,
        "passwords": pw or {"admin": "adm-in", "database": "db", "rabbit": "rb", "service": "sv"},
        **over})


@pytest.fixture
def all_deployable(monkeypatch):
    # The devstack profile is not deployable by stacktui yet, but Kolla can
    # deploy it: build the answers without the deployability check.
    monkeypatch.setattr(catalog, "SERVICES", {n: s.__class__(**{**s.__dict__, "implemented": True})
                                              for n, s in catalog.SERVICES.items()})


DEVSTACK = [n for n in catalog.PROFILES["devstack"] if n not in catalog.LEFT_OUT]
ODD = {"admin": "p w{{ lookup('env','HOME') }}", "database": "d$b%x", "rabbit": "r@b:b#it",
       "service": "ok-Service_1"}

# Every answers file the tests export: name -> (services, passwords, extra answers)
CASES = {
    "minimal": (["key", "g-api", "placement-api"], None, {}),
    "devstack": (DEVSTACK, None, {"virt_driver": "qemu", "post_config": {
        "$NOVA_CONF": {"DEFAULT": {"cpu_allocation_ratio": "4.0"},
                       "x": {"password": "${SERVICE_PASSWORD}"}},
        "${GLANCE_API_CONF}": {"DEFAULT": {"image_size_cap": "1024"}},
        "$TEMPEST_CONFIG": {"a": {"b": "c"}}}}),
    # Services on IPv6; the tenant ranges stay IPv4, as DevStack's FIXED_RANGE
    # and FLOATING_RANGE do with SERVICE_IP_VERSION=6 (answers refuse IPv6 there).
    "ipv6": (["key", "g-api", "placement-api"], None,
             {"host_ip": "::1", "service_ip_version": 6}),
    "odd-passwords": (["key", "g-api", "placement-api", "n-api", "n-cond", "n-sch", "rabbit", "mysql"],
                      ODD, {}),
}


@pytest.fixture(params=sorted(CASES))
def exported(request, tmp_path, share, all_deployable):
    services, pw, extra = CASES[request.param]
    ans = _answers(tmp_path, services, pw, **extra)
    files, warnings = kolla.export_kolla(ans, tmp_path / "kolla", kolla_path=share)
    return request.param, ans, files, warnings


def test_ansible_reads_inventories_and_site_yml(exported, tools, share, tmp_path):
    name, ans, files, _ = exported
    env = _env(tools, tmp_path)
    for inv in ("all-in-one", "multinode"):
        r = subprocess.run([tools / "bin" / "ansible-inventory", "-i", files[inv], "--list"],
                           capture_output=True, text=True, env=env, check=True)
        groups = yaml.safe_load(r.stdout)
        assert "keystone" in groups and "mariadb" in groups
    r = subprocess.run([tools / "bin" / "ansible-playbook", "--syntax-check", "-i",
                        files["all-in-one"], "-e", f"@{files['globals.yml']}",
                        "-e", f"@{files['passwords.yml']}", share / "ansible" / "site.yml"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout[-800:] + r.stderr[-800:]
    # every Kolla key we write is one Kolla knows
    known = template_keys(share / "etc_examples" / "kolla" / "globals.yml")
    known |= _group_vars(share)
    assert set(yaml.safe_load(files["globals.yml"].read_text())) <= known


def _group_vars(share: Path) -> set[str]:
    keys: set[str] = set()
    for p in sorted((share / "ansible" / "group_vars" / "all").glob("*.yml")):
        for doc in yaml.safe_load_all(p.read_text()):
            keys |= set(doc or {})
    return keys


def test_genpwd_finds_nothing_to_fill(exported, tools, tmp_path):
    name, ans, files, _ = exported
    copy = tmp_path / "pw-copy.yml"
    copy.write_text(files["passwords.yml"].read_text())
    subprocess.run([tools / "bin" / "kolla-genpwd", "-p", str(copy)], check=True,
                   capture_output=True, env=_env(tools, tmp_path))
    assert yaml.safe_load(copy.read_text()) == yaml.safe_load(files["passwords.yml"].read_text())


def test_passwords_kolla_can_carry(exported):
    name, ans, files, warnings = exported
    pw = yaml.safe_load(files["passwords.yml"].read_text())
    for k, v in pw.items():
        if isinstance(v, str) and k not in kolla.HMAC_KEYS | kolla.FERNET_KEYS | kolla.BCRYPT_SALT_KEYS:
            assert kolla._KOLLA_SAFE.fullmatch(v), k
    if name == "odd-passwords":
        for bad in ODD.values():
            assert bad not in pw.values() or kolla._KOLLA_SAFE.fullmatch(bad)
        assert pw["nova_keystone_password"] == "ok-Service_1"     # a safe one goes out as is
        assert any("admin, database, rabbit password(s)" in w for w in warnings)
        assert not any(v in w for w in warnings for v in ODD.values())
    else:
        assert pw["database_password"] == "db" and pw["keystone_admin_password"] == "adm-in"


def test_globals_choices(exported):
    name, ans, files, warnings = exported
    g = yaml.safe_load(files["globals.yml"].read_text())
    assert stat.S_IMODE(files["globals.yml"].stat().st_mode) == 0o640
    assert g["enable_haproxy"] == "no" and g["enable_proxysql"] == "no"
    assert g["network_interface"] == "lo"
    assert g["kolla_internal_vip_address"] == ans.data["host_ip"]
    if name == "devstack":
        assert g["enable_nova"] == g["enable_neutron"] == g["enable_cinder"] == "yes"
        assert g["enable_cinder_backup"] == "no"
        assert g["cinder_volume_group"] == "cinder-volumes"
        assert any("cinder-volumes" in w for w in warnings)
        assert "node_custom_config" not in g
        nova = files["config/nova.conf"].read_text()
        assert "cpu_allocation_ratio = 4.0" in nova and "password = sv" in nova
        assert "image_size_cap = 1024" in files["config/glance/glance-api.conf"].read_text()
        assert any("$TEMPEST_CONFIG" in w for w in warnings)
    if name == "ipv6":
        assert g["network_address_family"] == "ipv6"


def test_plays_for_enabled_services_have_hosts(tmp_path, tools, share, all_deployable, monkeypatch):
    """Without kolla-ansible at export time the inventory still wires every
    group the enabled services' plays target (checked by --list-hosts of
    the real site.yml)."""
    monkeypatch.setattr(kolla, "_share_candidates", lambda: [])
    ans = _answers(tmp_path, DEVSTACK, virt_driver="qemu")
    files, _ = kolla.export_kolla(ans, tmp_path / "k")
    r = subprocess.run([tools / "bin" / "ansible-playbook", "--list-hosts", "-i", files["all-in-one"],
                        "-e", f"@{files['globals.yml']}", "-e", f"@{files['passwords.yml']}",
                        share / "ansible" / "site.yml"], capture_output=True, text=True,
                       env=_env(tools, tmp_path))
    assert r.returncode == 0, r.stderr[-800:]
    plays = re.findall(r"play #\d+ \(([^)]*)\): (.*?)\s+TAGS.*?\n\s+pattern: .*?\n\s+hosts \((\d+)\)",
                       r.stdout)
    assert plays
    need = ("keystone", "glance", "placement", "nova", "neutron", "ovn", "openvswitch", "cinder",
            "horizon", "mariadb", "rabbitmq", "memcached", "common")
    for pattern, title, n in plays:
        if any(re.search(rf"(^|[:,&!]){w}($|[-_:,])", pattern) for w in need) and "enable_" not in pattern:
            assert int(n) >= 1, (pattern, title)


def test_inventory_matches_kolla(tmp_path, share):
    ans = _answers(tmp_path, ["key", "g-api", "placement-api"])
    files, _ = kolla.export_kolla(ans, tmp_path / "k", kolla_path=share)
    ours = files["all-in-one"].read_text()
    theirs = (share / "ansible" / "inventory" / "all-in-one").read_text()
    groups = lambda t: re.findall(r"^\[([^\]]+)\]", t, re.M)  # noqa: E731
    assert groups(ours) == groups(theirs)
    for g in kolla.TOP_GROUPS:
        assert re.search(rf"^\[{g}\]\nlocalhost\s+ansible_connection=local$", ours, re.M)
    mn = files["multinode"].read_text()
    assert re.search(r"^\[compute\]\n127\.0\.0\.1 .*\n# compute01$", mn, re.M)


def test_builtin_groups_are_kolla_groups(share):
    theirs = (share / "ansible" / "inventory" / "all-in-one").read_text()
    for grp, parents in kolla.SERVICE_GROUPS.items():
        m = re.search(rf"^\[{re.escape(grp)}:children\]\n((?:[^\[\n].*\n)+)", theirs + "\n", re.M)
        assert m, grp
        assert set(parents) <= {l.strip() for l in m.group(1).splitlines() if l.strip()
                                and not l.startswith("#")} | {"network", "compute"}, grp


def test_passwords_every_template_key(tmp_path, share, all_deployable):
    ans = _answers(tmp_path, DEVSTACK)
    files, _ = kolla.export_kolla(ans, tmp_path / "kolla", kolla_path=share)
    template = yaml.safe_load((share / "etc_examples" / "kolla" / "passwords.yml").read_text())
    ours = yaml.safe_load(files["passwords.yml"].read_text())
    assert set(ours) == set(template)
    assert stat.S_IMODE(files["passwords.yml"].stat().st_mode) == 0o600
    for k, v in ours.items():
        if k.endswith("_ssh_key"):
            assert v["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
            assert v["public_key"].startswith("ssh-rsa ")
        elif k in kolla.UUID_KEYS:
            assert re.fullmatch(r"[0-9a-f-]{36}", v)


def test_second_export_rotates_nothing(tmp_path, share):
    ans = _answers(tmp_path, ["key", "g-api", "placement-api"])
    ans.data["passwords"] = {}          # answers without secrets.yaml
    f1, _ = kolla.export_kolla(ans, tmp_path / "k", kolla_path=share)
    first = yaml.safe_load(f1["passwords.yml"].read_text())
    f2, _ = kolla.export_kolla(ans, tmp_path / "k", kolla_path=share)
    assert yaml.safe_load(f2["passwords.yml"].read_text()) == first


def test_another_machine_keeps_the_profile_and_says_what_it_guessed(tmp_path, share):
    (tmp_path / "stacktui.yaml").write_text("host_ip: 10.9.8.7\nprofile: devstack\n")
    from stacktui import cli
    rc = cli.main(["export-kolla", str(tmp_path / "k"), "--answers", str(tmp_path / "stacktui.yaml"),
                   "--kolla", str(share)])
    assert rc == 0
    g = yaml.safe_load((tmp_path / "k" / "globals.yml").read_text())
    assert g["enable_nova"] == g["enable_neutron"] == g["enable_cinder"] == g["enable_horizon"] == "yes"
    assert "network_interface" not in g and g["kolla_base_distro"] == "rocky"
    readme = (tmp_path / "k" / "README.md").read_text()
    for word in ("install-deps", "bootstrap-servers", "prechecks", "deploy", "post-deploy",
                 "network_interface", "cinder-volumes", "--subnet-range 10.0.0.0/22"):
        assert word in readme


@pytest.mark.e2e      # minutes on a shared 2-core machine, even for keystone alone
def test_genconfig_renders_what_the_answers_say(tmp_path, tools, share):
    """kolla-ansible genconfig, for keystone only (the whole cloud takes
    minutes), rendered into a folder of the test's own."""
    ans = _answers(tmp_path, ["key", "g-api", "placement-api"],
                   post_config={"$KEYSTONE_CONF": {"token": {"expiration": "7200"}}})
    files, _ = kolla.export_kolla(ans, tmp_path / "k", kolla_path=share)
    node = tmp_path / "node"
    r = subprocess.run([tools / "bin" / "kolla-ansible", "genconfig", "-i", files["all-in-one"],
                        "--configdir", str(tmp_path / "k"), "--passwords", files["passwords.yml"],
                        "-t", "keystone", "-e", f"ansible_python_interpreter={tools / 'bin' / 'python'}",
                        "-e", f"node_config_directory={node}", "-e", f"node_config={tmp_path / 'k'}"],
                       capture_output=True, text=True, env=_env(tools, tmp_path), timeout=600)
    assert r.returncode == 0, r.stdout[-1500:]
    conf = (node / "keystone-api" / "keystone.conf").read_text()
    assert "mysql+pymysql://keystone:db@127.0.0.1:3306/keystone" in conf
    assert re.search(r"expiration = 7200", conf)


def test_swift_has_no_kolla_flag_and_c_bak_says_what_it_needs(tmp_path, share):
    """DevStack's `enable_service s-proxy ...` and c-bak, exported: the Kolla
    in use has no swift role left (no enable_swift anywhere in its
    variables), so each swift service is a warning, and cinder-backup,
    whose DevStack target is swift, is left off with what Kolla needs."""
    swift = ["s-proxy", "s-object", "s-container", "s-account"]
    ans = _answers(tmp_path, ["key", "mysql", "rabbit", "c-api", "c-sch", "c-vol", "c-bak", *swift],
                   virt_driver="fake")
    files, warnings = kolla.export_kolla(ans, tmp_path / "kolla", kolla_path=share)
    g = yaml.safe_load(files["globals.yml"].read_text())
    assert "enable_swift" not in _group_vars(share) | template_keys(
        share / "etc_examples" / "kolla" / "globals.yml")
    assert not [k for k in g if "swift" in k]
    for s in swift:
        assert any(w.startswith(f"{s}: Kolla-Ansible no longer deploys Swift") for w in warnings), s
    assert g["enable_cinder"] == "yes" and g["enable_cinder_backup"] == "no"
    assert any(w.startswith("c-bak: Kolla's cinder backup needs a target") for w in warnings)
