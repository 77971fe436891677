"""Placement (`placement-api`): resource inventory API under uwsgi."""

from __future__ import annotations

import shutil

from stacktui import inifile, svckit
from stacktui.fsutil import make_dirs
from stacktui.phases import verify as checks
from stacktui.service import ConfigFile, ServiceSpec, pane_spec

SERVICES = ("placement-api",)


def _etc(ctx):
    return ctx.layout.etc / "placement"


def _env(ctx):
    return {"OS_PLACEMENT_CONFIG_DIR": str(_etc(ctx))}


def configure(ctx):
    make_dirs(_etc(ctx), mode=0o750)
    inifile.write(_etc(ctx) / "placement.conf", {
        "DEFAULT": {"debug": False, "use_stderr": True},
        "placement_database": {"connection": svckit.db_url(ctx.answers, ctx.layout, "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": svckit.authtoken(ctx.answers, "placement"),
        "oslo_policy": svckit.policy_files(_etc(ctx)),
    }, mode=0o640)


def init(ctx):
    ctx.run([ctx.venv_bin("placement-manage"), "--config-file", _etc(ctx) / "placement.conf",
             "db", "sync"], env=_env(ctx))


def panes(ctx) -> list[dict]:
    return [pane_spec(ctx, "placement-api",
                      svckit.uwsgi_argv(ctx, "placement-api", "placement.wsgi.api:application"),
                      env=_env(ctx), ready=svckit.http_ready(ctx, "placement-api", "/"),
                      port=ctx.answers.port("placement-api"))]


def accounts(ctx):
    ks = ctx.keystone()
    ks.service_user("placement", ctx.answers.password("service"))
    ks.endpoints(ks.service("placement", "placement", "Placement service"),
                 ctx.endpoint("placement-api"))


def cleanup(ctx):
    for d in (_etc(ctx), ctx.layout.data / "placement"):
        shutil.rmtree(d, ignore_errors=True)

def tempest(a, found) -> dict:
    return {"placement": {"region": a.region, "endpoint_type": "public"}}


SPEC = ServiceSpec(
    "placement", SERVICES, tempest=tempest, verify=checks.check_placement,
    configure=configure, init=init, panes=panes, accounts=accounts,
    cleanup=cleanup,
    databases={"placement": ("placement",)},
    config_files=(ConfigFile("$PLACEMENT_CONF", "placement", None,
                             "/etc/placement/placement.conf", "placement.conf"),),
    source_prefix={"openstack-placement": "PLACEMENT"},
    repo_names={"openstack-placement": "placement"},
    kolla_flags={"placement-api": ("enable_placement",)},
    tempest_scoped={"placement": "placement-api"})
