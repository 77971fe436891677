"""Issue 12: a stack touches only what is its own. Fast tests with real
files, folders and processes; no OpenStack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacktui import credentials, paths
from stacktui.paths import Layout


def cli(*args, env=None, input=None):
    return subprocess.run([sys.executable, "-m", "stacktui.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL if input is None else None, input=input,
                          env={**os.environ, **(env or {})})


def fake_stack(dest: Path, before: tuple[str, ...] = ()) -> Layout:
    """What install leaves, without installing: the marker written first
    (as the engine does), then the folders and credential files."""
    layout = Layout(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in before:
        (dest / name).mkdir()
        (dest / name / "mine.txt").write_text("the user's own\n")
    paths.claim(layout)
    for d in (layout.etc, layout.data, layout.logs, layout.run, layout.venv, layout.src):
        d.mkdir(parents=True, exist_ok=True)
    (layout.data / "db").write_text("x")
    cloud = {"auth": {"auth_url": f"http://127.0.0.1:1/{dest.name}/v3", "password": "pw"}}
    (dest / "clouds.yaml").write_text(yaml.safe_dump({"clouds": {"devstack-admin": cloud}}))
    credentials.merge_user_clouds({"devstack-admin": cloud, })
    paths.remember_last(dest)
    return layout


def test_clean_refuses_a_folder_without_marker(tmp_path):
    d = tmp_path / "notastack"
    for sub in ("src", "etc", "data", "logs", "run", "venv"):
        (d / sub).mkdir(parents=True)
    (d / "openrc").write_text("x")
    r = cli("clean", "--dest", d, "--yes")
    assert r.returncode == 2, r
    assert "no stack made by stacktui" in r.stderr
    assert sorted(p.name for p in d.iterdir()) == ["data", "etc", "logs", "openrc", "run", "src", "venv"]


def test_clean_refuses_root_and_home(tmp_path):
    home = tmp_path / "home"
    fake_stack(home)           # even a marked home folder is refused
    for target in ("/", home, tmp_path):
        r = cli("clean", "--dest", target, "--yes", env={"HOME": str(home)})
        assert r.returncode == 2, (target, r)
        assert "refusing to clean" in r.stderr
    assert (home / "data" / "db").exists()


def test_clean_without_terminal_needs_yes(tmp_path):
    d = tmp_path / "st"
    fake_stack(d)
    r = cli("clean", "--dest", d, input="y\n")   # `echo y | stacktui clean`: no terminal
    assert r.returncode == 2, r
    assert "--yes" in r.stderr
    assert (d / "data" / "db").exists()


def test_clean_removes_only_what_install_made_and_the_user_clouds(tmp_path):
    d = tmp_path / "st"
    layout = fake_stack(d, before=("src",))
    other = {"auth": {"auth_url": "http://elsewhere/v3"}}
    credentials.merge_user_clouds({"mycloud": other})
    assert paths.last_dest() == d
    r = cli("clean", "--dest", d, "--yes")
    assert r.returncode == 0, r
    assert (d / "src" / "mine.txt").read_text() == "the user's own\n"
    assert sorted(p.name for p in d.iterdir()) == ["src"]
    clouds = yaml.safe_load(credentials.user_clouds_path().read_text())["clouds"]
    assert clouds == {"mycloud": other}
    assert paths.last_dest() is None
    assert not layout.marker.exists()


def test_clean_keeps_a_cloud_of_the_same_name_from_another_stack(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    fake_stack(a)
    fake_stack(b)              # b's devstack-admin replaced a's in the user file
    assert cli("clean", "--dest", a, "--yes").returncode == 0
    clouds = yaml.safe_load(credentials.user_clouds_path().read_text())["clouds"]
    assert clouds["devstack-admin"]["auth"]["auth_url"].endswith("/b/v3")


# ------------------------------------------------------------------ resume

def test_resume_uses_the_saved_answers(tmp_path, monkeypatch, capsys):
    import argparse

    from stacktui import answers as answers_mod
    from stacktui.cmd_stack import load_for_install
    d = tmp_path / "st"
    ans = answers_mod.load(None, dest=d, overrides={"ports": {"key": 15123}, "region": "Saved"})
    answers_mod.save(ans, Layout(d).answers_file)
    monkeypatch.chdir(tmp_path)        # no ./stacktui.yaml here
    got = load_for_install(argparse.Namespace(dest=str(d), answers=None))
    assert got.port("key") == 15123 and got.data["region"] == "Saved"
    assert got.password("admin") == ans.password("admin")
    assert "saved answers" in capsys.readouterr().out
    # An explicit --answers file is what changes them.
    other = tmp_path / "new.yaml"
    other.write_text("region: Other\n")
    got = load_for_install(argparse.Namespace(dest=str(d), answers=str(other)))
    assert got.data["region"] == "Other" and got.port("key") == 5000
