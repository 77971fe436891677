"""etcd3 as stacktui runs it: Debian's etcd in a pane of a throwaway DEST (no
venv, no OpenStack: a few seconds), used with etcdctl and through the HTTP
gateway tooz's etcd3gw driver speaks; cinder.conf names it as its
coordination backend when both are enabled."""

from __future__ import annotations

import base64
import configparser
import json
import os
import subprocess
import urllib.request

import pytest
import yaml

from stacktui import answers as answers_mod
from stacktui import events, inifile
from stacktui.engine import Context, Step, start_panes
from stacktui.masking import Masker
from stacktui.paths import Layout
from stacktui.runner import Runner
from tests.conftest import assert_none_left, free_ports


def _ctx(root, services, port):
    dest = root / "dest"
    path = root / "stacktui.yaml"
    path.write_text(yaml.safe_dump({
        "dest": str(dest), "host_ip": "127.0.0.1", "enabled_services": services,
        "ports": {"etcd3": port}, "passwords": {"admin": "a", "service": "s", "database": "d",
                                                 "rabbit": "r"}}))
    ans = answers_mod.load(path)
    layout = Layout(ans.dest)
    for d in (layout.etc, layout.logs, layout.data, layout.run):
        d.mkdir(parents=True, exist_ok=True)
    answers_mod.save(ans, layout.answers_file)
    return Context(ans, layout, events.Bus(), Runner(layout.stack_log, Masker(ans.secret_values)))


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    root = tmp_path_factory.mktemp("etcd")
    # Two free ports side by side: the client port and the peer port beside it.
    port = next(p for p in free_ports(8) if not _busy(p + 1))
    ctx = _ctx(root, ["etcd3"], port)
    from stacktui.phases import etcd3, prerequisites
    try:
        # A fresh machine has no etcd-server yet: the prerequisites step installs it.
        ctx.step = Step("prerequisites")
        prerequisites.run(ctx)
        ctx.step = Step("start", "etcd3")
        start_panes(ctx, etcd3.SPEC)
        yield ctx
    finally:
        try:
            ctx.client.shutdown(stop_panes=True)
        finally:
            ctx.runner.close()
        dest = ctx.layout.dest
        assert_none_left(dest)


def _busy(port: int) -> bool:
    import socket
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_etcdctl_put_get_on_host_ip(etcd):
    a = etcd.answers
    url = f"http://127.0.0.1:{a.port('etcd3')}"
    env = {**os.environ, "ETCDCTL_API": "3"}
    put = subprocess.run(["etcdctl", "--endpoints", url, "put", "stacktui/key", "värde 1"],
                         env=env, capture_output=True, text=True, timeout=20)
    assert put.returncode == 0, put.stderr
    got = subprocess.run(["etcdctl", "--endpoints", url, "get", "--print-value-only", "stacktui/key"],
                         env=env, capture_output=True, text=True, timeout=20)
    assert got.stdout.strip() == "värde 1", got.stderr
    # Its data is under DEST, and the peer port is the one beside the client port.
    assert any((etcd.layout.data / "etcd").rglob("*.wal"))
    assert _busy(a.port("etcd3") + 1)


def test_gateway_tooz_speaks(etcd):
    """etcd3gw (tooz's etcd3+http driver) uses etcd's JSON gateway, not gRPC."""
    url = f"http://127.0.0.1:{etcd.answers.port('etcd3')}/v3/kv/range"
    body = json.dumps({"key": base64.b64encode(b"stacktui/key").decode()}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, body, method="POST"), timeout=10) as r:
        kvs = json.load(r)["kvs"]
    assert base64.b64decode(kvs[0]["value"]).decode() == "värde 1"


@pytest.mark.parametrize("services,want", [
    (["etcd3", "mysql", "rabbit", "key", "c-api", "c-sch", "c-vol"], "etcd3+http://127.0.0.1:{port}"),
    (["mysql", "rabbit", "key", "c-api", "c-sch", "c-vol"], "file://"),
])
def test_cinder_coordination_backend(tmp_path, services, want):
    from stacktui.phases import cinder
    port = free_ports(1)[0]
    ctx = _ctx(tmp_path, services, port)
    inifile.write(cinder._conf(ctx.layout), cinder.config(ctx))
    conf = configparser.RawConfigParser()
    conf.read(cinder._conf(ctx.layout))
    assert conf["coordination"]["backend_url"].startswith(want.format(port=port))
    assert ("etcd3" in cinder.inputs(ctx.answers, "configure")["ports"]) == ("etcd3" in services)
