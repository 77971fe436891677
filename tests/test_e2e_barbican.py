"""End to end: the Barbican plugin (plugins/barbican), installed as its own
package beside stacktui, deploys a real key manager.

One install, shared by the module: the plugin is installed into a folder on
the stacktui commands' PYTHONPATH (its entry point is found there, nothing in
stacktui changes); a DevStack local.conf with `enable_plugin barbican URL`
and cinder (the plugin makes Barbican cinder's key manager itself) is
imported with `import-localconf` and installed as is (MariaDB, RabbitMQ,
keystone, c-api/c-sch/c-vol on the fake driver, the three Barbican panes).
Then `openstack secret store` / `secret get --payload` round-trip, and cinder
makes an encrypted volume type and an encrypted volume whose key is a
Barbican secret."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import NASTY, stacktui
from tests.pluginfix import plugin_on_path
from tests.stackfix import installed_stack, osc, osc_json, pane_rss_mb, stack_ports

BARBICAN = ["barbican-api", "barbican-keystone-listener", "barbican-worker"]
PORTED = ["key", "mysql", "rabbit", "c-api", "barbican-api"]
# oslo.messaging cannot carry a `/` in the rabbit password (phases/rabbit.py).
PASSWORDS = {**NASTY, "rabbit": NASTY["rabbit"].replace("/", "")}

pytestmark = pytest.mark.timeout(1200) if hasattr(pytest.mark, "timeout") else []


def local_conf(ports: dict) -> str:
    return (
        "[[local|localrc]]\nHOST_IP=127.0.0.1\nDATABASE_TYPE=mysql\n"
        "disable_all_services\nenable_service mysql rabbit key c-api c-sch c-vol\n"
        "enable_plugin barbican https://opendev.org/openstack/barbican\n")


@pytest.fixture(scope="module")
def barbican_stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("barbican-plugin")
    ports = stack_ports(PORTED)
    conf = work / "local.conf"
    conf.write_text(local_conf(ports))
    # Every stacktui command of this module (import, install, teardown,
    # clean) runs with the plugin where Python finds entry points.
    with plugin_on_path("barbican", work):
        imported = stacktui("import-localconf", conf, "-o", work / "stacktui.yaml", timeout=120)
        answers = yaml.safe_load((work / "stacktui.yaml").read_text())
        for key in ("dest", "host_ip", "ports"):
            answers.pop(key, None)
        # Passwords made of what breaks naive quoting reach barbican.conf as typed.
        with installed_stack("e2e-barbican-", {**answers, "passwords": PASSWORDS}, ports=ports, imported=imported,
                             imported_answers=answers) as stack:
            print(f"barbican stack installed in {stack['install_seconds']:.1f}s; "
                  f"RSS MB {pane_rss_mb(stack)}")
            yield stack


def test_import_localconf_maps_enable_plugin_to_the_installed_plugin(barbican_stack):
    err = barbican_stack["imported"].stderr
    assert "enable_plugin barbican: provided by the stacktui plugin stacktui-barbican " \
           f"({', '.join(BARBICAN)})" in err, err
    a = barbican_stack["imported_answers"]
    assert set(BARBICAN) <= set(a["enabled_services"])
    assert a["database"] == "mysql"
    # Cinder's key manager is the plugin's doing (its spec's config_for), not the local.conf's.
    assert not a.get("post_config")


def test_install_runs_the_plugin_from_its_own_lock(barbican_stack):
    out = barbican_stack["output"]
    assert "start:barbican" in out and "verify" in out
    log = (barbican_stack["dest"] / "logs" / "stack.log").read_text()
    assert "barbican: a secret stored, read back and deleted (simple_crypto)" in log
    assert "installing a plugin's locked packages (" in log and "stacktui_barbican/lock.txt)" in log
    site = barbican_stack["dest"] / "venv"
    assert list(site.glob("lib/python3*/site-packages/barbican-23.0.0.dist-info"))
    rss = pane_rss_mb(barbican_stack)
    assert all(rss.get(p) for p in BARBICAN), rss


def test_kek_is_the_stacks_secret(barbican_stack):
    etc = barbican_stack["dest"] / "etc" / "barbican"
    kek = etc / "barbican.conf.d" / "simple-crypto-kek.conf"
    assert kek.stat().st_mode & 0o777 == 0o600
    assert (etc / "barbican.conf").stat().st_mode & 0o777 == 0o600
    key = kek.read_text().split("kek = ", 1)[1].strip()
    assert len(key) == 44
    log = (barbican_stack["dest"] / "logs" / "stack.log").read_text()
    assert key not in log
    # Made from the plugin's own secret, kept with the passwords (0600) and masked in the log.
    secrets = Path(barbican_stack["answers"]).parent / "secrets.yaml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    secret = yaml.safe_load(secrets.read_text())["passwords"]["barbican_kek"]
    assert len(secret) == 32 and secret not in log
    assert "merged other services' options into" in log and "cinder.conf" in log


def test_secret_store_and_get_payload_round_trip(barbican_stack):
    payload = f"s3cr3t {time.time()} ä"
    ref = osc_json(barbican_stack, "secret", "store", "--name", "e2e", "--payload", payload)
    href = ref["Secret href"]
    got = osc(barbican_stack, "secret", "get", "--payload", href, "-f", "value").stdout
    assert got.rstrip("\n") == payload
    osc(barbican_stack, "secret", "delete", href)


def test_cinder_makes_an_encrypted_volume_with_a_barbican_key(barbican_stack):
    s = barbican_stack
    osc(s, "volume", "type", "create", "--encryption-provider", "luks",
        "--encryption-cipher", "aes-xts-plain64", "--encryption-key-size", "256",
        "--encryption-control-location", "front-end", "LUKS")
    before = {x["Secret href"] for x in osc_json(s, "secret", "list")}
    osc(s, "volume", "create", "--size", "1", "--type", "LUKS", "enc")
    deadline = time.monotonic() + 120
    while (vol := osc_json(s, "volume", "show", "enc"))["status"] not in ("available", "error"):
        assert time.monotonic() < deadline, vol
        time.sleep(1)
    assert vol["status"] == "available" and vol["encrypted"] is True, vol
    keys = {x["Secret href"]: x for x in osc_json(s, "secret", "list")}
    new = set(keys) - before
    assert len(new) == 1, keys
    assert keys[new.pop()]["Algorithm"].lower() == "aes"
    osc(s, "volume", "delete", "enc")
