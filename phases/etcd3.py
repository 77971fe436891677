"""etcd (`etcd3`): DevStack's coordination store, Debian's etcd-server in a
pane. One member cluster on HOST_IP, as DevStack's lib/etcd3 starts it:
clients on the catalog port, the peer port beside it, data under
DEST/data/etcd. Cinder takes it as its tooz coordination backend when both
run (phases/cinder.py), as DevStack's lib/cinder does."""

from __future__ import annotations

import shutil
import socket

from stacktui import svckit
from stacktui.fsutil import make_dirs
from stacktui.service import ServiceSpec, pane_spec

SERVICES = ("etcd3",)
# etcd-client brings etcdctl: what a person (and the test) checks it with.
PACKAGES = ("etcd-server", "etcd-client")


def peer_port(answers) -> int:
    """DevStack's ETCD_PEER_PORT is 2380 beside ETCD_PORT 2379; a moved
    client port takes the peer port along so two stacks never share one."""
    return answers.port("etcd3") + 1


def client_url(answers) -> str:
    return f"http://{answers.url_host()}:{answers.port('etcd3')}"


def backend_url(answers) -> str:
    """tooz's URL for this etcd (its etcd3gw driver, over etcd's gRPC gateway)."""
    return f"etcd3+{client_url(answers)}"


def _data(layout):
    return layout.data / "etcd"


def panes(ctx) -> list[dict]:
    exe = svckit.distro_program("etcd", "Debian's etcd-server")
    a = ctx.answers
    # etcd refuses to start on a data folder others can read.
    make_dirs(_data(ctx.layout), mode=0o700)
    peer = f"http://{a.url_host()}:{peer_port(a)}"
    name = socket.gethostname() or "stack"
    argv = [exe, "--name", name, "--data-dir", _data(ctx.layout),
            "--initial-cluster-state", "new", "--initial-cluster-token", "etcd-cluster-01",
            "--initial-cluster", f"{name}={peer}", "--initial-advertise-peer-urls", peer,
            "--listen-peer-urls", peer,
            "--advertise-client-urls", client_url(a), "--listen-client-urls", client_url(a)]
    return [pane_spec(ctx, "etcd3", argv, ready={"http": client_url(a) + "/health"},
                      port=a.port("etcd3"), infra=True)]


def cleanup(ctx):
    shutil.rmtree(_data(ctx.layout), ignore_errors=True)


SPEC = ServiceSpec(
    "etcd3", SERVICES, panes=panes, inputs=svckit.listen_inputs("etcd3"), cleanup=cleanup,
    start_early=True, ports_beside=lambda a: {"etcd's peer": peer_port(a)},
    packages=PACKAGES, port_vars={"etcd3": "ETCD_PORT"},
    kolla_flags={"etcd3": ("enable_etcd",)})
