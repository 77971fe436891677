"""Files written the way a careful operator writes them: atomically, with modes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def open_log(path: str | Path, mode: int = 0o640) -> int:
    """An append-only descriptor on a log under DEST that never follows a
    symlink: a link planted in logs/ makes the open fail (ELOOP) instead of
    appending to, or chmodding, whatever file it points at."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        raise
    return fd


def copy_file(src: str | Path, dst: str | Path, mode: int = 0o644) -> None:
    """shutil.copyfile opens the destination and so writes through a
    symlink planted there; a temp file renamed over it replaces the link."""
    atomic_write(dst, Path(src).read_bytes(), mode=mode)


def make_dirs(*paths: str | Path, mode: int = 0o750) -> None:
    """mkdir -p and chmod, refusing a symlink where a folder should be (a
    chmod through it would change the mode of whatever it points at)."""
    import stat
    for p in map(Path, paths):
        p.mkdir(parents=True, exist_ok=True)
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            raise OSError(f"{p} is a symlink, not a folder stacktui made; remove it")
        os.chmod(p, mode)


def atomic_write(path: str | Path, text: str | bytes, mode: int = 0o644) -> None:
    """Write to a temp file in the same folder with ``mode`` set before any
    byte lands, fsync, then rename over ``path``: a reader sees the old file
    or the new one, never half of it, and a secret is never world-readable."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
