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

# tempest's [service_available] names for what no service module deploys
# (written false); the deployed services' names are in their specs.
_UNDEPLOYED_AVAILABLE = {"swift": "s-proxy"}


def available() -> dict[str, str]:
    """tempest's [service_available] name -> the stacktui service that provides it."""
    return {**registry.table("tempest_available"), **_UNDEPLOYED_AVAILABLE}


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
            "create_isolated_networks": enabled("q-svc"),
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
        "dashboard": {"dashboard_url": f"http://{host}:{a.port('horizon')}/dashboard/"}
        if enabled("horizon") else {},
        "enforce_scope": {name: True for name, svc in scoped().items() if enabled(svc)},
        "validation": {
            # No guest is reachable over SSH from the test runner here (fake
            # or nested virt, userspace datapath): tests that need one skip.
            "run_validation": False,
        },
    }
    if enabled("horizon") and not enabled("n-api"):
        # Tempest's one dashboard test logs in and looks for the Overview
        # panel, which is Nova's: without Nova it would fail for a reason that
        # is no fault of Horizon's (tests/test_e2e_horizon.py covers it).
        conf["service_available"]["horizon"] = False
    if enabled("g-api"):
        conf["image"] = {"region": region, "endpoint_type": "publicURL",
                         "build_timeout": 120}
        conf["image-feature-enabled"] = {
            "api_v2": True,
            # glance-direct through the staging store works; web-download
            # would need the internet, which the tests are not given.
            "import_image": True, "os_glance_reserved": True,
        }
    if enabled("placement-api"):
        conf["placement"] = {"region": region, "endpoint_type": "public"}
    if enabled("n-api"):
        conf["compute"] = {"region": region, "endpoint_type": "publicURL",
                           "build_timeout": 300, "fixed_network_name": "private"}
        for key in ("image_ref", "image_ref_alt", "flavor_ref", "flavor_ref_alt"):
            if found.get(key):
                conf["compute"][key] = found[key]
        conf["compute-feature-enabled"] = {
            "console_output": found.get("virt_driver") != "fake",
            "resize": True, "cold_migration": False, "live_migration": False,
            "vnc_console": enabled("n-novnc"), "change_password": False,
        }
    if enabled("q-svc"):
        conf["network"] = {"region": region, "endpoint_type": "publicURL",
                           "project_network_cidr": a.fixed_range,
                           "floating_network_name": "public",
                           "public_network_id": found.get("public_network_id", "")}
        # Project subnets of either family are neutron's own business, not
        # the host's (DevStack's IP_VERSION defaults to 4+6).
        conf["network-feature-enabled"] = {"ipv6": True,
                                           "api_extensions": found.get("network_extensions", "")}
    if enabled("c-api"):
        conf["volume"] = {"region": region, "endpoint_type": "publicURL",
                          "build_timeout": 300,
                          "backend_names": found.get("volume_backends") or _cinder_backend(a)}
        conf["volume-feature-enabled"] = {"backup": enabled("c-bak"), "api_v3": True}
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


def _cinder_backend(answers) -> str:
    """The backend cinder's configure named, before any volume service has
    reported it (the conf is written at install, verify refreshes it)."""
    from .phases import cinder
    return cinder.backend_name(answers)
