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
    }
    conf.update(validation(a, found))
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


# DevStack's lib/tempest BUILD_TIMEOUT is 196 s; nova's tempest section here
# gives servers 300 s to build, and SSH gets as long as the build.
SSH_TIMEOUT = 300


def validation_off_reason(answers, found: dict) -> str | None:
    """Why tempest cannot SSH into the servers it boots here, or None when it
    can: a guest that runs (libvirt, not nova's fake driver), a public
    network for its floating IP, the metadata service that hands the guest
    its key, and an image that says who logs in."""
    svcs = set(answers.services)
    if "n-api" not in svcs:
        return "no nova (n-api): tempest boots no servers"
    if found.get("virt_driver") != "libvirt":
        return "nova runs its fake driver: no guest answers SSH"
    if "q-svc" not in svcs or not found.get("public_network_id"):
        return "no neutron public network: a guest gets no floating IP to SSH to"
    from .phases import neutron
    if not neutron.metadata_enabled(answers):
        return "no metadata service (q-ovn-agent): a guest never gets its SSH key"
    if not found.get("image_ssh_user"):
        return "the image tempest boots has no os_admin_user: no login user is known"
    return None


def validation(answers, found: dict) -> dict[str, dict]:
    """tempest's [validation], as DevStack's lib/tempest writes it when the
    stack has real guests and a floating network; off, with the reason in
    the file, where it cannot work."""
    why = validation_off_reason(answers, found)
    if why:
        return {"validation": {"run_validation": False}}
    user = found["image_ssh_user"]
    return {
        "validation": {
            "run_validation": True, "connect_method": "floating", "auth_method": "keypair",
            "ip_version_for_ssh": 4, "ssh_timeout": SSH_TIMEOUT,
            "image_ssh_user": user,
            "image_alt_ssh_user": found.get("image_alt_ssh_user") or user,
            # Read only with connect_method fixed; DevStack's PRIVATE_NETWORK_NAME.
            "network_for_ssh": "private",
            # floating_ip_range is left at tempest's default: only nova-network's
            # floating IP bulk tests read it, and those are gone with nova-network.
        },
        # The default image (stacktui/guest_image.py) runs from an initramfs
        # with virtio drivers only: it has no CD-ROM driver and no ISO 9660,
        # so it cannot read a config drive; the metadata service gives it the
        # same data, and test_server_basic_ops checks that over SSH.
        "compute-feature-enabled": {"config_drive": False},
    }


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

