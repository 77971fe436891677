"""Keystone (`key`): DevStack's lib/keystone, step for step.

configure writes keystone.conf; init syncs the database, makes the fernet and
credential key repositories and bootstraps the admin user, project and
identity endpoints; start runs it under uwsgi in a pane; accounts adds the
service and demo projects and users DevStack's create_keystone_accounts makes.
"""

from __future__ import annotations

import base64
import os
import shutil

from stacktui import inifile, svckit
from stacktui.fsutil import atomic_write, make_dirs
from stacktui.phases import verify as checks
from stacktui.service import ConfigFile, ServiceSpec, pane_spec

SERVICES = ("key",)


def _conf(ctx):
    return ctx.layout.config("keystone")


def _env(ctx) -> dict:
    return {"OS_KEYSTONE_CONFIG_FILES": str(_conf(ctx))}


def configure(ctx):
    etc = ctx.layout.etc / "keystone"
    data = ctx.layout.data / "keystone"
    for d in (etc, data):
        make_dirs(d, mode=0o750)
    inifile.write(_conf(ctx), {
        "DEFAULT": {"debug": False, "use_stderr": True,
                    "max_token_size": 255},
        "database": {"connection": svckit.db_url(ctx.answers, ctx.layout, "keystone")},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": etc / "fernet-keys", "max_active_keys": 3},
        # Receipts (MFA) share the token keys, as in DevStack where both
        # default to /etc/keystone/fernet-keys/; unset, bootstrap looks there.
        "fernet_receipts": {"key_repository": etc / "fernet-keys", "max_active_keys": 3},
        "credential": {"key_repository": etc / "credential-keys"},
        "cache": svckit.cache(ctx.answers) or _process_cache(ctx.answers),
        "identity": {"password_hash_rounds": 4},   # DevStack's speed-up for dev clouds
        "oslo_policy": svckit.policy_files(etc),
    }, mode=0o640)


def _process_cache(answers) -> dict | None:
    """Without memcached, a single keystone worker caches in its own memory:
    a request then costs it about 15 ms instead of 90 (measured on 2 cores).
    Not with more workers: each would keep its own copy and miss the others'
    invalidations."""
    if svckit.workers(answers) != 1:
        return None
    return {"enabled": True, "backend": "oslo_cache.dict"}


# keystone-manage's db_sync and bootstrap in one interpreter: each run of
# keystone-manage spends seconds importing keystone before it does anything,
# and bootstrap needs nothing from db_sync but the schema. CONF.clear() lets
# oslo.config parse the second command line.
_SYNC_AND_BOOTSTRAP = """\
import sys
from keystone.cmd import cli
conf, boot = sys.argv[1], sys.argv[2:]
cli.main(argv=["keystone-manage", "--config-file", conf, "db_sync"])
cli.CONF.clear()
cli.main(argv=["keystone-manage", "--config-file", conf, "bootstrap", *boot])
"""


def init(ctx):
    for repo in ("fernet", "credential"):
        make_key_repository(ctx.layout.etc / "keystone" / f"{repo}-keys")
    url = ctx.endpoint("key") + "/v3"
    # The password reaches bootstrap through its environment, never argv.
    ctx.run([ctx.venv_bin("python"), "-c", _SYNC_AND_BOOTSTRAP, _conf(ctx),
             "--bootstrap-username", "admin",
             "--bootstrap-project-name", "admin", "--bootstrap-role-name", "admin",
             "--bootstrap-service-name", "keystone", "--bootstrap-region-id", ctx.answers.region,
             "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
             "--bootstrap-public-url", url],
            env={"OS_BOOTSTRAP_PASSWORD": ctx.answers.password("admin")})


def make_key_repository(path) -> None:
    """What `keystone-manage fernet_setup` makes: key 0 (staged) and 1
    (primary), each a urlsafe-base64 32-byte Fernet key, 0600 in a 0700
    folder. Written here because each keystone-manage run costs seconds of
    imports, and these are two files."""
    if (path / "0").exists():
        return
    make_dirs(path, mode=0o700)
    for name in ("0", "1"):
        atomic_write(path / name, base64.urlsafe_b64encode(os.urandom(32)), mode=0o600)


def panes(ctx) -> list[dict]:
    return [pane_spec(ctx, "key", svckit.uwsgi_argv(ctx, "key", "keystone.wsgi.api:application"),
                      env=_env(ctx), ready=svckit.http_ready(ctx, "key", "/v3"),
                      port=ctx.answers.port("key"))]


def accounts(ctx):
    ks = ctx.keystone()
    ks.project("service", "projects for OpenStack services")
    for r in ("member", "reader", "service"):
        ks.role(r)
    demo = ks.project("demo", "the demo project DevStack makes")
    uid = ks.user("demo", ctx.answers.password("admin"), demo)
    ks.grant(uid, demo, ks.role("member"))
    ks.grant(uid, demo, ks.role("reader"))
    # admin also gets member on demo, as DevStack does, so it can act there.
    admin = ks._find("users", name="admin", domain_id="default")
    ks.grant(admin["id"], demo, ks.role("admin"))


def cleanup(ctx):
    for d in (ctx.layout.etc / "keystone", ctx.layout.data / "keystone"):
        shutil.rmtree(d, ignore_errors=True)


SPEC = ServiceSpec(
    "keystone", SERVICES, verify=checks.check_keystone, identity=True,
    configure=configure, init=init, panes=panes, accounts=accounts,
    cleanup=cleanup,
    databases={"keystone": ("keystone",)},
    config_files=(ConfigFile("$KEYSTONE_CONF", "keystone", None, "/etc/keystone/keystone.conf",
                             "keystone.conf"),),
    source_prefix={"keystone": "KEYSTONE"}, port_vars={"key": "KEYSTONE_SERVICE_PORT"},
    kolla_flags={"key": ("enable_keystone",)}, tempest_scoped={"keystone": "key"})
