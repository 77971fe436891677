"""A stacktui plugin: Octavia with the OVN provider (DevStack's `enable_plugin
octavia` plus `enable_plugin ovn-octavia-provider`), no amphora: o-api
(octavia-api under uwsgi) and o-da (octavia-driver-agent running the OVN
provider agent). Load balancers are OVN Load_Balancer rows on the VIP
network's logical switch and router; no VM is booted. It needs neutron on
OVN (q-svc, ovn-northd) and imports nothing from stacktui but the contract
(stacktui.service).

Octavia's API reads its config only from oslo.config's default places
(uwsgi gives it no arguments), so its panes and commands run with HOME at
DEST/etc/octavia, where octavia.conf is. The OVN provider talks to the driver
agent through octavia-lib's fixed socket paths (/var/run/octavia/*.sock,
whatever [driver_agent] says), so both panes run in a mount namespace of
their own where /run is DEST/run/octavia: the sockets stay under DEST and
the host's /run is not touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from stacktui.service import IDENTITY_SERVICE, ConfigFile, Service, ServiceSpec, pane_spec

NAME = "octavia"
API, AGENT = "o-api", "o-da"
SERVICES = (API, AGENT)
HERE = Path(__file__).resolve().parent

# The OVN northbound database's catalog name: o-api needs it running.
OVN_NB = "ovn-northd"


def _etc(ctx) -> Path:
    return ctx.layout.etc / NAME


def _run(ctx) -> Path:
    """What the panes see as /run."""
    return ctx.layout.run / NAME


def _sockets(ctx) -> Path:
    """octavia-lib's /var/run/octavia, seen from the host."""
    return _run(ctx) / NAME


# /run replaced by DEST/run/octavia for this process only (unshare's mount
# namespace is private: nothing propagates to the host); paths are arguments,
# never part of the script.
IN_OWN_RUN = 'mount --bind "$0" /run && exec "$@"'


def _in_own_run(ctx, argv: list) -> list:
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", IN_OWN_RUN,
            _run(ctx), *argv]


def _env(ctx) -> dict:
    return {"HOME": str(_etc(ctx))}


# ------------------------------------------------------------ verbs

def configure(ctx):
    etc, run = _etc(ctx), _run(ctx)
    etc.mkdir(parents=True, exist_ok=True)
    etc.chmod(0o750)
    _sockets(ctx).mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    auth = ctx.service_auth(NAME)
    conf = {
        "DEFAULT": {"debug": False, "use_stderr": True, "transport_url": ctx.transport_url()},
        "api_settings": {"enabled_provider_drivers": "ovn:Octavia OVN driver",
                         "default_provider_driver": "ovn"},
        "database": {"connection": ctx.db_url(NAME)},
        "keystone_authtoken": ctx.authtoken_section(NAME),
        # What the API and the OVN provider use to make VIP ports in neutron.
        "service_auth": auth,
        # Given whole: octavia and the OVN provider copy what [neutron] lacks
        # from [service_auth] with set_override, which substitutes `$` in a
        # password a second time.
        "neutron": {**auth, "valid_interfaces": "public"},
        "driver_agent": {"enabled_provider_agents": "ovn",
                         **{f"{k}_socket_path": f"/var/run/octavia/{k}.sock"
                            for k in ("status", "stats", "get")}},
        "ovn": {"ovn_nb_connection": ctx.provided("ovn_nb"),
                "ovn_sb_connection": ctx.provided("ovn_sb")},
        "oslo_concurrency": {"lock_path": "/run/locks"},
    }
    ctx.write_ini(etc / "octavia.conf", conf, 0o600)


def init(ctx):
    ctx.run([ctx.venv_bin("octavia-db-manage"), "upgrade", "head"], env=_env(ctx), cwd=_etc(ctx))


def panes(ctx) -> list[dict]:
    _sockets(ctx).mkdir(parents=True, exist_ok=True)   # DEST/run is emptied by a reboot
    out = [pane_spec(ctx, API, _in_own_run(ctx, ctx.uwsgi_argv(API, "octavia.wsgi.api:application")), env=_env(ctx), cwd=_etc(ctx),
                     port=ctx.answers.port(API), ready={"http": f"{ctx.endpoint(API)}/"})]
    if AGENT in ctx.answers.services:
        out.append(pane_spec(ctx, AGENT, _in_own_run(ctx, [ctx.venv_bin("octavia-driver-agent")]),
                             env=_env(ctx), cwd=_etc(ctx),
                             ready={"unix": str(_sockets(ctx) / "status.sock")}))
    return out


def accounts(ctx):
    ks = ctx.keystone()
    ks.service_user(NAME, ctx.answers.password("service"))
    # Octavia's own roles (its default policy names them), as DevStack's plugin makes them.
    for role in ("load-balancer_observer", "load-balancer_global_observer", "load-balancer_member",
                 "load-balancer_admin", "load-balancer_quota_admin"):
        ks.role(role)
    ks.endpoints(ks.service(NAME, "load-balancer", "Octavia load balancing"), ctx.endpoint(API))


def verify(ctx, sess) -> None:
    """The API lists its providers, the OVN one among them."""
    where = {"endpoint_filter": {"service_type": "load-balancer", "region_name": ctx.answers.region}}
    names = [p["name"] for p in sess.get("/v2/lbaas/providers", raise_exc=True, **where)
             .json()["providers"]]
    if "ovn" not in names:
        raise RuntimeError(f"octavia: the OVN provider is not enabled (providers: {names})")
    ctx.say(f"octavia: providers {', '.join(names)}")


def cleanup(ctx):
    for d in (_etc(ctx), _run(ctx), ctx.layout.data / NAME):
        shutil.rmtree(d, ignore_errors=True)


# RAM: tree RSS after tests/test_e2e_octavia.py's load balancer (2 cores,
# one uwsgi process). The driver agent is four processes: its status, stats
# and get listeners and the OVN provider agent, each a full Octavia import
# (617 to 798 MB in two runs).
SPEC = ServiceSpec(
    NAME, SERVICES,
    rows=(Service(API, NAME, "Octavia load-balancer API (OVN provider)", 9876,
                  (IDENTITY_SERVICE, "q-svc", OVN_NB), 165, 0, 1, NAME, "octavia", implemented=True),
          Service(AGENT, NAME, "Octavia driver agent (OVN provider agent)", None, (API,), 800, 0, 0,
                  NAME, "ovn-octavia-provider", implemented=True)),
    lock=HERE / "lock.txt",
    configure=configure, init=init, panes=panes, accounts=accounts, verify=verify,
    cleanup=cleanup, start_after=frozenset({"neutron"}),
    databases={NAME: (NAME,)}, messaging=True,
    config_files=(ConfigFile("$OCTAVIA_CONF", NAME, "octavia.conf", "/etc/octavia/octavia.conf",
                             "octavia.conf"),),
    source_prefix={"octavia": "OCTAVIA", "ovn-octavia-provider": "OVN_OCTAVIA_PROVIDER"},
    repo_names={"octavia": "octavia", "ovn-octavia-provider": "ovn-octavia-provider"},
    port_vars={API: "OCTAVIA_PORT"},
    devstack_plugins=(NAME, "ovn-octavia-provider"),
    refused={s: f"{what}, which only amphora load balancers need: stacktui-octavia runs the OVN "
                "provider, no amphora"
             for s, what in (("o-cw", "the Octavia controller worker"),
                             ("o-hm", "the Octavia health manager"),
                             ("o-hk", "the Octavia housekeeping service"))},
    kolla_flags={API: ("enable_octavia",)},
    api_paths={API: ""},
    tempest_available={"octavia": API})
