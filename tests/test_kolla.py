"""The Kolla export against the templates shipped in kolla-ansible on PyPI."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
import yaml

from stacktui import answers, catalog, kolla


def _pip() -> list[str] | None:
    for cand in ([sys.executable, "-m", "pip"], ["pip3"], ["pip"]):
        if cand[0] == sys.executable:
            ok = subprocess.run(cand + ["--version"], capture_output=True).returncode == 0
        else:
            ok = shutil.which(cand[0]) is not None
        if ok:
            return cand
    return None


@pytest.fixture(scope="session")
def kolla_tree() -> Path:
    """kolla-ansible's sdist from PyPI, unpacked once into a cache that
    survives test sessions."""
    cache = Path(tempfile.gettempdir()) / "stacktui-test-kolla"
    cache.mkdir(exist_ok=True)
    sdists = sorted(cache.glob("kolla_ansible-*.tar.gz"))
    if not sdists:
        pip = _pip()
        if pip is None:
            pytest.skip("no pip client to download kolla-ansible with")
        r = subprocess.run(pip + ["download", "--no-deps", "--no-binary", ":all:",
                                  "kolla-ansible", "-d", str(cache)],
                           capture_output=True, text=True, timeout=600)
        sdists = sorted(cache.glob("kolla_ansible-*.tar.gz"))
        if not sdists:
            err = r.stdout[-500:] + r.stderr[-500:]
            if re.search(r"(?i)connection|resolve|network|timed out|no matching distribution", err):
                pytest.skip(f"PyPI unreachable: {err}")
            pytest.fail(f"pip download kolla-ansible failed: {err}")
    tree = cache / sdists[-1].name.removesuffix(".tar.gz")
    if not (tree / "etc" / "kolla").exists():
        with tarfile.open(sdists[-1]) as t:
            t.extractall(cache, filter="data")
    return tree


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


def _answers(tmp_path, services, **over):
    return answers.load(None, dest=tmp_path / "stack", overrides={
        "host_ip": "127.0.0.1", "enabled_services": services,
        "passwords": {"admin": "adm'in$", "database": "db", "rabbit": "rb", "service": "sv"},
        **over})


@pytest.fixture
def devstack_answers(tmp_path, monkeypatch):
    # The devstack profile is not deployable by stacktui yet, but Kolla can
    # deploy it: build the answers without the deployability check.
    monkeypatch.setattr(catalog, "SERVICES", {n: s.__class__(**{**s.__dict__, "implemented": True})
                                              for n, s in catalog.SERVICES.items()})
    return _answers(tmp_path, list(catalog.PROFILES["devstack"]), virt_driver="qemu",
                    post_config={"$NOVA_CONF": {"DEFAULT": {"cpu_allocation_ratio": "4.0"},
                                                "x": {"password": "${SERVICE_PASSWORD}"}},
                                 "$TEMPEST_CONFIG": {"a": {"b": "c"}}})


def test_passwords_every_template_key(tmp_path, kolla_tree, devstack_answers):
    files, warnings = kolla.export_kolla(devstack_answers, tmp_path / "kolla", kolla_path=kolla_tree)
    template = yaml.safe_load((kolla_tree / "etc" / "kolla" / "passwords.yml").read_text())
    ours = yaml.safe_load(files["passwords.yml"].read_text())
    assert set(ours) == set(template)
    assert stat.S_IMODE(files["passwords.yml"].stat().st_mode) == 0o600
    assert ours["keystone_admin_password"] == "adm'in$"
    assert ours["database_password"] == "db"
    assert ours["rabbitmq_password"] == "rb"
    assert ours["nova_keystone_password"] == "sv"
    assert ours["glance_database_password"] == "db"
    assert ours["docker_registry_password"] is None
    for k, v in ours.items():
        if k.endswith("_ssh_key"):
            assert v["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
            assert v["public_key"].startswith("ssh-rsa ")
        elif k in kolla.UUID_KEYS:
            assert re.fullmatch(r"[0-9a-f-]{36}", v)
        elif v is not None and k not in {"keystone_admin_password", "database_password",
                                         "rabbitmq_password"} and \
                not k.endswith(("_keystone_password", "_database_password")) and \
                k not in kolla.HMAC_KEYS | kolla.FERNET_KEYS | kolla.BCRYPT_SALT_KEYS:
            assert len(v) == 40 and v.isalnum(), k
    # The built-in fallback list agrees with this Kolla release.
    assert set(kolla.PASSWORD_KEYS) == set(template)


def test_reexport_keeps_generated_passwords(tmp_path, kolla_tree):
    ans = _answers(tmp_path, ["key", "g-api", "placement-api"])
    f1, _ = kolla.export_kolla(ans, tmp_path / "k", kolla_path=kolla_tree)
    first = yaml.safe_load(f1["passwords.yml"].read_text())
    f2, _ = kolla.export_kolla(ans, tmp_path / "k", kolla_path=kolla_tree)
    assert yaml.safe_load(f2["passwords.yml"].read_text()) == first


def test_globals_has_no_unknown_key(tmp_path, kolla_tree, devstack_answers):
    files, warnings = kolla.export_kolla(devstack_answers, tmp_path / "kolla", kolla_path=kolla_tree)
    known = template_keys(kolla_tree / "etc" / "kolla" / "globals.yml")
    ours = yaml.safe_load(files["globals.yml"].read_text())
    assert set(ours) - known == set()
    assert stat.S_IMODE(files["globals.yml"].stat().st_mode) == 0o640
    assert ours["enable_nova"] == ours["enable_neutron"] == ours["enable_cinder"] == "yes"
    assert ours["enable_keystone"] == ours["enable_glance"] == ours["enable_placement"] == "yes"
    assert ours["kolla_internal_vip_address"] == "127.0.0.1"
    assert ours["network_interface"] == "lo"
    assert ours["neutron_plugin_agent"] == "ovn"
    assert ours["nova_compute_virt_type"] == "qemu"
    assert ours["openstack_region_name"] == "RegionOne"
    assert any("tempest" in w for w in warnings)
    assert any("neutron_external_interface" in w for w in warnings)
    assert any("$TEMPEST_CONFIG" in w for w in warnings)
    nova = files["config/nova.conf"].read_text()
    assert "cpu_allocation_ratio = 4.0" in nova and "password = sv" in nova


def test_minimal_globals(tmp_path, kolla_tree):
    ans = _answers(tmp_path, ["key", "g-api", "placement-api"])
    files, warnings = kolla.export_kolla(ans, tmp_path / "k", kolla_path=kolla_tree)
    g = yaml.safe_load(files["globals.yml"].read_text())
    assert g["enable_keystone"] == g["enable_glance"] == g["enable_placement"] == "yes"
    assert g["enable_nova"] == g["enable_neutron"] == g["enable_cinder"] == "no"
    assert g["enable_horizon"] == "no"
    assert g["enable_mariadb"] == "yes"          # Kolla has no SQLite
    assert "neutron_external_interface" not in g


def test_inventory_all_in_one(tmp_path, kolla_tree):
    ans = _answers(tmp_path, ["key", "g-api", "placement-api"])
    files, _ = kolla.export_kolla(ans, tmp_path / "k", kolla_path=kolla_tree)
    ours = files["all-in-one"].read_text()
    theirs = (kolla_tree / "ansible" / "inventory" / "all-in-one").read_text()
    groups = lambda t: re.findall(r"^\[([^\]]+)\]", t, re.M)  # noqa: E731
    assert groups(ours) == groups(theirs)
    for g in kolla.TOP_GROUPS:
        assert re.search(rf"^\[{g}\]\nlocalhost\s+ansible_connection=local$", ours, re.M)


def test_without_kolla_installed(tmp_path, monkeypatch):
    monkeypatch.setattr(kolla, "_share_candidates", lambda: [])
    ans = _answers(tmp_path, ["key"])
    files, warnings = kolla.export_kolla(ans, tmp_path / "k")
    assert set(yaml.safe_load(files["passwords.yml"].read_text())) == set(kolla.PASSWORD_KEYS)
    assert "[control]" in files["all-in-one"].read_text()
    assert any("kolla-ansible not found" in w for w in warnings)
