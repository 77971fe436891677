"""post_config merged into real config files under DEST."""

from __future__ import annotations

import configparser
import os
import stat

import pytest

from stacktui import answers, postconfig
from stacktui.errors import UserError
from stacktui.paths import Layout


def _ans(tmp_path, post_config, service="s$rv%ce'pw"):
    return answers.load(None, dest=tmp_path / "stack",
                        overrides={"host_ip": "127.0.0.1", "post_config": post_config,
                                   "passwords": {"service": service}})


def _read(path):
    p = configparser.RawConfigParser(interpolation=None, default_section="\0none")
    p.optionxform = str
    p.read(path)
    return p


def test_merge_keeps_existing_options_mode_and_case(tmp_path):
    ans = _ans(tmp_path, {"$KEYSTONE_CONF": {"token": {"expiration": "7200"},
                                             "DEFAULT": {"Debug_Flag": "True"}}})
    layout = Layout(ans.dest)
    conf = layout.config("keystone")
    conf.parent.mkdir(parents=True)
    conf.write_text("[DEFAULT]\nlog_dir = /x\n\n[token]\nprovider = fernet\nexpiration = 3600\n"
                    "\n[database]\nconnection = sqlite:///%(here)s/k.db\n")
    os.chmod(conf, 0o640)
    assert postconfig.apply(ans, layout) == [conf]
    p = _read(conf)
    assert p.get("token", "expiration") == "7200"
    assert p.get("token", "provider") == "fernet"
    assert p.get("DEFAULT", "log_dir") == "/x"
    assert p.get("DEFAULT", "Debug_Flag") == "True"
    assert p.get("database", "connection") == "sqlite:///%(here)s/k.db"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640


def test_every_file_variable_maps_under_dest(tmp_path):
    pc = {var: {"s": {"o": "v"}} for var in postconfig.file_vars()}
    ans = _ans(tmp_path, pc)
    layout = Layout(ans.dest)
    expected = {
        "$KEYSTONE_CONF": layout.config("keystone"),
        "$NOVA_CONF": layout.config("nova"),
        "$GLANCE_API_CONF": layout.config("glance", "glance-api.conf"),
        "$PLACEMENT_CONF": layout.config("placement"),
        "$NEUTRON_CONF": layout.config("neutron"),
        "$Q_PLUGIN_CONF_FILE": layout.config("neutron", "ml2_conf.ini"),
        "$CINDER_CONF": layout.config("cinder"),
    }
    for var, path in expected.items():
        assert postconfig.resolve(var, layout) == path
        assert postconfig.resolve("${" + var[1:] + "}", layout) == path
    assert postconfig.resolve("/etc/nova/nova.conf", layout) == layout.config("nova")
    assert postconfig.resolve("/srv/other.ini", layout).as_posix() == "/srv/other.ini"
    for path in expected.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[s]\nkeep = 1\n")
    changed = postconfig.apply(ans, layout)
    assert set(expected.values()) <= set(changed)
    for path in expected.values():
        p = _read(path)
        assert p.get("s", "o") == "v" and p.get("s", "keep") == "1"


def test_missing_service_file_is_skipped_absolute_path_created(tmp_path):
    target = tmp_path / "extra" / "thing.ini"
    ans = _ans(tmp_path, {"$NOVA_CONF": {"DEFAULT": {"x": "1"}},
                          str(target): {"a": {"b": "c"}}})
    layout = Layout(ans.dest)
    assert postconfig.apply(ans, layout) == [target]
    assert not layout.config("nova").exists()
    assert _read(target).get("a", "b") == "c"


def test_password_reference_filled_and_dollar_escaped(tmp_path):
    ans = _ans(tmp_path, {"$KEYSTONE_CONF": {"x": {"password": "${SERVICE_PASSWORD}",
                                                   "other": "$SERVICE_PASSWORDX"}}})
    layout = Layout(ans.dest)
    conf = layout.config("keystone")
    conf.parent.mkdir(parents=True)
    conf.write_text("")
    postconfig.apply(ans, layout)
    p = _read(conf)
    # oslo.config reads $$ as one $
    assert p.get("x", "password") == "s$$rv%ce'pw"
    assert p.get("x", "other") == "$SERVICE_PASSWORDX"


def test_unknown_variable_is_a_user_error(tmp_path):
    ans = _ans(tmp_path, {"$HEAT_CONF": {"a": {"b": "c"}}})
    with pytest.raises(UserError) as e:
        postconfig.apply(ans, Layout(ans.dest))
    assert "HEAT_CONF" in str(e.value)


# ------------------------------------------------------------ swift's files
#
# Swift reads its configs with Python's ConfigParser (swift.common.utils.readconf
# for its daemons, paste.deploy with swift's loader for its servers), not
# oslo.config: `$` is plain, and `%` interpolates in a value that holds `%(`.
# Each merged file is read back here by swift's own readconf, from a venv with
# swift from stacktui's lock (seconds from uv's cache).

@pytest.fixture(scope="module")
def swift_python(tmp_path_factory):
    import subprocess
    import sys
    from stacktui.phases import install
    venv = tmp_path_factory.mktemp("swift-venv") / "venv"
    uv = install.uv()
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, venv], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", venv / "bin" / "python",
                    "--constraint", install._locks_dir() / "full.txt", "swift"],
                   check=True, timeout=600)
    return venv / "bin" / "python"


def _swift_readconf(python, path, section):
    """``section`` of ``path`` as swift's daemons get it."""
    import json
    import subprocess
    code = ("import json, sys; from swift.common.utils import readconf; "
            "print(json.dumps(readconf(sys.argv[1], sys.argv[2])))")
    r = subprocess.run([str(python), "-c", code, str(path), section], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def _swift_stack(tmp_path, local_conf: str, passwords: dict | None = None):
    """A local.conf imported, swift's files written as `stacktui install`
    writes them (phases/swift.py configure), then post-config merged."""
    from stacktui import events, localconf
    from stacktui.context import Context
    from stacktui.masking import Masker
    from stacktui.phases import swift
    from stacktui.runner import Runner
    data, warnings = localconf.import_localconf(local_conf)
    assert not [w for w in warnings if "post-config" in w], warnings
    ans = answers.load(None, dest=tmp_path / "stack", overrides={
        "host_ip": "127.0.0.1", "post_config": data.get("post_config", {}),
        "enabled_services": ["key", "mysql", "s-proxy", "s-object", "s-container", "s-account"],
        "passwords": passwords or {}})
    layout = Layout(ans.dest)
    runner = Runner(layout.stack_log, Masker(ans.secret_values))
    try:
        swift.configure(Context(ans, layout, events.Bus(), runner))
    finally:
        runner.close()
    return ans, layout, postconfig.apply(ans, layout)


def test_swift_object_server_block_from_a_public_ci_local_conf(tmp_path, swift_python):
    """openstack-archive/xenapi-os-testing, run_tests.sh (its pre_test_hook
    appends this to local.conf to "reduce the object audit rate to save IO"):
    DevStack's /etc/swift path, a daemon's section of a storage server's file."""
    local_conf = ("[[local|localrc]]\nADMIN_PASSWORD=secret\n\n"
                  "[[post-config|/etc/swift/object-server/1.conf]]\n"
                  "[object-auditor]\n"
                  "files_per_second = 1\n"
                  "bytes_per_second = 65536\n"
                  "interval = 3000\n")
    ans, layout, changed = _swift_stack(tmp_path, local_conf)
    from stacktui.phases import swift
    conf = swift.server_conf(layout, "object")
    assert changed == [conf]
    got = _swift_readconf(swift_python, conf, "object-auditor")
    assert (got["files_per_second"], got["bytes_per_second"], got["interval"]) == \
        ("1", "65536", "3000")
    # What stacktui wrote stays, [DEFAULT] included (the daemon reads it too).
    assert got["mount_check"] == "false" and got["devices"] == str(swift.devices(layout))
    assert _swift_readconf(swift_python, conf, "object-replicator")["rsync_module"].startswith(
        "rsync://{replication_ip}:")


def test_swift_proxy_filter_block_with_a_password_read_back_by_swift(tmp_path, swift_python):
    """A public CI script's local.conf (found in the code corpus under
    `[[post-config|/etc/swift/proxy-server.conf]]`; it gives swift's s3token
    filter keystone credentials, as DevStack 2026.2's lib/swift does), here
    with $SERVICE_HOST and $SERVICE_PASSWORD as a local.conf would hold them,
    and, through $SWIFT_CONF_DIR, an option of the proxy app. The service
    password holds `%(`, `%`, `$` and quotes: swift must read it as it is."""
    nasty = "s%(x)s 50% $HOME ${y} 'q\" #"
    local_conf = ("[[local|localrc]]\nSERVICE_PASSWORD=ignored\n\n"
                  "[[post-config|/etc/swift/proxy-server.conf]]\n"
                  "[filter:s3token]\n"
                  "auth_type = password\n"
                  "auth_url = http://$SERVICE_HOST/identity\n"
                  "project_name = service\n"
                  "project_domain_name = Default\n"
                  "username = swift\n"
                  "user_domain_name = Default\n"
                  "password = $SERVICE_PASSWORD\n"
                  "\n"
                  "[[post-config|$SWIFT_CONF_DIR/proxy-server.conf]]\n"
                  "[app:proxy-server]\n"
                  "node_timeout = 60\n"
                  "[DEFAULT]\n"
                  "fallocate_reserve = 1%\n")
    ans, layout, changed = _swift_stack(tmp_path, local_conf, passwords={"service": nasty})
    from stacktui.phases import swift
    conf = swift.proxy_conf(layout)
    assert conf in changed
    s3 = _swift_readconf(swift_python, conf, "filter:s3token")
    assert s3["password"] == nasty
    assert s3["auth_url"] == "http://127.0.0.1/identity"
    assert s3["username"] == "swift" and s3["user_domain_name"] == "Default"
    app = _swift_readconf(swift_python, conf, "app:proxy-server")
    # The user's option, stacktui's beside it, and a `%` with no `%(` as written.
    assert app["node_timeout"] == "60" and app["account_autocreate"] == "true"
    assert app["fallocate_reserve"] == "1%"
    # The authtoken password stacktui wrote is untouched by the merge.
    assert _swift_readconf(swift_python, conf, "filter:authtoken")["password"] == nasty


def test_swift_value_with_its_own_interpolation_keeps_it(tmp_path, swift_python):
    """A value the user wrote with `%(...)s` stays an interpolation for swift
    (paste.deploy gives `here`); a password filled into it reads back as is."""
    local_conf = ("[[local|localrc]]\n"
                  "[[post-config|${SWIFT_CONF_DIR}/container-server/1.conf]]\n"
                  "[DEFAULT]\n"
                  "stacktui_probe = %(swift_dir)s/x:$SERVICE_PASSWORD\n")
    ans, layout, _ = _swift_stack(tmp_path, local_conf, passwords={"service": "p%w"})
    from stacktui.phases import swift
    got = _swift_readconf(swift_python, swift.server_conf(layout, "container"),
                          "app:container-server")
    assert got["stacktui_probe"] == f"{swift.etc(layout)}/x:p%w"


def test_swift_option_twice_is_refused_with_file_and_key(tmp_path):
    """ConfigParser refuses an option repeated in a section, so swift would
    not start: refused at merge with the file, the key and the fix."""
    local_conf = ("[[local|localrc]]\n"
                  "[[post-config|$SWIFT_CONFIG_PROXY_SERVER]]\n"
                  "[app:proxy-server]\n"
                  "node_timeout = 60\n"
                  "node_timeout = 90\n")
    with pytest.raises(UserError) as e:
        _swift_stack(tmp_path, local_conf)
    msg = str(e.value)
    assert "proxy-server.conf" in msg and "node_timeout" in msg and "once" in msg


def test_swift_files_resolve_as_devstack_names_them(tmp_path):
    layout = Layout(tmp_path)
    proxy = layout.etc / "swift" / "proxy-server.conf"
    for name in ("$SWIFT_CONFIG_PROXY_SERVER", "$SWIFT_CONF_DIR/proxy-server.conf",
                 "${SWIFT_CONF_DIR}/proxy-server.conf", "/etc/swift/proxy-server.conf"):
        assert postconfig.resolve(name, layout) == proxy, name
        assert postconfig.config_file(name).syntax == "paste"
    assert postconfig.resolve("/etc/swift/account-server/1.conf", layout) == \
        layout.etc / "swift" / "account-server" / "1.conf"
    assert postconfig.config_file("$NOVA_CONF").syntax == "oslo"
