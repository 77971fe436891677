"""A stacktui plugin: Barbican, the key manager (DevStack's `enable_plugin
barbican`). Three panes: barbican-api under uwsgi, barbican-keystone-listener
and barbican-worker (both on RabbitMQ; without rabbit the API stores secrets
by itself and the two are not offered). Secrets are encrypted by the
simple_crypto plugin with a KEK made from the spec's generated secret
`barbican_kek` (secrets.yaml, 0600). Its database follows the answers'
`database` (SQLite or MariaDB). It imports nothing from stacktui but the
contract (stacktui.service). With cinder it makes Barbican cinder's key
manager (config_for), as DevStack's plugin does.

Barbican reads its config only from oslo.config's default places (~/.barbican,
~, /etc/barbican, /etc): each crypto and secret-store module parses its own
config object from them, so ``--config-file`` reaches only part of it. The
panes and commands therefore run with HOME at DEST/etc/barbican, which holds
barbican.conf, barbican.conf.d/ (the KEK, 0600) and the paste file.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import time
from pathlib import Path

from stacktui.service import (IDENTITY_SERVICE, MESSAGING_SERVICE, ConfigFile, Service, ServiceSpec,
                              pane_spec)

NAME = "barbican"
API, LISTENER, WORKER = "barbican-api", "barbican-keystone-listener", "barbican-worker"
SERVICES = (API, LISTENER, WORKER)
HERE = Path(__file__).resolve().parent
KEK_FILE = "simple-crypto-kek.conf"
KEK_SECRET = "barbican_kek"


def _etc(ctx) -> Path:
    return ctx.layout.etc / NAME


def _env(ctx) -> dict:
    return {"HOME": str(_etc(ctx))}


def _queued(ctx) -> bool:
    return WORKER in ctx.answers.services


def _kek(secret: str) -> str:
    """simple_crypto's KEK: 32 bytes, base64; derived from the generated
    secret so secrets.yaml alone can rebuild it."""
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()).decode()


# ------------------------------------------------------------ verbs

def configure(ctx):
    etc = _etc(ctx)
    (etc / "barbican.conf.d").mkdir(parents=True, exist_ok=True)
    etc.chmod(0o750)
    (etc / "barbican.conf.d").chmod(0o700)
    a = ctx.answers
    conf = {
        "DEFAULT": {"debug": False, "use_stderr": True, "host_href": ctx.endpoint(API),
                    "transport_url": ctx.transport_url()},
        "database": {"connection": ctx.db_url(NAME)},
        "keystone_authtoken": ctx.authtoken_section(NAME),
        "secretstore": {"enabled_secretstore_plugins": "store_crypto"},
        "crypto": {"enabled_crypto_plugins": "simple_crypto"},
        # Orders go to barbican-worker over the queue when it runs; the
        # listener deletes a project's secrets when keystone says it is gone.
        "queue": {"enable": _queued(ctx)},
        "keystone_notifications": {"enable": LISTENER in a.services},
    }
    ctx.write_ini(etc / "barbican.conf", conf, 0o600)
    ctx.write_file(etc / "barbican-api-paste.ini", (HERE / "api-paste.ini").read_text(), 0o640)
    ctx.write_file(etc / "barbican-wsgi.py", (HERE / "wsgi_app.py").read_text(), 0o640)
    # A KEK file left by an earlier stacktui-barbican (a random key) is kept:
    # a new one would leave every stored secret unreadable.
    kek = etc / "barbican.conf.d" / KEK_FILE
    if not kek.exists():
        ctx.write_ini(kek, {"simple_crypto_plugin": {"kek": _kek(ctx.secret(KEK_SECRET))}}, 0o600)
        ctx.say(f"barbican: the simple_crypto KEK in {kek} (0600)")


def init(ctx):
    ctx.run([ctx.venv_bin("barbican-manage"), "db", "upgrade"], env=_env(ctx), cwd=_etc(ctx))


def panes(ctx) -> list[dict]:
    out = [pane_spec(ctx, API, ctx.uwsgi_argv(API, _etc(ctx) / "barbican-wsgi.py"), env=_env(ctx),
                     cwd=_etc(ctx), port=ctx.answers.port(API),
                     ready={"http": f"{ctx.endpoint(API)}/healthcheck"})]
    for name in (LISTENER, WORKER):
        if name in ctx.answers.services:
            out.append(pane_spec(ctx, name, [ctx.venv_bin(name)], env=_env(ctx), cwd=_etc(ctx)))
    return out


def accounts(ctx):
    ks = ctx.keystone()
    ks.service_user(NAME, ctx.answers.password("service"))
    # Barbican's own roles, as DevStack's plugin makes them.
    for role in ("creator", "observer", "audit", "key-manager:service-admin"):
        ks.role(role)
    ks.endpoints(ks.service(NAME, "key-manager", "Barbican key manager"), ctx.endpoint(API))


def verify(ctx, sess) -> None:
    """A secret stored, read back by its payload, deleted."""
    where = {"endpoint_filter": {"service_type": "key-manager", "region_name": ctx.answers.region}}
    payload = f"stacktui verify {time.time()}"
    ref = sess.post("/v1/secrets", json={"name": "stacktui-verify", "payload": payload,
                                         "payload_content_type": "text/plain"},
                    raise_exc=True, **where).json()["secret_ref"]
    path = "/v1/secrets/" + ref.rstrip("/").rsplit("/", 1)[-1]
    try:
        got = sess.get(path + "/payload", headers={"Accept": "text/plain"}, raise_exc=True,
                       **where).text
    finally:
        sess.delete(path, raise_exc=False, **where)
    if got != payload:
        raise RuntimeError(f"barbican: the secret read back is {got!r}, not what was stored")
    ctx.say("barbican: a secret stored, read back and deleted (simple_crypto)")


def config_for(ctx) -> dict:
    """Cinder's castellan on Barbican, as DevStack's barbican plugin sets it."""
    return {"$CINDER_CONF": {"key_manager": {"backend": "barbican"},
                             "barbican": {"auth_endpoint": ctx.identity_url() + "/v3"}}}


def cleanup(ctx):
    for d in (_etc(ctx), ctx.layout.data / NAME):
        shutil.rmtree(d, ignore_errors=True)


# RAM: tree RSS of each pane after tests/test_e2e_barbican.py's secrets and
# encrypted volume (2 cores, one uwsgi process).
def _row(name, title, port, needs, ram, workers, package=None):
    return Service(name, NAME, title, port, needs, ram, 0, workers, NAME, package,
                   implemented=True)


SPEC = ServiceSpec(
    NAME, SERVICES,
    rows=(_row(API, "Barbican key manager API", 9311, (IDENTITY_SERVICE,), 135, 1, "barbican"),
          _row(LISTENER, "Barbican keystone listener", None, (API, MESSAGING_SERVICE), 190, 0),
          _row(WORKER, "Barbican worker", None, (API, MESSAGING_SERVICE), 190, 0)),
    lock=HERE / "lock.txt",
    configure=configure, init=init, panes=panes, accounts=accounts, verify=verify,
    cleanup=cleanup, config_for=config_for, secrets=(KEK_SECRET,),
    databases={NAME: (NAME,)}, messaging=True,
    config_files=(ConfigFile("$BARBICAN_CONF", NAME, "barbican.conf",
                             "/etc/barbican/barbican.conf", "barbican.conf"),),
    source_prefix={"barbican": "BARBICAN"}, repo_names={"barbican": "barbican"},
    port_vars={API: "BARBICAN_SERVICE_PORT"},
    devstack_plugins=(NAME,),
    kolla_flags={API: ("enable_barbican",)},
    api_paths={API: "/v1"},
    tempest_available={"barbican": API})
