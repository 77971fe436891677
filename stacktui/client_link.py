"""The `openstack` command on the user's PATH, as DevStack leaves it.

The client lives in the stack's venv; a link in the user's bin folder makes
the README's and the Done screen's commands work in a new shell without
activating anything. The link is ours only while it points into a stack's
venv: a real `openstack` the user installed there is never replaced.
"""

from __future__ import annotations

import os
from pathlib import Path

from .paths import Layout, on_path, user_bin

NAME = "openstack"


def link_client(layout: Layout) -> tuple[Path | None, str | None]:
    """Link DEST's `openstack` into the user's bin folder. Returns the link
    (None when not made) and a note for the user, if any."""
    target = layout.bin / NAME
    if not target.exists():
        return None, None
    folder = user_bin()
    link = folder / NAME
    if link.exists() and not link.is_symlink():
        return None, (f"{link} is not stacktui's; left as is (this stack's client is {target})")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{NAME}.stacktui-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)   # atomic: a shell never finds the command missing
    note = None
    if not on_path(folder):
        note = (f"{folder} is not on your PATH: add it (e.g. in ~/.profile: "
                f"export PATH=\"{folder}:$PATH\") or run {target}")
    return link, note


def unlink_client(layout: Layout) -> bool:
    """Remove the link if it points into this stack (for `clean`)."""
    link = user_bin() / NAME
    try:
        if link.is_symlink() and Path(os.readlink(link)).is_relative_to(layout.dest):
            link.unlink()
            return True
    except OSError:
        pass
    return False
