"""tempest.conf for exactly the services a stack runs (DevStack's lib/tempest).

Tempest assumes every service it knows is there unless told otherwise, so
each ``[service_available]`` flag is written, true or false; the sections of
a service are written only when it runs. Values found at run time (an image
and flavors for Nova, the public network for Neutron) come in ``found``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import inifile, registry
from .paths import Layout

def available() -> dict[str, str]:
    """tempest's [service_available] name -> the stacktui service that provides it
    (from the specs; each flag is written, true or false)."""
    return registry.table("tempest_available")


def scoped() -> dict[str, str]:
    """tempest's [enforce_scope] names for the services that have one."""
    return registry.table("tempest_scoped")


def root(layout: Layout) -> Path:
    return layout.data / "tempest"


def venv(layout: Layout) -> Path:
    return root(layout) / "venv"


def workspace(layout: Layout) -> Path:
    return root(layout) / "workspace"


def conf_path(layout: Layout) -> Path:
    return layout.etc / "tempest" / "tempest.conf"


def build(answers, layout: Layout, found: dict | None = None) -> dict[str, dict]:
    a = answers
    found = found or {}
    svcs = set(a.services)
    host = a.url_host()
    region = a.region
    enabled = lambda s: s in svcs  # noqa: E731
    conf: dict[str, dict] = {
        "DEFAULT": {"log_dir": root(layout) / "logs", "log_file": "tempest.log",
                    "use_stderr": False, "debug": True},
        "oslo_concurrency": {"lock_path": root(layout) / "locks"},
        "auth": {
            "use_dynamic_credentials": True,
            "admin_username": "admin", "admin_password": a.password("admin"),
            "admin_project_name": "admin", "admin_domain_name": "Default",
            "admin_user_domain_name": "Default", "admin_project_domain_name": "Default",
            "default_credentials_domain_name": "Default",
            # Keystone's bootstrap gives admin the system-scope admin role too.
            "admin_system": "all",
            "tempest_roles": "member",
            "create_isolated_networks": False,
        },
        "identity": {
            "uri_v3": f"http://{host}:{a.port('key')}/v3", "auth_version": "v3",
            "region": region, "v3_endpoint_type": "public",
            "admin_role": "admin", "default_domain_id": "default",
        },
        "identity-feature-enabled": {
            "api_v2": False, "api_v2_admin": False, "api_v3": True, "trust": True,
            "access_rules": True, "application_credentials": True, "project_tags": True,
            # keystone.conf sets no [security_compliance] lockout or history.
            "security_compliance": False, "domain_specific_drivers": False,
        },
        "service_available": {name: enabled(svc) for name, svc in available().items()},
        "enforce_scope": {name: True for name, svc in scoped().items() if enabled(svc)},
        "validation": {
            # Off as with the fake driver no guest answers; with real guests
            # under plain qemu, on, each API class that boots a server would
            # wait for its SSH (minutes apiece on 2 cores). test_network_basic_ops
            # SSHes in through floating IPs whatever this says.
            "run_validation": False,
        },
    }
    # Each running service's own sections and flags (ServiceSpec.tempest).
    for spec in registry.for_services(a.services):
        if spec.tempest:
            for name, opts in spec.tempest(a, found).items():
                conf.setdefault(name, {}).update(opts)
    for name, sec in list(conf.items()):
        for k, v in list(sec.items()):
            if v == "" or v is None:
                del sec[k]
            elif isinstance(v, Path):
                sec[k] = str(v)
        if not sec:
            del conf[name]
    return conf


def write(answers, layout: Layout, found: dict | None = None) -> Path:
    path = conf_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o750)
    for d in (root(layout) / "logs", root(layout) / "locks"):
        d.mkdir(parents=True, exist_ok=True)
    # It holds the admin password: readable by its owner and group only.
    inifile.write(path, build(answers, layout, found), mode=0o640)
    # local.conf's [[test-config|$TEMPEST_CONFIG]]: DevStack merges it after
    # writing tempest.conf, so it wins over what was generated; the same
    # here, each time the file is (re)written.
    extra = {k: v for k, v in (answers.data.get("post_config") or {}).items()
             if re.fullmatch(r"\$\{?TEMPEST_CONFIG\}?", k)}
    for sections in extra.values():
        from . import postconfig
        postconfig.merge(path, sections, answers)
    return path

