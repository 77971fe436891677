"""`stacktui up` starts modules side by side in the install's order
(stacktui/bringup.py): the plan for DevStack's default cloud, and the start
itself on a real supervisor whose panes are http.server processes that take
a while to answer."""

from __future__ import annotations

import os

import sys
import time

import pytest
import yaml

from stacktui import answers as answers_mod
from stacktui import bringup, events
from stacktui.engine import Context, service_specs
from stacktui.errors import StackError
from stacktui.masking import Masker
from stacktui.paths import Layout
from stacktui.runner import Runner
from tests.test_supervisor import free_port, stack  # noqa: F401 - the fixture


def devstack_ctx(tmp_path, **extra):
    path = tmp_path / "stacktui.yaml"
    path.write_text(yaml.safe_dump({"dest": str(tmp_path / "dest"), "host_ip": "127.0.0.1",
                                    "database": "mysql", "profile": "devstack", **extra}))
    ans = answers_mod.load(path)
    runner = Runner(tmp_path / "log", Masker(ans.secret_values))
    return Context(ans, Layout(ans.dest), events.Bus(), runner)


def _host_links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def test_the_plan_for_devstacks_cloud_follows_the_install_order(tmp_path):
    ctx = devstack_ctx(tmp_path, virt_driver="fake")
    links = _host_links()
    known = [p["name"] for s in service_specs(ctx.answers) if s.panes for p in s.panes(ctx)]
    groups = bringup.plan(ctx, known)
    # Listing panes makes nothing on the host: OVN's listing once made the
    # stack's namespace and link, which outlived the test and claimed the
    # floating range from the next stack.
    assert _host_links() == links
    assert sorted(n for g in groups.values() for n in g.panes) == sorted(known)
    owner = {n: m for m, g in groups.items() for n in g.panes}
    early = {owner[n] for n in ("mysql", "rabbit", "memcached", "etcd3") if n in owner}
    for m in early:
        assert not groups[m].after, (m, groups[m].after)
    nova, neutron, ovn = owner["n-api"], owner["q-svc"], owner["ovsdb-server"]
    # What nova's services need running, and DevStack's neutron before nova.
    assert {owner["placement-api"], owner["g-api"], neutron} | early <= groups[nova].after
    assert ovn in groups[neutron].after
    # Nothing waits for keystone to start: services ask it only on a request.
    assert all(owner["key"] not in g.after for g in groups.values())
    # ... but the checks that a module serves go through it.
    assert groups[nova].serving and groups[nova].serving_after == {owner["key"]}
    # Independent modules start side by side: not one chain through them all.
    assert owner["key"] not in groups[owner["c-api"]].after
    assert owner["c-api"] not in groups[nova].after and nova not in groups[owner["c-api"]].after


def test_a_pane_no_module_claims_starts_last(tmp_path):
    ctx = devstack_ctx(tmp_path, virt_driver="fake")
    groups = bringup.plan(ctx, ["mysql", "leftover"])
    assert groups["(other)"].panes == ["leftover"]
    assert groups["(other)"].after == {"mysql"}


def slow_web(stack, name: str, delay: float) -> int:
    port = free_port()
    stack.pane(name, [sys.executable, "-c",
                      f"import time, http.server; time.sleep({delay}); "
                      f"http.server.HTTPServer(('127.0.0.1', {port}), "
                      f"http.server.SimpleHTTPRequestHandler).serve_forever()"],
               ready={"http": f"http://127.0.0.1:{port}/"}, port=port)
    return port


def test_independent_groups_start_together_and_dependents_wait(stack):  # noqa: F811
    for name in ("db", "api1", "api2", "api3", "late"):
        slow_web(stack, name, 1.5)
    c = stack.client
    c.reload()
    groups = {"db": bringup.Group("db", ["db"]),
              "apis": bringup.Group("apis", ["api1", "api2"], {"db"}),
              "other": bringup.Group("other", ["api3"], {"db"}),
              "late": bringup.Group("late", ["late"], {"apis", "other"})}
    said = []
    t0 = time.monotonic()
    bringup.bring_up(c, groups, said.append)
    took = time.monotonic() - t0
    st = {p["name"]: p for p in c.status()}
    assert all(p["state"] == "running" for p in st.values()), st
    # db, then api1-3 together, then late (times from the supervisor: the
    # load on a shared machine makes the total a poor measure).
    started = {n: st[n]["started_at"] for n in st}
    assert said.index("db: running") < min(said.index(f"api{i}: running") for i in (1, 2, 3))
    assert said[-1] == "late: running"
    assert started["api1"] - started["db"] >= 1.4
    assert abs(started["api1"] - started["api3"]) < 1.0
    assert started["late"] - max(started["api1"], started["api3"]) >= 1.4
    assert took < 5 * 1.5 + 2 * (started["api1"] - started["db"]), took


def test_a_failed_group_stops_what_waits_on_it(stack):  # noqa: F811
    slow_web(stack, "ok", 0.2)
    stack.pane("dies", [sys.executable, "-c", "import sys; print('cannot bind'); sys.exit(3)"],
               ready={"tcp": ["127.0.0.1", free_port()]})
    slow_web(stack, "after", 0.2)
    c = stack.client
    c.reload()
    groups = {"a": bringup.Group("a", ["dies"]), "b": bringup.Group("b", ["after"], {"a"}),
              "c": bringup.Group("c", ["ok"])}
    with pytest.raises(StackError, match="exited with code 3"):
        bringup.bring_up(c, groups, lambda line: None)
    st = {p["name"]: p["state"] for p in c.status()}
    assert st["ok"] == "running" and st["after"] not in ("running", "starting"), st


def test_a_serving_check_runs_once_keystone_answers(stack):  # noqa: F811
    slow_web(stack, "key", 1.0)
    slow_web(stack, "n-cpu", 0.1)
    c = stack.client
    c.reload()
    seen = {}

    def serving():
        seen["key"] = next(p["state"] for p in c.status() if p["name"] == "key")
        return "nova: serving"

    groups = {"keystone": bringup.Group("keystone", ["key"]),
              "nova": bringup.Group("nova", ["n-cpu"], serving=serving,
                                    serving_after={"keystone"})}
    said = []
    bringup.bring_up(c, groups, said.append)
    assert seen["key"] == "running" and said[-1] == "nova: serving"
    assert said.index("n-cpu: running") < said.index("key: running")
