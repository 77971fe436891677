"""Where things live under DEST. One place, so `clean` knows exactly what
install created and removes that and nothing else, and the checks that a
DEST is this user's own before anything in it is read or run."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    dest: Path

    @property
    def venv(self) -> Path:          # the one OpenStack venv (DevStack: $DEST/data/venv)
        return self.dest / "venv"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def etc(self) -> Path:           # generated configs, one folder per project
        return self.dest / "etc"

    @property
    def data(self) -> Path:          # databases, images, keys
        return self.dest / "data"

    @property
    def logs(self) -> Path:
        return self.dest / "logs"

    @property
    def run(self) -> Path:           # socket, pid files: gone after a reboot is fine
        return self.dest / "run"

    @property
    def src(self) -> Path:           # git checkouts (the GIT_BASE habit)
        return self.dest / "src"

    @property
    def state_file(self) -> Path:
        return self.dest / "stacktui-state.json"

    @property
    def answers_file(self) -> Path:  # the answers the stack was installed with
        return self.etc / "stacktui" / "stacktui.yaml"

    @property
    def secrets_file(self) -> Path:
        return self.etc / "stacktui" / "secrets.yaml"

    @property
    def marker(self) -> Path:        # proof that stacktui made this stack, and what it made
        return self.dest / MARKER_NAME

    @property
    def lock_file(self) -> Path:
        return self.dest / ".stacktui.lock"

    @property
    def socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def panes_file(self) -> Path:    # how to start each pane (no secrets in it)
        return self.etc / "stacktui" / "panes.json"

    @property
    def stack_log(self) -> Path:
        return self.logs / "stack.log"

    def config(self, project: str, name: str | None = None) -> Path:
        return self.etc / project / (name or f"{project}.conf")

    def created(self) -> list[Path]:
        """Everything install makes under DEST, for `clean`."""
        return [self.venv, self.etc, self.data, self.logs, self.run, self.src,
                self.state_file, self.lock_file, self.dest / "openrc", self.dest / "clouds.yaml",
                self.dest / "accrc"]


MARKER_NAME = ".stacktui-stack"


def claim(layout: Layout) -> None:
    """Write (once) the marker that names what install is about to make in
    DEST: only what did not exist before, so `clean` never removes a
    folder of the user's that happened to be called `src` or `data`."""
    old = read_marker(layout)
    made = set(old["made"]) if old else set()
    for p in layout.created():
        if not (p.exists() or p.is_symlink()):
            made.add(p.name)
    if old and made == set(old["made"]):
        return
    from .fsutil import atomic_write
    layout.dest.mkdir(parents=True, exist_ok=True)
    doc = {"stacktui": 1, "uid": os.geteuid(), "made": sorted(made)}
    atomic_write(layout.marker, json.dumps(doc, indent=1) + "\n", mode=0o644)


def read_marker(layout: Layout) -> dict | None:
    try:
        doc = json.loads(layout.marker.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("made"), list):
        return None
    return doc


def check_owned(layout: Layout) -> None:
    """Refuse a DEST whose files another user could have written: whatever
    is in etc/ (panes.json, configs) is run or read with this user's rights.
    The folders that exist must be owned by us and not writable by others,
    and etc/ and run/ must be real folders, not symlinks."""
    from .errors import Problem, UserError
    me = os.geteuid()
    problems = []
    for p in (layout.dest, layout.etc, layout.etc / "stacktui", layout.run):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode) and p != layout.dest:
            problems.append(Problem(f"{p} is a symlink", key="dest",
                                    fix=f"remove it; stacktui makes {p.name}/ itself"))
            continue
        if p == layout.dest:
            st = os.stat(p)
        if st.st_uid != me:
            owner = _user_name(st.st_uid)
            problems.append(Problem(f"{p} belongs to {owner}, not to you ({_user_name(me)})",
                                    key="dest", fix=f"run stacktui as {owner}, or pick a DEST of "
                                                    f"your own with --dest"))
        elif st.st_mode & stat.S_IWOTH:
            problems.append(Problem(f"{p} is writable by every user (mode {stat.S_IMODE(st.st_mode):o})",
                                    key="dest", fix=f"chmod o-w {p}"))
    if problems:
        raise UserError(problems)


def _user_name(uid: int) -> str:
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def private_dir(path: Path) -> Path:
    """A folder only its owner can enter (run/: the socket, pid files),
    made so whatever the umask and whatever mode it had before."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "stacktui"


def remember_last(dest: Path) -> None:
    d = state_home()
    d.mkdir(parents=True, exist_ok=True)
    (d / "last-dest").write_text(str(dest) + "\n")


def forget_last(dest: Path) -> None:
    """Drop the last-stack pointer when it names ``dest`` (after clean)."""
    if last_dest() == dest:
        (state_home() / "last-dest").unlink(missing_ok=True)


def last_dest() -> Path | None:
    try:
        text = (state_home() / "last-dest").read_text().strip()
    except OSError:
        return None
    return Path(text) if text else None


def user_bin() -> Path:
    """Where a user's own commands go: XDG_BIN_HOME (uv and pipx honour it),
    else ~/.local/bin, which Debian's and Ubuntu's ~/.profile put on PATH."""
    return Path(os.environ.get("XDG_BIN_HOME") or Path.home() / ".local" / "bin")


def on_path(folder: Path) -> bool:
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    return any(os.path.realpath(d) == os.path.realpath(folder) for d in dirs)


def stack_cache(dest: Path) -> Path:
    """The stack's own cache (stevedore's entry-point cache and the like)."""
    return dest / "data" / "cache"


def user_cache_env(layout: "Layout") -> dict[str, str]:
    """Environment for the stack's commands: caches that OpenStack's
    libraries keep under XDG_CACHE_HOME (stevedore writes
    ~/.cache/python-entrypoints) go under DEST, while uv keeps the user's
    own cache, which makes a second install's venv almost free."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return {"XDG_CACHE_HOME": str(stack_cache(layout.dest)),
            "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or os.path.join(base, "uv")}
