"""The plugins of plugins/ written against the contract alone: their
configure verbs, run for real on a Context into a temporary DEST, get the
database and queue URLs, keystone sections, OVN connections, the generated
KEK secret and the INI writer from stacktui, and Barbican's options for
cinder's file land there through the spec's ``config_for``. No stack is
installed; the plugins are installed as packages the way pluginfix does."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import yaml

from tests.pluginfix import plugin_on_path

SCRIPT = textwrap.dedent("""
    import json, sys
    from stacktui import answers, events, postconfig, registry
    from stacktui.context import Context
    from stacktui.masking import Masker
    from stacktui.paths import Layout
    dest, ans_path = sys.argv[1], sys.argv[2]
    ans = answers.load(ans_path, dest=dest)
    answers.save_generated(ans)
    layout = Layout(ans.dest)
    ctx = Context(ans, layout, events.Bus(), None)
    ctx.say = lambda text: None
    for name in ("barbican", "octavia"):
        registry.get(name).configure(ctx)
    cinder = postconfig.resolve("$CINDER_CONF", layout)
    cinder.parent.mkdir(parents=True, exist_ok=True)
    cinder.write_text("[DEFAULT]\\ndebug = true\\n")
    postconfig.apply_contributed(ctx)
    kek = ans.password("barbican_kek")
    print(json.dumps({"kek": kek, "logged": Masker(ans.secret_values)(f"kek={kek}")}))
""")

SERVICES = ["mysql", "rabbit", "key", "c-api", "c-sch", "c-vol", "barbican-api",
            "barbican-keystone-listener", "barbican-worker", "q-svc", "ovn-northd",
            "ovn-controller", "ovs-vswitchd", "ovsdb-server", "o-api", "o-da"]


def _ini(path):
    import configparser
    p = configparser.RawConfigParser(interpolation=None)
    p.read(path)
    return p


def test_plugins_configure_through_the_contract(tmp_path):
    dest = tmp_path / "dest"
    ans_file = tmp_path / "stacktui.yaml"
    ans_file.write_text(yaml.safe_dump({
        "host_ip": "127.0.0.1", "database": "mysql", "enabled_services": SERVICES,
        "passwords": {"service": "s$rv%ce'pw", "database": "d b/pw", "rabbit": "r$pw",
                      "admin": "a"}}))
    with plugin_on_path("barbican", tmp_path / "b") as b, plugin_on_path("octavia", tmp_path / "o") as o:
        env = {**os.environ, "PYTHONPATH": f"{b}:{o}"}
        r = subprocess.run([sys.executable, "-c", SCRIPT, dest, ans_file], env=env,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])

    # The plugin's own secret: generated, kept 0600 in secrets.yaml beside the answers.
    secrets = tmp_path / "secrets.yaml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert yaml.safe_load(secrets.read_text())["passwords"]["barbican_kek"] == got["kek"]
    assert len(got["kek"]) >= 32 and got["kek"] not in got["logged"]     # masked like a password
    kek = dest / "etc" / "barbican" / "barbican.conf.d" / "simple-crypto-kek.conf"
    assert stat.S_IMODE(kek.stat().st_mode) == 0o600
    assert got["kek"] not in kek.read_text()        # the KEK is derived, not the secret itself

    b = _ini(dest / "etc" / "barbican" / "barbican.conf")
    assert b["database"]["connection"].startswith("mysql+pymysql://barbican:d%20b%2Fpw@127.0.0.1:")
    assert b["DEFAULT"]["transport_url"].startswith("rabbit://stackrabbit:r%24pw@127.0.0.1:")
    # oslo.config's escaping: `$` doubled, the quote kept.
    assert b["keystone_authtoken"]["password"] == "s$$rv%ce'pw"
    assert b["keystone_authtoken"]["username"] == "barbican"

    o = _ini(dest / "etc" / "octavia" / "octavia.conf")
    nb = o["ovn"]["ovn_nb_connection"]
    assert nb.startswith("tcp:127.0.0.1:")
    assert o["ovn"]["ovn_sb_connection"] == f"tcp:127.0.0.1:{int(nb.rsplit(':', 1)[1]) + 1}"
    assert o["service_auth"]["username"] == "octavia"
    assert o["keystone_authtoken"]["auth_url"] == o["service_auth"]["auth_url"]

    c = _ini(dest / "etc" / "cinder" / "cinder.conf")
    assert c["key_manager"]["backend"] == "barbican"
    assert c["barbican"]["auth_endpoint"] == o["service_auth"]["auth_url"] + "/v3"
    assert c["DEFAULT"]["debug"] == "true"
