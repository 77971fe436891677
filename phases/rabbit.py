"""RabbitMQ (`rabbit`): the message queue of nova, cinder and neutron.

A node of its own under DEST: its own name, Mnesia and cookie, its AMQP port
from the answers and distribution and epmd ports derived from it, so it
neither clashes with a system RabbitMQ nor with another stack. The pane runs
epmd in the foreground beside the broker (rabbit would otherwise start one
that daemonizes and outlives every stop) and binds it, like the Erlang
distribution, to loopback only.

The `stackrabbit` user is imported from a definitions file (0600, removed
after) holding the salted SHA-256 hash RabbitMQ stores, not the password:
rabbitmqctl's own way, reading the password from stdin, strips spaces at
both ends, so " x " would silently become "x".
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import struct
import time
from urllib.parse import quote

from stacktui.errors import StackError
from stacktui.fsutil import atomic_write, make_dirs
from stacktui.service import Password, ServiceSpec, pane_spec

SERVICES = ("rabbit",)
PACKAGES = ("rabbitmq-server",)
READY_TIMEOUT = 90
# Its accounts step needs the broker running, whatever order the engine
# gives accounts and start.
START_EARLY = True
USER = "stackrabbit"
RABBIT_LIB = "/usr/lib/rabbitmq/bin"   # the real scripts: /usr/sbin's wrapper su's to `rabbitmq`

# Starting epmd and waiting for it before the broker, in the pane itself, so
# the broker finds it and does not spawn a daemonized one of its own.
PANE_SCRIPT = ('epmd -port "$ERL_EPMD_PORT" -address "$ERL_EPMD_ADDRESS" & '
               'i=0; until epmd -names >/dev/null 2>&1; do i=$((i+1)); '
               '[ $i -gt 200 ] && { echo "epmd did not start on port $ERL_EPMD_PORT"; exit 1; }; '
               'sleep 0.05; done; exec "$0"')


def transport_url(answers) -> str:
    """oslo.messaging's URL; the password percent-encoded so any one works."""
    pw = quote(answers.password("rabbit"), safe="")
    return f"rabbit://{USER}:{pw}@{answers.url_host()}:{answers.port('rabbit')}/"


def node_port(answers) -> int:
    return answers.port("rabbit")


def dist_port(answers) -> int:
    # RabbitMQ's own rule is AMQP port + 20000, which overflows for high ports.
    p = node_port(answers)
    return p + 20000 if p + 20000 <= 65535 else p - 20000


def epmd_port(answers) -> int:
    d = dist_port(answers)
    return d + 1 if d < 65535 else d - 1


def node_name(answers) -> str:
    # @localhost: the node's host part must resolve to this machine, and
    # localhost does whatever the hostname's state.
    return f"stacktui-{node_port(answers)}@localhost"


def _dir(layout):
    return layout.data / "rabbit"


def _etc(layout):
    return layout.etc / "rabbit"


def _bin(name: str) -> str:
    p = os.path.join(RABBIT_LIB, name)
    if os.path.exists(p):
        return p
    exe = shutil.which(name)
    if not exe:
        raise StackError(f"{name} not found: the prerequisites step installs rabbitmq-server")
    return exe


def env(answers, layout) -> dict:
    """What both the broker and rabbitmqctl need to find this node."""
    etc = _etc(layout)
    return {
        "HOME": str(_dir(layout)),                       # .erlang.cookie
        "RABBITMQ_NODENAME": node_name(answers),
        "RABBITMQ_CONF_ENV_FILE": str(etc / "rabbitmq-env.conf"),
        "ERL_EPMD_PORT": str(epmd_port(answers)),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_CTL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


def server_env(answers, layout) -> dict:
    etc = _etc(layout)
    return {
        **env(answers, layout),
        "RABBITMQ_MNESIA_BASE": str(_dir(layout) / "mnesia"),
        "RABBITMQ_LOG_BASE": str(layout.logs / "rabbit"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_PID_FILE": str(layout.run / "rabbit.pid"),
        "RABBITMQ_NODE_IP_ADDRESS": answers.bind_host,
        "RABBITMQ_NODE_PORT": str(node_port(answers)),
        "RABBITMQ_DIST_PORT": str(dist_port(answers)),
        "RABBITMQ_CONFIG_FILE": str(etc / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(etc / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(etc / "enabled_plugins"),
        # One scheduler and no busy-waiting: a dev cloud's queue is idle
        # almost always, and on 2 cores spinning schedulers cost real CPU.
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1} "
                                               "+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none",
    }


def check_hostname(node: str) -> str:
    """The node name's host part must resolve to a local address (Kolla's
    precheck, the commonest RabbitMQ start failure). Returns a note."""
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo("localhost", None, socket.AF_INET)}
    except OSError as e:
        raise StackError(f"`localhost` does not resolve ({e}); RabbitMQ's node name needs it: "
                         "add `127.0.0.1 localhost` to /etc/hosts") from None
    if "127.0.0.1" not in addrs:
        raise StackError(f"`localhost` resolves to {', '.join(sorted(addrs))}, not 127.0.0.1: "
                         "fix /etc/hosts (127.0.0.1 localhost)")
    host = socket.gethostname()
    try:
        socket.getaddrinfo(host, None)
        return f"hostname {host} resolves; node {node} uses localhost"
    except OSError:
        return (f"hostname {host} does not resolve (other tools may mind: add it to /etc/hosts); "
                "the RabbitMQ node uses localhost, which does")


def check_password(answers) -> None:
    """Answers validation refuses such a password already; this catches
    answers built in code (the TUI's draft) before the services fail to start
    with a baffling port error."""
    why = password_problem(answers.password("rabbit"), answers.services)
    if why:
        raise StackError(f"the rabbit password {why}. Choose a rabbit password without `/` "
                         "(any other printable character works)")


def password_problem(password: str, services) -> str | None:
    """oslo.messaging's rabbit driver re-quotes the password with `/` left as
    is (impl_rabbit._transform_transport_url), and kombu then reads the `/`
    as the end of the host: such a password cannot reach the broker from any
    OpenStack service, whatever the URL says."""
    from stacktui import registry
    users = sorted(spec.name for spec in registry.for_services(services) if spec.messaging)
    if "/" not in password or not users:
        return None
    return (f"holds `/`, which oslo.messaging (used by {', '.join(users)}) cannot pass to "
            "RabbitMQ: it does not escape `/` in the broker URL it builds")


def inputs(answers, phase):
    return {"port": node_port(answers), "host_ip": answers.host_ip,
            "password": answers.password("rabbit") if phase == "accounts" else None}


def configure(ctx):
    L = ctx.layout
    check_password(ctx.answers)
    ctx.say("RabbitMQ: " + check_hostname(node_name(ctx.answers)))
    for d in (_etc(L), _dir(L), _dir(L) / "mnesia", L.logs / "rabbit"):
        make_dirs(d, mode=0o750)
    atomic_write(_etc(L) / "rabbitmq-env.conf", "", mode=0o640)
    atomic_write(_etc(L) / "enabled_plugins", "[].\n", mode=0o640)
    atomic_write(_etc(L) / "rabbitmq.conf", "\n".join([
        "loopback_users.guest = true",
        "log.console = true",
        "log.console.level = info",
        "log.file = false",
        "vm_memory_high_watermark.relative = 0.4",
        "disk_free_limit.absolute = 200MB",
        "",
    ]), mode=0o640)


def before_up(answers, layout):
    layout.run.mkdir(parents=True, exist_ok=True, mode=0o700)


def panes(ctx) -> list[dict]:
    a = ctx.answers
    return [pane_spec(ctx, "rabbit", ["/bin/sh", "-c", PANE_SCRIPT, _bin("rabbitmq-server")],
                      env=server_env(a, ctx.layout), ready={"tcp": [a.bind_host, node_port(a)]},
                      port=node_port(a), infra=True, stop_timeout=30)]


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode()


def definitions(password: str) -> dict:
    return {"users": [{"name": USER, "password_hash": password_hash(password),
                       "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}],
            "vhosts": [{"name": "/"}],
            "permissions": [{"user": USER, "vhost": "/", "configure": ".*", "write": ".*",
                             "read": ".*"}]}


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host.strip("[]"), port), 1):
            return True
    except OSError:
        return False


def rabbitmqctl(ctx, *args, **kw):
    a = ctx.answers
    # With no epmd on its port, rabbitmqctl starts one that daemonizes and
    # outlives everything: only talk to a node that is up.
    if not (_listening(a.bind_host, node_port(a)) and _listening("127.0.0.1", epmd_port(a))):
        raise StackError(f"RabbitMQ is not running on {a.bind_host}:{node_port(a)}: start the "
                         "rabbit pane first (`stacktui start rabbit`)")
    return ctx.run([_bin("rabbitmqctl"), "-n", node_name(ctx.answers), *args],
                   env=env(ctx.answers, ctx.layout), **kw)


def accounts(ctx):
    a = ctx.answers
    path = _etc(ctx.layout) / ".definitions.json"
    atomic_write(path, json.dumps(definitions(a.password("rabbit"))), mode=0o600)
    try:
        rabbitmqctl(ctx, "import_definitions", path, timeout=120)
    finally:
        path.unlink(missing_ok=True)
    # The import finishes asynchronously: a real login proves it landed.
    deadline = time.monotonic() + 20
    while not amqp_login(a.bind_host, node_port(a), USER, a.password("rabbit")):
        if time.monotonic() > deadline:
            raise StackError(f"RabbitMQ does not accept {USER}'s password after the import")
        time.sleep(0.3)
    # A fresh node makes `guest` with the password everyone knows; loopback
    # only, but every local user of the machine is on loopback.
    rabbitmqctl(ctx, "delete_user", "guest", timeout=60, check=False)
    if amqp_login(a.bind_host, node_port(a), "guest", "guest"):
        raise StackError("RabbitMQ still accepts guest/guest after `rabbitmqctl delete_user guest`")
    ctx.say(f"RabbitMQ: {USER} logs in on {a.bind_host}:{node_port(a)} (node {node_name(a)}); "
            f"no guest")


def amqp_login(host: str, port: int, user: str, password: str, timeout: float = 5) -> bool:
    """True when the broker accepts these credentials (AMQP 0-9-1 up to
    Connection.Tune, PLAIN): the check needs no AMQP library."""
    def read_frame(s):
        buf = b""
        while len(buf) < 7:
            chunk = s.recv(7 - len(buf))
            if not chunk:
                return None
            buf += chunk
        _type, _ch, size = struct.unpack(">BHI", buf)
        body = b""
        while len(body) < size + 1:
            chunk = s.recv(size + 1 - len(body))
            if not chunk:
                return None
            body += chunk
        return body[:-1]

    def shortstr(b: bytes) -> bytes:
        return bytes([len(b)]) + b

    try:
        with socket.create_connection((host.strip("[]"), port), timeout) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            start = read_frame(s)
            if not start or start[:4] != struct.pack(">HH", 10, 10):
                return False
            resp = b"\0" + user.encode() + b"\0" + password.encode()
            payload = (struct.pack(">HH", 10, 11) + struct.pack(">I", 0) + shortstr(b"PLAIN")
                       + struct.pack(">I", len(resp)) + resp + shortstr(b"en_US"))
            s.sendall(struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce")
            tune = read_frame(s)
            return bool(tune) and tune[:4] == struct.pack(">HH", 10, 30)
    except OSError:
        return False


def cleanup(ctx):
    for d in (_etc(ctx.layout), _dir(ctx.layout), ctx.layout.logs / "rabbit"):
        shutil.rmtree(d, ignore_errors=True)


SPEC = ServiceSpec(
    "rabbit", SERVICES, configure=configure, panes=panes, accounts=accounts,
    before_up=before_up, cleanup=cleanup, inputs=inputs,
    start_early=START_EARLY, ready_timeout=READY_TIMEOUT, packages=PACKAGES,
    kolla_flags={"rabbit": ("enable_rabbitmq",)},
    provides={"transport_url": transport_url},
    ports_beside=lambda a: {"rabbit's Erlang distribution": dist_port(a),
                            "rabbit's epmd": epmd_port(a)},
    password=Password("rabbit", "RABBIT_PASSWORD", "rabbitmq_password", password_problem,
                      "choose a rabbit password without `/`; any other printable character works"))
