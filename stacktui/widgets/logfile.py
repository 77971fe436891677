"""A pane's log files read directly (DEST/logs/NAME.log and its rotations,
already masked by the supervisor): older scrollback than the supervisor's
ring holds, and search over everything kept, as `less` would."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROTATIONS = 3          # pane.py keeps NAME.log.1 .. NAME.log.3
BLOCK = 1 << 16


def log_paths(logs: Path, name: str) -> list[Path]:
    """Oldest first: NAME.log.3 .. NAME.log.1, NAME.log."""
    base = Path(logs) / f"{name}.log"
    paths = [base.with_name(f"{base.name}.{i}") for i in range(ROTATIONS, 0, -1)] + [base]
    return [p for p in paths if p.exists()]


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def tail_lines(paths: list[Path], n: int, last_size: int | None = None) -> list[str]:
    """The last ``n`` lines of the files together, the newest file read
    only up to ``last_size`` bytes. Reads backwards in blocks, so a 10 MB
    log costs what the lines asked for, not the whole file."""
    out: list[str] = []
    for i, path in enumerate(reversed(paths)):
        limit = last_size if (i == 0 and last_size is not None) else size_of(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            pos, chunks, count = limit, [], 0
            while pos > 0 and count <= n:
                step = min(BLOCK, pos)
                pos -= step
                chunk = os.pread(fd, step, pos)
                chunks.append(chunk)
                count += chunk.count(b"\n")
        finally:
            os.close(fd)
        lines = _lines(b"".join(reversed(chunks)))
        if pos > 0 and lines:
            lines = lines[1:]       # cut mid-line
        out = lines + out
        if len(out) >= n:
            return out[-n:]
    return out[-n:] if n else []


def all_lines(paths: list[Path]) -> list[str]:
    out: list[str] = []
    for p in paths:
        try:
            out.extend(_lines(p.read_bytes()))
        except OSError:
            pass
    return out


def older_than_ring(file_tail: list[str], ring: list[str], probe: int = 20) -> list[str] | None:
    """The lines of ``file_tail`` (the log up to a moment before the ring
    was taken) that come before the ring's first line. The ring's head is
    found in the file by its first ``probe`` lines; None when it is not
    there (a rotated-away head, a truncated long line): the caller shows
    the ring alone rather than guess and show a line twice."""
    if not ring:
        return list(file_tail)
    head = ring[:probe]
    first = head[0]
    n = len(file_tail)
    # Newest candidate first is wrong: the ring's head is the oldest line of
    # the ring, so take the earliest position whose following lines agree.
    for i in range(max(0, n - len(ring)), n):
        if file_tail[i] == first and file_tail[i:i + len(head)] == head[:n - i]:
            return file_tail[:i]
    if len(ring) >= n:
        return []
    return None


def find_all(lines: list[str], pattern: re.Pattern, plain) -> list[int]:
    return [i for i, line in enumerate(lines) if pattern.search(plain(line))]
