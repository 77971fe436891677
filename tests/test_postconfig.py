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
