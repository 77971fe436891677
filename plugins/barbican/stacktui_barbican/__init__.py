"""A stacktui plugin: Barbican, the key manager (DevStack's `enable_plugin
barbican`). Three panes: barbican-api under uwsgi, barbican-keystone-listener
and barbican-worker (both on RabbitMQ; without rabbit the API stores secrets
by itself and the two are not offered). Secrets are encrypted by the
simple_crypto plugin with a KEK made once per stack. Its database follows the
answers' `database` (SQLite or MariaDB). It imports nothing from stacktui but
the contract (stacktui.service).

Barbican reads its config only from oslo.config's default places (~/.barbican,
~, /etc/barbican, /etc): each crypto and secret-store module parses its own
config object from them, so ``--config-file`` reaches only part of it. The
panes and commands therefore run with HOME at DEST/etc/barbican, which holds
barbican.conf, barbican.conf.d/ (the KEK, 0600) and the paste file.
"""

from __future__ import annotations

import base64
import configparser
import io
import os
import shutil
import time
from pathlib import Path
from urllib.parse import quote

from stacktui.service import ConfigFile, Service, ServiceSpec, pane_spec

NAME = "barbican"
API, LISTENER, WORKER = "barbican-api", "barbican-keystone-listener", "barbican-worker"
SERVICES = (API, LISTENER, WORKER)
HERE = Path(__file__).resolve().parent
KEK_FILE = "simple-crypto-kek.conf"

# Values of other services' private choices the contract does not publish:
# the RabbitMQ user stacktui's rabbit module creates for every service, and
# the identity service's catalog name (keystone's `key`).
RABBIT_USER = "stackrabbit"
IDENTITY = "key"


def _etc(ctx) -> Path:
    return ctx.layout.etc / NAME


def _env(ctx) -> dict:
    return {"HOME": str(_etc(ctx))}


def _write(path: Path, text: str, mode: int) -> None:
    """Write through a new file renamed into place: a planted symlink at
    ``path`` is replaced, never followed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _oslo_value(v) -> str:
    """What oslo.config reads back as ``v``: it substitutes ``$name`` (``$$``
    is a dollar), strips outer whitespace and one pair of outer quotes."""
    if isinstance(v, bool):
        return str(v).lower()
    v = str(v).replace("$", "$$")
    if v != v.strip() or (v and v[0] == v[-1] and v[0] in "\"'"):
        v = '"' + v + '"'
    return v


def _ini(sections: dict) -> str:
    cp = configparser.RawConfigParser(interpolation=None)
    cp.optionxform = str
    for name, opts in sections.items():
        cp[name] = {k: _oslo_value(v) for k, v in opts.items()}
    out = io.StringIO()
    cp.write(out)
    return out.getvalue()


# ------------------------------------------------------------ what the contract lacks
# (stacktui's svckit and rabbit modules hold these for built-in services; a
# plugin may import only stacktui.service, so it says them again.)

def _url(ctx, service: str) -> str:
    return f"http://{ctx.answers.url_host()}:{ctx.answers.port(service)}"


def _db_url(ctx) -> str:
    a = ctx.answers
    if a.database == "sqlite":
        path = ctx.layout.data / NAME / f"{NAME}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    pw = quote(a.password("database"), safe="")
    return f"mysql+pymysql://{NAME}:{pw}@{a.url_host()}:{a.port('mysql')}/{NAME}?charset=utf8"


def _transport_url(ctx) -> str:
    a = ctx.answers
    pw = quote(a.password("rabbit"), safe="")
    return f"rabbit://{RABBIT_USER}:{pw}@{a.url_host()}:{a.port('rabbit')}/"


def _queued(ctx) -> bool:
    return WORKER in ctx.answers.services


# ------------------------------------------------------------ verbs

def configure(ctx):
    etc = _etc(ctx)
    (etc / "barbican.conf.d").mkdir(parents=True, exist_ok=True)
    etc.chmod(0o750)
    (etc / "barbican.conf.d").chmod(0o700)
    a = ctx.answers
    keystone = _url(ctx, IDENTITY)
    conf = {
        "DEFAULT": {"debug": False, "use_stderr": True, "host_href": _url(ctx, API)},
        "database": {"connection": _db_url(ctx)},
        "keystone_authtoken": {
            "www_authenticate_uri": keystone, "auth_url": keystone, "auth_type": "password",
            "username": NAME, "password": a.password("service"), "project_name": "service",
            "user_domain_name": "Default", "project_domain_name": "Default",
            "region_name": a.region, "service_token_roles_required": True},
        "secretstore": {"enabled_secretstore_plugins": "store_crypto"},
        "crypto": {"enabled_crypto_plugins": "simple_crypto"},
        # Orders go to barbican-worker over the queue when it runs; the
        # listener deletes a project's secrets when keystone says it is gone.
        "queue": {"enable": _queued(ctx)},
        "keystone_notifications": {"enable": LISTENER in a.services},
    }
    if "rabbit" in a.services:
        conf["DEFAULT"]["transport_url"] = _transport_url(ctx)
    _write(etc / "barbican.conf", _ini(conf), 0o600)
    _write(etc / "barbican-api-paste.ini", (HERE / "api-paste.ini").read_text(), 0o640)
    _write(etc / "barbican-wsgi.py", (HERE / "wsgi_app.py").read_text(), 0o640)
    # The KEK is made once: a new one would leave every stored secret unreadable.
    kek = etc / "barbican.conf.d" / KEK_FILE
    if not kek.exists():
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        _write(kek, _ini({"simple_crypto_plugin": {"kek": key}}), 0o600)
        ctx.say(f"barbican: a new simple_crypto KEK in {kek} (0600)")


def init(ctx):
    ctx.run([ctx.venv_bin("barbican-manage"), "db", "upgrade"], env=_env(ctx), cwd=_etc(ctx))


def _uwsgi(ctx) -> list[str]:
    a = ctx.answers
    return [ctx.venv_bin("uwsgi"), "--http-socket", f"{a.url_host()}:{a.port(API)}",
            "--wsgi-file", _etc(ctx) / "barbican-wsgi.py", "--master", "--die-on-term",
            "--need-app", "--lazy-apps", "--enable-threads", "--processes", "1",
            "--threads", "1", "--buffer-size", "65535",
            "--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
            "--procname-prefix", f"{API}: ", "--add-header", "Connection: close"]


def panes(ctx) -> list[dict]:
    out = [pane_spec(ctx, API, _uwsgi(ctx), env=_env(ctx), cwd=_etc(ctx), port=ctx.answers.port(API),
                     ready={"http": f"{_url(ctx, API)}/healthcheck"})]
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
    ks.endpoints(ks.service(NAME, "key-manager", "Barbican key manager"), _url(ctx, API))


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
    rows=(_row(API, "Barbican key manager API", 9311, ("key",), 135, 1, "barbican"),
          _row(LISTENER, "Barbican keystone listener", None, (API, "rabbit"), 190, 0),
          _row(WORKER, "Barbican worker", None, (API, "rabbit"), 190, 0)),
    lock=HERE / "lock.txt",
    configure=configure, init=init, panes=panes, accounts=accounts, verify=verify,
    cleanup=cleanup,
    databases={NAME: (NAME,)}, messaging=True,
    config_files=(ConfigFile("$BARBICAN_CONF", NAME, "barbican.conf",
                             "/etc/barbican/barbican.conf", "barbican.conf"),),
    source_prefix={"barbican": "BARBICAN"}, repo_names={"barbican": "barbican"},
    port_vars={API: "BARBICAN_SERVICE_PORT"},
    devstack_plugins=(NAME,),
    kolla_flags={API: ("enable_barbican",)},
    api_paths={API: "/v1"},
    tempest_available={"barbican": API})
