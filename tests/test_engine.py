"""The engine's plan, batching, lock and state file, without services."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from stacktui import answers, engine
from stacktui.errors import StackError


def plan(**over):
    a = answers.load(None, dest="/tmp/stacktui-plan-test", overrides={"host_ip": "127.0.0.1", **over})
    steps = engine.plan_steps(a)
    return [s.id for s in steps], engine.step_needs(steps)


def test_minimal_plan_follows_stack_sh_order():
    flat, _ = plan()
    assert flat[:4] == ["preflight", "prerequisites", "database", "install"]
    assert flat.index("configure:placement") < flat.index("post-config") < flat.index("init:keystone")
    # keystone first, then every account, then the other services (DevStack's order)
    assert flat.index("start:keystone") < flat.index("accounts:keystone") < \
        flat.index("accounts:glance") < flat.index("start:glance")
    assert flat[-2:] == ["verify", "summary"]


def after(needs, step):
    """Every step that must be done before ``step``, transitively."""
    out, todo = set(), list(needs[step])
    while todo:
        s = todo.pop()
        if s not in out:
            out.add(s)
            todo += needs[s]
    return out


def test_steps_wait_only_for_what_they_need():
    flat, needs = plan()
    # the db syncs run side by side, after the merged config exists
    for m in ("keystone", "glance", "placement"):
        assert after(needs, f"init:{m}") == {"preflight", "prerequisites", "database", "install",
                                             "configure:keystone", "configure:glance",
                                             "configure:placement", "post-config"}
    # keystone starts once its own sync is done, not the others'
    assert "init:glance" not in after(needs, "start:keystone")
    # placement starts without waiting for keystone; its accounts need keystone's
    assert not {"start:keystone", "accounts:placement"} & after(needs, "start:placement")
    assert {"start:keystone", "accounts:keystone"} <= after(needs, "accounts:glance")
    # glance registers the default image through its own API once it is up
    # (DevStack's upload_image), so its start waits for its accounts
    assert "accounts:glance" in after(needs, "start:glance")
    assert set(flat) - {"verify", "summary"} == after(needs, "verify")


def test_infrastructure_and_api_hooks_come_first():
    flat, needs = plan(database="mysql", enabled_services=[
        "mysql", "rabbit", "key", "g-api", "placement-api", "n-api", "n-cond", "n-sch", "n-cpu"])
    # a db sync needs the database server, not the queue, which boots beside it
    assert {"init:mysql", "start:mysql", "accounts:mysql"} <= after(needs, "init:keystone")
    assert "start:rabbit" not in after(needs, "init:keystone")
    assert {"start:rabbit", "accounts:rabbit"} <= after(needs, "start:keystone")
    assert {"start:rabbit", "accounts:rabbit"} <= after(needs, "start:nova")
    # nova's after_start makes flavors through its own API: its accounts first
    assert {"accounts:nova", "start:placement", "start:glance"} <= after(needs, "start:nova")


def test_infrastructure_boots_side_by_side_and_the_long_chains_go_first():
    flat, needs = plan(database="mysql", profile="devstack")
    # the queue, libvirt and etcd boot beside the database, not after it
    for m in ("rabbit", "libvirt", "etcd3"):
        assert not {s for s in after(needs, f"start:{m}") if s.endswith(":mysql")} - {"configure:mysql"}
    steps = engine.plan_steps(answers.load(None, dest="/tmp/stacktui-plan-test", overrides={
        "host_ip": "127.0.0.1", "database": "mysql", "profile": "devstack"}))
    depth = engine.chain_lengths(steps, needs)
    # keystone's sync and start, then neutron's and nova's syncs, before the
    # dashboard's static files and tempest's venv, which nothing waits for
    assert depth["init:keystone"] > depth["init:neutron"] >= depth["init:nova"] > \
        depth["init:horizon"]
    assert depth["start:keystone"] > depth["init:tempest"]
    assert depth["start:neutron"] > depth["start:nova"] > depth["verify"]


def test_state_file_is_written_atomically_private(tmp_path):
    st = engine.StateFile(tmp_path / "state.json")
    st.record("install", status="done", fp="abc")
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    again = engine.StateFile(tmp_path / "state.json")
    assert again.fp("install") == "abc"
    again.record("install", status="failed", fp="abc")
    assert engine.StateFile(tmp_path / "state.json").fp("install") is None
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_lock_refuses_a_second_holder_with_its_pid(tmp_path):
    lock = tmp_path / ".stacktui.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, %r)\n"
        "from stacktui.engine import StackLock\n"
        "from pathlib import Path\n"
        "with StackLock(Path(%r)):\n"
        "    print('held', flush=True); time.sleep(30)\n") % (os.getcwd(), str(lock))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StackError, match=f"another stacktui install is running.*pid {holder.pid}"):
            with engine.StackLock(lock):
                pass
    finally:
        holder.kill()
        holder.wait()
    with engine.StackLock(lock):       # free again once the holder is gone
        pass


def test_fingerprints_hide_passwords(tmp_path):
    a = answers.load(None, dest=str(tmp_path / "d"), overrides={"host_ip": "127.0.0.1"})
    eng = engine.Engine(a)
    key = eng._key()
    step = engine.Step("configure", "keystone")
    ctx = engine.Context(a, eng.layout, eng.bus, runner=None).for_step(step)
    fp = eng._fingerprint(key, step, [], ctx)
    assert all(pw not in fp for pw in a.secret_values)
    a.data["passwords"]["service"] = "changed"
    assert eng._fingerprint(key, step, [], ctx) != fp
    blob = json.dumps(engine.default_inputs(a, "keystone"), default=str)
    assert "changed" in blob      # the input holds it; only the HMAC is stored


def test_panes_no_longer_in_the_stack_are_stopped_and_dropped():
    """A real supervisor runs a pane the answers no longer ask for (nova's
    no-network stand-in, say): the next install stops it before anything
    starts and takes it out of panes.json; the panes it wants are kept."""
    import tempfile
    from pathlib import Path

    import psutil
    from stacktui.client import Client

    dest = Path(tempfile.mkdtemp(prefix="stp-", dir="/tmp"))   # a short socket path
    a = answers.load(None, dest=str(dest), overrides={"host_ip": "127.0.0.1"})
    eng = engine.Engine(a)
    for d in (eng.layout.etc, eng.layout.logs, eng.layout.run):
        d.mkdir(parents=True, exist_ok=True)
    ctx = engine.Context(a, eng.layout, eng.bus, runner=None)
    try:
        stale = engine.pane_spec(ctx, "no-network", ["sleep", "300"])
        kept = engine.pane_spec(ctx, "key", ["sleep", "300"])
        engine.write_panes(ctx, [stale, kept])
        ctx.client.start(["no-network", "key"])
        pids = {p["name"]: p["pid"] for p in ctx.client.status()}
        assert engine.prune_panes(ctx) == ["no-network"]
        assert not psutil.pid_exists(pids["no-network"]) or \
            psutil.Process(pids["no-network"]).status() == psutil.STATUS_ZOMBIE
        assert [s["name"] for s in json.loads(eng.layout.panes_file.read_text())] == ["key"]
        status = {p["name"]: p for p in ctx.client.status()}
        assert set(status) == {"key"} and status["key"]["pid"] == pids["key"]
        assert engine.prune_panes(ctx) == []
    finally:
        Client(eng.layout).shutdown()
        import shutil
        shutil.rmtree(dest, ignore_errors=True)
