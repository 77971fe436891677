"""The minimal cloud, installed for real by the CLI and checked from outside:
python-openstackclient from the stack's venv, and plain HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest
import yaml

from .conftest import stack_processes, stacktui

pytestmark = pytest.mark.e2e


def osc(stack, *args) -> str:
    exe = Path(stack["dest"]) / "venv" / "bin" / "openstack"
    r = subprocess.run([str(exe), "--os-cloud", "devstack-admin", *args], capture_output=True,
                       text=True, env=stack["env"], timeout=120)
    assert r.returncode == 0, f"openstack {' '.join(args)}: {r.stderr}"
    return r.stdout


def test_install_printed_a_summary(minimal_stack):
    out = minimal_stack["install_output"]
    assert "Keystone identity API" in out and "stacktui completed in" in out
    assert "devstack-admin" in out


def test_token_catalog_image_placement_from_outside(minimal_stack, tmp_path):
    token = json.loads(osc(minimal_stack, "token", "issue", "-f", "json"))
    assert token["id"] and token["project_id"]
    endpoints = json.loads(osc(minimal_stack, "endpoint", "list", "-f", "json"))
    types = {(e["Service Type"], e["Interface"]) for e in endpoints}
    for t in ("identity", "image", "placement"):
        assert {(t, "public"), (t, "internal"), (t, "admin")} <= types, types
    ports = minimal_stack["ports"]
    urls = {e["Service Type"]: e["URL"] for e in endpoints}
    assert urls["image"] == f"http://127.0.0.1:{ports['g-api']}"
    assert urls["placement"] == f"http://127.0.0.1:{ports['placement-api']}"

    # An image uploads and downloads with the same checksum.
    src = tmp_path / "disk.raw"
    src.write_bytes(os.urandom(1024 * 1024 + 17))
    img = json.loads(osc(minimal_stack, "image", "create", "--disk-format", "raw",
                         "--container-format", "bare", "--file", str(src), "-f", "json", "e2e-img"))
    back = tmp_path / "back.raw"
    osc(minimal_stack, "image", "save", "--file", str(back), img["id"])
    assert hashlib.sha256(back.read_bytes()).hexdigest() == hashlib.sha256(src.read_bytes()).hexdigest()
    osc(minimal_stack, "image", "delete", img["id"])

    # Placement answers with a token from keystone (no osc-placement plugin in the venv).
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                        f"X-Auth-Token: {token['id']}", "-H", "OpenStack-API-Version: placement 1.39",
                        f"http://127.0.0.1:{ports['placement-api']}/resource_providers"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout == "200"


def test_glance_metadata_definitions_loaded(minimal_stack):
    """init loads the metadefs the glance wheel ships, as DevStack's
    init_glance does (Horizon's "Update Metadata", tempest's metadefs tests)."""
    rows = json.loads(osc(minimal_stack, "image", "metadef", "namespace", "list", "-f", "json"))
    names = {v for row in rows for k, v in row.items() if k.lower() == "namespace"}
    assert len(names) >= 20, rows
    assert {"OS::Compute::Libvirt", "OS::Glance::CommonImageProperties"} <= names, names
    types = json.loads(osc(minimal_stack, "image", "metadef", "resource", "type", "list",
                           "-f", "json"))
    assert any("OS::Glance::Image" in json.dumps(t) for t in types), types


def test_demo_cloud_and_openrc_work(minimal_stack):
    env = {**minimal_stack["env"]}
    exe = Path(minimal_stack["dest"]) / "venv" / "bin" / "openstack"
    r = subprocess.run([str(exe), "--os-cloud", "devstack", "token", "issue", "-f", "value", "-c",
                        "project_id"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    openrc = Path(minimal_stack["dest"]) / "openrc"
    r = subprocess.run(["bash", "-c", f'source "{openrc}" admin && "{exe}" token issue -f value -c id'],
                       capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if not k.startswith("OS_")})
    assert r.returncode == 0 and r.stdout.strip(), r.stderr


def test_status_json_lists_every_pane(minimal_stack):
    r = stacktui("--dest", minimal_stack["dest"], "status", "--json")
    panes = {p["name"]: p for p in json.loads(r.stdout)["panes"]}
    assert set(panes) == {"key", "g-api", "placement-api"}
    for name, p in panes.items():
        assert p["state"] == "running" and p["pid"] and p["rss"] > 0
        assert p["port"] == minimal_stack["ports"][name]


def test_rerun_is_a_noop(minimal_stack):
    dest = minimal_stack["dest"]
    pids = {p["name"]: p["pid"] for p in json.loads(
        stacktui("--dest", dest, "status", "--json").stdout)["panes"]}
    r = stacktui("install", "--answers", minimal_stack["answers"], "--yes", "--verbose")
    ran = [l for l in r.stdout.splitlines() if l.startswith("[") and "done before" not in l]
    assert ran == [], ran
    after = {p["name"]: p["pid"] for p in json.loads(
        stacktui("--dest", dest, "status", "--json").stdout)["panes"]}
    assert after == pids


def test_sigkill_shows_killed_and_restart_brings_it_back(minimal_stack):
    dest = minimal_stack["dest"]
    panes = {p["name"]: p for p in json.loads(stacktui("--dest", dest, "status", "--json").stdout)["panes"]}
    old = panes["placement-api"]["pid"]
    os.kill(old, signal.SIGKILL)
    deadline = time.time() + 15
    while time.time() < deadline:
        p = {p["name"]: p for p in json.loads(stacktui("--dest", dest, "status", "--json").stdout)["panes"]}
        if p["placement-api"]["state"] != "running":
            break
        time.sleep(0.3)
    assert p["placement-api"]["state"] == "killed"
    assert "SIGKILL" in p["placement-api"]["cause"]
    stacktui("--dest", dest, "restart", "placement")     # the group name works too
    p = {p["name"]: p for p in json.loads(stacktui("--dest", dest, "status", "--json").stdout)["panes"]}
    assert p["placement-api"]["state"] == "running" and p["placement-api"]["pid"] != old
    assert p["placement-api"]["restarts"] >= 1
    assert not psutil.pid_exists(old) or psutil.Process(old).status() == psutil.STATUS_ZOMBIE


def test_answer_change_redoes_only_what_it_touches(minimal_stack):
    dest, answers = minimal_stack["dest"], minimal_stack["answers"]
    from .conftest import free_port
    before = {p["name"]: p["pid"] for p in json.loads(
        stacktui("--dest", dest, "status", "--json").stdout)["panes"]}
    data = yaml.safe_load(answers.read_text())
    data["ports"]["g-api"] = free_port()
    answers.write_text(yaml.safe_dump(data, allow_unicode=True))
    r = stacktui("install", "--answers", answers, "--yes")
    ran = {l.split("]")[1].split()[0] for l in r.stdout.splitlines() if l.startswith("[")}
    assert ran == {"preflight", "configure:glance", "init:glance", "post-config", "start:glance",
                   "accounts:glance", "verify", "summary"}, ran
    after = {p["name"]: p["pid"] for p in json.loads(
        stacktui("--dest", dest, "status", "--json").stdout)["panes"]}
    assert after["key"] == before["key"] and after["placement-api"] == before["placement-api"]
    assert after["g-api"] != before["g-api"]
    endpoints = json.loads(osc(minimal_stack, "endpoint", "list", "--service", "image", "-f", "json"))
    assert {e["URL"] for e in endpoints} == {f"http://127.0.0.1:{data['ports']['g-api']}"}
    minimal_stack["ports"] = data["ports"]


def _forms(pw: str) -> set[str]:
    return {pw, quote(pw, safe=""), quote(pw)}


def test_no_password_in_logs_state_panes_or_command_lines(minimal_stack):
    dest = Path(minimal_stack["dest"])
    secrets = minimal_stack["passwords"]
    files = list((dest / "logs").glob("*.log*")) + [dest / "stacktui-state.json",
                                                     dest / "etc" / "stacktui" / "panes.json",
                                                     dest / "etc" / "stacktui" / "stacktui.yaml"]
    assert len(files) >= 6
    for f in files:
        text = f.read_text(errors="replace")
        for name, pw in secrets.items():
            for form in _forms(pw):
                assert form not in text, f"{name} password found in {f}"
    for name in ("key", "g-api", "placement-api"):
        out = stacktui("--dest", dest, "logs", name, "-n", "500").stdout
        assert out.strip()
        for pw in secrets.values():
            assert pw not in out
    procs = stack_processes(dest)
    assert procs
    for p in procs:
        cmd = " ".join(p.cmdline())
        for pw in secrets.values():
            assert pw not in cmd, f"password on the command line of pid {p.pid}"


def test_secret_files_are_private(minimal_stack):
    dest = Path(minimal_stack["dest"])
    for f in (dest / "etc" / "stacktui" / "secrets.yaml", dest / "openrc", dest / "clouds.yaml"):
        assert (f.stat().st_mode & 0o777) == 0o600, f
    for f in (dest / "etc" / "keystone" / "keystone.conf", dest / "etc" / "glance" / "glance-api.conf",
              dest / "etc" / "placement" / "placement.conf"):
        assert (f.stat().st_mode & 0o007) == 0, f"{f} is world-readable"
    # The service password reaches the config exactly, quoted for oslo.config.
    from stacktui import inifile
    conf = inifile.read(dest / "etc" / "glance" / "glance-api.conf")
    assert inifile.unquote_value(conf.get("keystone_authtoken", "password")) == \
        minimal_stack["passwords"]["service"]


def test_openstacksdk_authenticates_with_the_clouds_yaml(minimal_stack, monkeypatch):
    import openstack
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(Path(minimal_stack["dest"]) / "clouds.yaml"))
    for cloud in ("devstack", "devstack-admin"):
        conn = openstack.connect(cloud=cloud)
        assert conn.authorize()
        list(conn.image.images())
        conn.close()
    conn = openstack.connect(cloud="devstack-system-admin")
    assert conn.authorize()
    conn.close()


def test_post_config_changes_the_running_service(minimal_stack):
    """local.conf's [[post-config|$KEYSTONE_CONF]] habit: a token lifetime set
    in the answers is the lifetime of the tokens keystone issues."""
    from datetime import datetime
    answers = minimal_stack["answers"]
    data = yaml.safe_load(answers.read_text())
    data["post_config"] = {"$KEYSTONE_CONF": {"token": {"expiration": 777}}}
    answers.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        stacktui("install", "--answers", answers, "--yes")
        tok = json.loads(osc(minimal_stack, "token", "issue", "-f", "json"))
        expires = datetime.fromisoformat(tok["expires"].replace("Z", "+00:00"))
        now = datetime.now(expires.tzinfo)
        assert 700 < (expires - now).total_seconds() <= 777
    finally:
        data["post_config"] = {}
        answers.write_text(yaml.safe_dump(data, allow_unicode=True))
        stacktui("install", "--answers", answers, "--yes")
