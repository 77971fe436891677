"""stacktui.pipconfig against pip itself: for the same files and variables,
the index, extra indexes, trusted hosts, cert, find-links and no-index that
`pip install` would use (asked of pip's own option parser in a subprocess),
and the uv variables they become."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacktui import pipconfig
from stacktui.errors import UserError

# pip's own answer: its install command's options after pip read its files
# and PIP_* variables (pip's internals, used here only as the reference).
PIP_SAYS = """
import json
from pip._internal.commands import create_command
o, _ = create_command("install").parse_args([])
print(json.dumps({"index_url": o.index_url, "extra_index_urls": o.extra_index_urls,
                  "trusted_hosts": o.trusted_hosts, "cert": o.cert,
                  "find_links": o.find_links, "no_index": o.no_index}))
"""


def clean_env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "XDG_CONFIG")) and k != "SSL_CERT_FILE"}
    env.update(HOME=str(home), XDG_CONFIG_DIRS=str(home / "xdg"), **extra)
    return env


def pip_says(env: dict) -> dict:
    r = subprocess.run([sys.executable, "-c", PIP_SAYS], env=env, capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout)


def ours(env: dict) -> dict:
    s = pipconfig.read(env)
    return {"index_url": s.index_url, "extra_index_urls": s.extra_index_urls,
            "trusted_hosts": s.trusted_hosts, "cert": s.cert, "find_links": s.find_links,
            "no_index": s.no_index}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path):
    return tmp_path


def same_as_pip(env):
    got, want = ours(env), pip_says(env)
    # /etc/pip.conf is this machine's and read by both; compare everything.
    assert got == {**want, "index_url": want["index_url"]
                   if want["index_url"] != "https://pypi.org/simple" else None}
    return got


def test_files_in_pips_order_and_sections(home):
    write(home / "xdg/pip/pip.conf", "[global]\nindex-url = https://xdg.example/simple\n"
          "trusted-host = xdg.example\n")
    write(home / ".pip/pip.conf", "[global]\nindex-url = https://legacy.example/simple\n"
          "extra-index-url =\n    https://a.example/simple\n    https://b.example/simple\n")
    write(home / ".config/pip/pip.conf", "[global]\nindex-url = https://user.example/simple\n"
          "[install]\nfind-links = /nowhere/wheels\n")
    got = same_as_pip(clean_env(home))
    assert got["index_url"] == "https://user.example/simple"     # user file beats legacy and xdg
    assert got["extra_index_urls"] == ["https://a.example/simple", "https://b.example/simple"]
    assert got["trusted_hosts"] == ["xdg.example"]


def test_install_section_beats_global_and_variables_beat_both(home):
    write(home / ".config/pip/pip.conf", "[install]\nindex-url = https://install.example/simple\n")
    write(home / "xdg/pip/pip.conf", "[global]\nindex-url = https://global.example/simple\n")
    assert same_as_pip(clean_env(home))["index_url"] == "https://install.example/simple"
    env = clean_env(home, PIP_INDEX_URL="https://env.example/simple", PIP_NO_INDEX="yes",
                    PIP_TRUSTED_HOST="h1 h2")
    got = same_as_pip(env)
    assert got["index_url"] == "https://env.example/simple" and got["no_index"] is True
    assert got["trusted_hosts"] == ["h1", "h2"]


def test_pip_config_file_hides_the_users_files_and_devnull_hides_all(home):
    write(home / ".config/pip/pip.conf", "[global]\nindex-url = https://user.example/simple\n"
          "cert = /user/ca.pem\n")
    mine = write(home / "mine.conf", "[global]\ncert = /mine/ca.pem\n")
    got = same_as_pip(clean_env(home, PIP_CONFIG_FILE=str(mine)))
    assert got["cert"] == "/mine/ca.pem" and got["index_url"] is None
    got = same_as_pip(clean_env(home, PIP_CONFIG_FILE=os.devnull))
    assert got["cert"] is None


def test_uv_gets_pips_settings_and_keeps_its_own(home, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write(home / ".config/pip/pip.conf",
          "[global]\nindex-url = https://user:s3cret@mirror.example/simple\n"
          "extra-index-url = https://extra.example/simple\ntrusted-host = mirror.example\n"
          f"cert = {tmp_path}/ca.pem\nfind-links = {wheels} /missing/wheels\n")
    s = pipconfig.uv_setup(clean_env(home))
    assert s.env["UV_DEFAULT_INDEX"] == "https://user:s3cret@mirror.example/simple"
    assert s.env["UV_INDEX"] == "https://extra.example/simple"
    assert s.env["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    assert s.env["UV_INSECURE_HOST"] == "mirror.example"
    assert s.env["SSL_CERT_FILE"] == f"{tmp_path}/ca.pem"
    assert s.env["UV_FIND_LINKS"] == str(wheels)          # uv would stop on the missing one
    assert any("/missing/wheels" in n for n in s.notes)
    assert "s3cret" not in s.index and "user:***@mirror.example" in s.index
    assert "UV_SYSTEM_CERTS" not in s.env

    # What the user set for uv wins.
    s = pipconfig.uv_setup(clean_env(home, UV_DEFAULT_INDEX="https://uv.example/simple",
                                     SSL_CERT_FILE="/uv/ca.pem", UV_INDEX_STRATEGY="first-index"))
    assert "UV_DEFAULT_INDEX" not in s.env and "SSL_CERT_FILE" not in s.env
    assert "UV_INDEX_STRATEGY" not in s.env
    assert "from UV_DEFAULT_INDEX" in s.index and "from SSL_CERT_FILE" in s.ca


def test_no_cert_anywhere_means_the_system_trust_store(home):
    s = pipconfig.uv_setup(clean_env(home, PIP_CONFIG_FILE=os.devnull))
    assert s.env["UV_SYSTEM_CERTS"] == "true" and s.env["UV_NATIVE_TLS"] == "true"
    assert "system trust store" in s.ca and "pypi.org" in s.index


def test_a_broken_pip_conf_names_file_and_line(home):
    bad = write(home / ".config/pip/pip.conf", "[global]\nindex-url = x\nindex-url = y\n")
    with pytest.raises(UserError) as e:
        pipconfig.read(clean_env(home))
    assert str(bad) in str(e.value) and ":3" in str(e.value)


def test_uv_toml_settings_are_uvs_own_and_win(home):
    write(home / ".config/pip/pip.conf", "[global]\nindex-url = https://pip.example/simple\n"
          "extra-index-url = https://extra.example/simple\ntrusted-host = pip.example\n")
    write(home / ".config/uv/uv.toml", '[pip]\nindex-url = "https://uv.example/simple"\n'
          'allow-insecure-host = ["uv.example"]\nsystem-certs = true\n')
    s = pipconfig.uv_setup(clean_env(home, PIP_CERT="", SSL_CERT_FILE=""))
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX", "UV_INSECURE_HOST", "UV_SYSTEM_CERTS",
                 "SSL_CERT_FILE"):
        assert name not in s.env, s.env
    assert str(home / ".config/uv/uv.toml") in s.index
    # UV_NO_CONFIG: uv reads no file, so pip's settings go through again.
    s = pipconfig.uv_setup(clean_env(home, UV_NO_CONFIG="1"))
    assert s.env["UV_DEFAULT_INDEX"] == "https://pip.example/simple"
    write(home / ".config/uv/uv.toml", "[pip\n")
    with pytest.raises(UserError):
        pipconfig.uv_setup(clean_env(home))
