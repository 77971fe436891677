"""openrc and clouds.yaml give back exactly the password that went in."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from stacktui import answers, credentials
from stacktui.paths import Layout

NASTY = [
    "plain",
    "it's",
    'say "hi"',
    "$HOME and ${PATH}",
    "`id` $(id)",
    "back\\slash\\",
    "100% #1 @host:port",
    "  spaces  around  ",
    "üñíçødé",
    "日本語のパスワード",
    "'\"`$\\!%#@: ü日本",
    "-n",
    "*",
    "a;b&&c|d>e<f",
]


def make_answers(tmp_path: Path, admin: str) -> answers.Answers:
    ans = answers.load(None, dest=tmp_path / "stack",
                       overrides={"host_ip": "127.0.0.1", "passwords": {"admin": admin}})
    return ans


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.mark.parametrize("pw", NASTY)
def test_openrc_gives_back_exact_password(tmp_path, pw):
    ans = make_answers(tmp_path, pw)
    layout = Layout(ans.dest)
    files = credentials.write_credentials(ans, layout)
    rc = files["openrc"]
    for args, user, project in (("", "demo", "demo"), ("admin", "admin", "admin"),
                                ("admin demo", "admin", "demo")):
        out = subprocess.run(
            ["bash", "-c", f'source "$0" {args} && printf "%s\\0" "$OS_PASSWORD" '
                           '"$OS_USERNAME" "$OS_PROJECT_NAME" "$OS_AUTH_URL" '
                           '"$OS_USER_DOMAIN_ID" "$OS_PROJECT_DOMAIN_ID" "$OS_REGION_NAME" '
                           '"$OS_IDENTITY_API_VERSION"', str(rc)],
            capture_output=True, check=True, env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"})
        vals = out.stdout.decode("utf-8").split("\0")[:-1]
        assert vals == [pw, user, project, "http://127.0.0.1:5000/v3", "default", "default",
                        "RegionOne", "3"]
        assert out.stderr == b""


@pytest.mark.parametrize("pw", NASTY)
def test_clouds_yaml_gives_back_exact_password(tmp_path, pw):
    ans = make_answers(tmp_path, pw)
    files = credentials.write_credentials(ans, Layout(ans.dest))
    for key in ("clouds.yaml", "user clouds.yaml"):
        doc = yaml.safe_load(files[key].read_text(encoding="utf-8"))
        clouds = doc["clouds"]
        assert set(credentials.CLOUD_NAMES) <= set(clouds)
        for name in credentials.CLOUD_NAMES:
            assert clouds[name]["auth"]["password"] == pw
            assert clouds[name]["auth"]["auth_url"] == "http://127.0.0.1:5000/v3"
            assert clouds[name]["region_name"] == "RegionOne"
        assert clouds["devstack"]["auth"]["username"] == "demo"
        assert clouds["devstack"]["auth"]["project_name"] == "demo"
        assert clouds["devstack-admin"]["auth"]["project_name"] == "admin"
        assert clouds["devstack-system-admin"]["auth"]["system_scope"] == "all"
        assert "project_name" not in clouds["devstack-system-admin"]["auth"]


def test_modes_are_0600(tmp_path):
    ans = make_answers(tmp_path, "x")
    files = credentials.write_credentials(ans, Layout(ans.dest))
    for p in files.values():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_user_clouds_yaml_keeps_other_clouds(tmp_path):
    user = tmp_path / "config" / "openstack" / "clouds.yaml"
    user.parent.mkdir(parents=True)
    user.write_text(yaml.safe_dump({"clouds": {"mine": {"auth": {"auth_url": "http://x"}},
                                               "devstack": {"stale": True}},
                                    "cache": {"expiration_time": 1}}))
    ans = make_answers(tmp_path, "pw")
    credentials.write_credentials(ans, Layout(ans.dest))
    doc = yaml.safe_load(user.read_text())
    assert doc["clouds"]["mine"] == {"auth": {"auth_url": "http://x"}}
    assert "stale" not in doc["clouds"]["devstack"]
    assert doc["cache"] == {"expiration_time": 1}
    assert stat.S_IMODE(user.stat().st_mode) == 0o600


def test_openstacksdk_reads_dest_clouds_yaml(tmp_path, monkeypatch):
    config = pytest.importorskip("openstack.config")
    pw = "'\"`$\\ ü日本"
    ans = make_answers(tmp_path, pw)
    layout = Layout(ans.dest)
    credentials.write_credentials(ans, layout, user_config=False)
    for k in list(os.environ):
        if k.startswith("OS_"):
            monkeypatch.delenv(k)
    for k, v in credentials.clouds_env(layout).items():
        monkeypatch.setenv(k, v)
    region = config.OpenStackConfig().get_one(cloud="devstack-admin")
    assert region.auth["password"] == pw
    assert region.auth["username"] == "admin"
    assert region.region_name == "RegionOne"
