"""What an install changed on the host outside the places it may write.

An install may write under DEST and in the per-user places the README lists
(the uv cache, ~/.config/openstack/clouds.yaml, the last-stack pointer, the
`openstack` link in ~/.local/bin). Anything else it leaves behind is a hidden
install step another run could lean on, so the tests take a snapshot of the
host's system and home folders before and after an install and compare.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOTS = ("/etc", "/var", "/opt", "/usr", "/srv", "/root", "/home", "/run")

# Never compared, each for its reason.
SKIP = {
    "/var/tmp": "temporary files by definition (test DESTs live there too)",
    "/var/log/journal": "the system's own logs",
    "/var/cache/apt": "apt's download cache, changed by any apt-get run",
    "/var/lib/apt/lists": "apt's index, changed by any apt-get update",
    "/run/user": "per-login runtime folders",
    "/var/lib/libuuid": "libuuid's clock for time-based UUIDs, moved by any process that makes one",
}


def _allowed() -> set[str]:
    """Per-user places an install may write (README, 'Where files go')."""
    home = Path.home()
    places = {os.environ.get("UV_CACHE_DIR") or str(home / ".cache" / "uv"),
              str(home / ".cache" / "pip"),  # the tool venv's pip (install.sh)
              # stevedore's entry-point cache, kept by keystoneauth1 in
              # stacktui's own process (the stack's services keep theirs in DEST)
              str(home / ".cache" / "python-entrypoints"),
              # The test runner's own caches, written by this very process.
              str(home / ".cache" / "pytest"), str(home / ".cache" / "ms-playwright"),
              # The default guest image, built once per user (stacktui/guest_image.py).
              str(Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "stacktui")}
    for var, default in (("XDG_CONFIG_HOME", home / ".config"),
                         ("XDG_STATE_HOME", home / ".local" / "state")):
        base = Path(os.environ.get(var) or default)
        places.add(str(base / ("openstack" if var == "XDG_CONFIG_HOME" else "stacktui")))
    places.add(os.environ.get("XDG_BIN_HOME") or str(home / ".local" / "bin"))
    return places


# Big trees where only a made or removed entry is looked for (a folder's
# mtime moves when an entry is added or removed): a full stat of /usr costs
# seconds, and nothing edits files there in place without apt.
SHALLOW = ("/usr", str(Path.home() / ".pyenv"), str(Path.home() / ".rustup"),
           str(Path.home() / ".cargo"))


def snapshot(roots=ROOTS) -> dict[str, tuple]:
    skip = set(SKIP) | _allowed()
    shallow = tuple(p + "/" for p in SHALLOW)
    seen: dict[str, tuple] = {}
    stack = [r for r in roots if os.path.isdir(r)]
    while stack:
        top = stack.pop()
        try:
            it = os.scandir(top)
        except OSError:
            continue
        with it:
            for e in it:
                if e.path in skip:
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if e.is_dir(follow_symlinks=False):
                    seen[e.path] = ("dir", st.st_mode, st.st_mtime_ns) \
                        if (e.path + "/").startswith(shallow) else ("dir", st.st_mode)
                    if not os.path.ismount(e.path):
                        stack.append(e.path)
                elif (e.path + "/").startswith(shallow):
                    continue
                else:
                    seen[e.path] = ("file", st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return seen


# Places a stack never writes that other programs of the same account do,
# while a test of several minutes runs beside them (a shared machine runs
# several suites at once; a CI run is alone and never sees these move).
# Only such tests set them aside, and they record what they set aside.
OTHER_PROGRAMS = {
    str(Path.home() / ".cache" / "dconf"): "GLib's settings, written by Chromium (the TUI and serve tests)",
    str(Path.home() / ".config" / "chromium"): "Chromium's profile",
    str(Path.home() / ".rpmdb"): "rpm's per-user database, written by the dnf tests",
    "/run/blkid": "libblkid's cache of block devices, rewritten by mount(8) and blkid runs",
}


def split_other_programs(found: list[str]) -> tuple[list[str], list[str]]:
    """``found`` (from changes()) as (to judge, set aside: OTHER_PROGRAMS)."""
    judge, aside = [], []
    for c in found:
        path = c.split(" ", 1)[1]
        (aside if any(path == p or path.startswith(p + "/") for p in OTHER_PROGRAMS)
         else judge).append(c)
    return judge, aside


def changes(before: dict, after: dict) -> list[str]:
    """Each path made, removed or changed, with what happened to it."""
    out = []
    for path in sorted(set(before) | set(after)):
        if path not in before:
            out.append(f"made {path}")
        elif path not in after:
            out.append(f"removed {path}")
        elif before[path] != after[path]:
            out.append(f"changed {path}")
    return out
