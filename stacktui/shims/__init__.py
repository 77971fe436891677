"""Code stacktui puts beside OpenStack's own: nova's stand-in network API
(run as a pane) and the driver shims copied into the services' paths (nova's
fake driver with a stable node, cinder's file-backed fake driver, cinder's
WSGI entry that reads its config file from the environment). The shims import
nova and cinder, so stacktui never imports them; it copies their text."""

from __future__ import annotations

from importlib import resources


def source(name: str) -> str:
    """The text of the shim ``name`` (a module of this package)."""
    return resources.files(__name__).joinpath(f"{name}.py").read_text()
