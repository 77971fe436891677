"""Where things live under DEST. One place, so `clean` knows exactly what
install created and removes that and nothing else."""

from __future__ import annotations

import os
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


def state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "stacktui"


def remember_last(dest: Path) -> None:
    d = state_home()
    d.mkdir(parents=True, exist_ok=True)
    (d / "last-dest").write_text(str(dest) + "\n")


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
