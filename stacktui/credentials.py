"""Credentials the way DevStack leaves them: DEST/openrc and clouds.yaml.

DevStack only accepts alphanumeric passwords because its generated files do
not quote (Launchpad bug 1744985). stacktui accepts any printable password,
so every value written here is quoted for the reader that will parse it:
shlex.quote for bash, a YAML emitter for clouds.yaml.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import yaml

from .fsutil import atomic_write

CLOUD_DEMO = "devstack"
CLOUD_ADMIN = "devstack-admin"
CLOUD_SYSTEM_ADMIN = "devstack-system-admin"
CLOUD_NAMES = (CLOUD_DEMO, CLOUD_ADMIN, CLOUD_SYSTEM_ADMIN)


def auth_url(ans) -> str:
    return f"http://{ans.url_host()}:{ans.port('key')}/v3"


def user_clouds_path() -> Path:
    """Where openstackclient and openstacksdk look for clouds.yaml first
    (besides the working directory): the user's config folder."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "openstack" / "clouds.yaml"


def openrc_text(ans) -> str:
    # Both users carry the admin password, as DevStack's demo user does.
    pw = shlex.quote(ans.password("admin"))
    url = shlex.quote(auth_url(ans))
    region = shlex.quote(ans.region)
    return f"""\
# Written by stacktui; sourced by bash, like DevStack's openrc:
#   source openrc            -> demo user, demo project
#   source openrc admin      -> admin user, admin project
#   source openrc USER PROJECT
# Keep it private: it holds the admin password (mode 0600).

OS_USERNAME=${{1:-demo}}
OS_PROJECT_NAME=${{2:-$OS_USERNAME}}
export OS_USERNAME OS_PROJECT_NAME
case "$OS_USERNAME" in
    admin|demo) export OS_PASSWORD={pw} ;;
    *) if [ -z "${{OS_PASSWORD:-}}" ]; then
           echo "openrc: no password known for user $OS_USERNAME; set OS_PASSWORD" >&2
       fi ;;
esac
export OS_AUTH_URL={url}
export OS_AUTH_TYPE=password
export OS_USER_DOMAIN_ID=default
export OS_PROJECT_DOMAIN_ID=default
export OS_REGION_NAME={region}
export OS_IDENTITY_API_VERSION=3
export OS_INTERFACE=public
# A cloud picked with --os-cloud / OS_CLOUD would override these; drop it.
unset OS_CLOUD
"""


def clouds(ans) -> dict:
    """The three clouds DevStack's write_clouds_yaml defines."""
    url = auth_url(ans)
    region = ans.region
    admin_pw = ans.password("admin")

    def cloud(auth: dict) -> dict:
        return {"auth": {"auth_url": url, **auth}, "region_name": region,
                "interface": "public", "identity_api_version": 3}

    return {
        CLOUD_DEMO: cloud({"username": "demo", "project_name": "demo",
                           "user_domain_id": "default", "project_domain_id": "default",
                           "password": admin_pw}),
        CLOUD_ADMIN: cloud({"username": "admin", "project_name": "admin",
                            "user_domain_id": "default", "project_domain_id": "default",
                            "password": admin_pw}),
        CLOUD_SYSTEM_ADMIN: cloud({"username": "admin", "system_scope": "all",
                                   "user_domain_id": "default", "password": admin_pw}),
    }


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def merge_user_clouds(entries: dict, path: Path | None = None) -> Path:
    """Put our clouds into the user's clouds.yaml, keeping every other cloud
    (and other top-level keys) that is already there."""
    path = path or user_clouds_path()
    doc: dict = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            # Rewriting a file we cannot parse would lose the user's clouds.
            from .errors import Problem, UserError
            raise UserError(Problem(f"cannot merge the devstack clouds into it: {e}",
                                    file=str(path),
                                    fix="fix the YAML or move the file away")) from None
        if isinstance(loaded, dict):
            doc = loaded
    if not isinstance(doc.get("clouds"), dict):
        doc["clouds"] = {}
    doc["clouds"].update(entries)
    atomic_write(path, _dump(doc), mode=0o600)
    return path


def remove_user_clouds(layout, path: Path | None = None) -> list[str]:
    """Take this stack's clouds out of the user's clouds.yaml (they hold its
    admin password). Only entries that point at this stack's Keystone, as
    DEST/clouds.yaml records it, go: a cloud of the same name that another
    stack wrote later stays."""
    path = path or user_clouds_path()
    try:
        ours = yaml.safe_load((layout.dest / "clouds.yaml").read_text(encoding="utf-8"))
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []
    if not isinstance(ours, dict) or not isinstance(doc, dict) or not isinstance(doc.get("clouds"), dict):
        return []

    def url(c) -> str | None:
        return ((c or {}).get("auth") or {}).get("auth_url") if isinstance(c, dict) else None

    gone = []
    for name, entry in (ours.get("clouds") or {}).items():
        mine = doc["clouds"].get(name)
        if mine is not None and url(mine) == url(entry):
            del doc["clouds"][name]
            gone.append(name)
    if gone:
        atomic_write(path, _dump(doc), mode=0o600)
    return gone


def write_credentials(ans, layout, *, user_config: bool = True) -> dict[str, Path]:
    """Write DEST/openrc and DEST/clouds.yaml (0600), and merge the clouds
    into ~/.config/openstack/clouds.yaml so `--os-cloud devstack-admin`
    works from any folder. Returns what was written, by name."""
    out: dict[str, Path] = {}
    openrc = layout.dest / "openrc"
    atomic_write(openrc, openrc_text(ans), mode=0o600)
    out["openrc"] = openrc
    entries = clouds(ans)
    cy = layout.dest / "clouds.yaml"
    atomic_write(cy, _dump({"clouds": entries}), mode=0o600)
    out["clouds.yaml"] = cy
    if user_config:
        out["user clouds.yaml"] = merge_user_clouds(entries)
    return out


def clouds_env(layout) -> dict[str, str]:
    """The variables that make openstacksdk / openstackclient read DEST's
    clouds.yaml before any other; merge into an environment, e.g.
    ``{**os.environ, **clouds_env(layout)}``."""
    return {"OS_CLIENT_CONFIG_FILE": str(layout.dest / "clouds.yaml")}
