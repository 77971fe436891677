"""A second real stack, for the lifecycle: a git source, a second install
refused while one runs, an install killed halfway that resumes, unstack, up,
clean."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import psutil
import pytest

from .conftest import stack_processes, stacktui, teardown_stack, write_answers

pytestmark = pytest.mark.e2e

PLACEMENT_VERSION = "16.0.0"


def make_git_repo(root: Path) -> Path:
    """A git repository of openstack-placement built here from its PyPI sdist
    (the OpenStack git servers are out of reach; the GIT_BASE habit is what
    is tested, not where the repository lives)."""
    pip = [sys.executable, "-m", "pip"]
    if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
        pip = ["pip3"]      # a venv made by uv has no pip of its own
    subprocess.run([*pip, "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(root),
                    f"openstack-placement=={PLACEMENT_VERSION}"], check=True, capture_output=True)
    tgz = next(root.glob("openstack_placement-*.tar.gz"))
    with tarfile.open(tgz) as t:
        t.extractall(root, filter="data")
    src = next(p for p in root.iterdir() if p.is_dir() and p.name.startswith("openstack"))
    repo = root / "placement-git"
    src.rename(repo)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    for cmd in (["git", "init", "-q", "-b", "stacktui-test"], ["git", "add", "-A"],
                ["git", "commit", "-q", "-m", "placement from sdist"],
                ["git", "tag", "-a", "-m", PLACEMENT_VERSION, PLACEMENT_VERSION]):
        subprocess.run(cmd, cwd=repo, check=True, env=env, capture_output=True)
    return repo


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    root = tmp_path_factory.mktemp("life")
    dest = root / "dest"
    repo = make_git_repo(root)
    answers = write_answers(root, dest, sources={
        "openstack-placement": {"git": f"file://{repo}", "branch": "stacktui-test"}})
    try:
        yield {"root": root, "dest": dest, "answers": answers, "repo": repo}
    finally:
        teardown_stack(dest)


def _steps_run(stdout: str) -> list[str]:
    return [l.split("]")[1].split()[0] for l in stdout.splitlines()
            if l.startswith("[") and "done before" not in l]


def test_killed_install_resumes_and_a_second_install_is_refused(lifecycle):
    dest, answers = lifecycle["dest"], lifecycle["answers"]
    log = dest / "logs" / "stack.log"
    first = subprocess.Popen([sys.executable, "-m", "stacktui.cli", "install", "--answers",
                              str(answers), "--yes"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, text=True)
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            if log.exists() and "==== accounts:keystone" in log.read_text(errors="replace"):
                break
            assert first.poll() is None, first.stdout.read()
            time.sleep(0.2)
        else:
            pytest.fail("the install never reached accounts:keystone")
        second = stacktui("install", "--answers", answers, "--yes", check=False)
        assert second.returncode == 1
        assert "another stacktui install is running" in second.stderr
        assert f"pid {first.pid}" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    state = json.loads((dest / "stacktui-state.json").read_text())["steps"]
    done = {step for step, s in state.items() if s["status"] == "done"}
    assert {"install", "init:keystone", "start:keystone"} <= done
    r = stacktui("install", "--answers", answers, "--yes")
    ran = _steps_run(r.stdout)
    # Steps run side by side, so glance's and placement's may or may not have
    # finished when the kill came: whatever had is not run again, and every
    # other step (keystone's accounts, cut short, among them) runs now.
    assert "accounts:keystone" in ran or "accounts:keystone" in done, ran
    redone = set(ran) & done - {"preflight", "verify", "summary"}
    assert not redone, f"done before the kill, yet run again: {sorted(redone)}"
    after = json.loads((dest / "stacktui-state.json").read_text())["steps"]
    assert set(after) - done <= set(ran), sorted(set(after) - done - set(ran))
    assert "stacktui completed" in r.stdout


def test_git_source_installed_from_the_local_repository(lifecycle):
    dest, repo = lifecycle["dest"], lifecycle["repo"]
    direct = list((dest / "venv" / "lib").glob("python3*/site-packages/openstack_placement-*"
                                               ".dist-info/direct_url.json"))
    assert direct, "placement was not installed from a direct (git) URL"
    info = json.loads(direct[0].read_text())
    assert info["url"] == f"file://{repo}" and info["vcs_info"]["vcs"] == "git"
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                            text=True).stdout.strip()
    assert info["vcs_info"]["commit_id"] == commit
    st = json.loads(stacktui("--dest", dest, "status", "--json").stdout)
    assert {p["name"]: p["state"] for p in st["panes"]}["placement-api"] == "running"


def _pane_pids(dest) -> list[int]:
    st = json.loads(stacktui("--dest", dest, "status", "--json").stdout)
    pids = []
    for p in st["panes"]:
        if p.get("pid"):
            pids.append(p["pid"])
            try:
                pids += [c.pid for c in psutil.Process(p["pid"]).children(recursive=True)]
            except psutil.Error:
                pass
    return pids


def test_unstack_stops_every_service_and_up_brings_them_back(lifecycle):
    dest = lifecycle["dest"]
    pids = _pane_pids(dest)
    assert len(pids) >= 3
    stacktui("--dest", dest, "unstack")
    time.sleep(0.5)
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    st = json.loads(stacktui("--dest", dest, "status", "--json").stdout)
    assert {p["state"] for p in st["panes"]} == {"stopped"}

    # A simulated reboot: every process of the stack gone, DEST/run cleared.
    stacktui("--dest", dest, "unstack", "--all")
    assert stack_processes(dest) == []
    for f in (dest / "run").iterdir():
        f.unlink()
    r = stacktui("--dest", dest, "up")
    assert "is up" in r.stdout
    st = json.loads(stacktui("--dest", dest, "status", "--json").stdout)
    assert {p["state"] for p in st["panes"]} == {"running"}
    exe = dest / "venv" / "bin" / "openstack"
    t = subprocess.run([str(exe), "--os-cloud", "devstack-admin", "token", "issue"], capture_output=True,
                       text=True, env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(dest / "clouds.yaml")},
                       timeout=60)
    assert t.returncode == 0, t.stderr


def test_clean_removes_the_stack_and_nothing_else(lifecycle):
    dest = lifecycle["dest"]
    mine = dest / "my-notes.txt"          # a user's own file in DEST survives
    mine.write_text("keep me")
    stacktui("--dest", dest, "clean", "--yes")
    assert stack_processes(dest) == []
    assert sorted(p.name for p in dest.iterdir()) == ["my-notes.txt"]
    assert lifecycle["answers"].exists()
