"""Memory facts from cgroups: the limit that really applies, usage, OOM kills.

psutil reports the host's memory, not a container's (psutil issue 2100), so
both the fitness checks and the monitor ask here. Works with cgroup v1 (a
``memory`` hierarchy) and v2 (the unified hierarchy); every read goes through
a ``root`` prefix so tests build a fake /proc and /sys under tmp_path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# v1 reports "no limit" as LONG_MAX rounded down to a page; anything this
# large is not a limit anyone set.
_UNLIMITED = 1 << 60


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _under(root: str | Path, path: str) -> Path:
    return Path(root) / path.lstrip("/")


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/PID/cgroup`` as {controller: path}; the v2 entry is under ""."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if not ctrls:
            out[""] = path
        for c in ctrls.split(","):
            if c:
                out[c] = path
    return out


@dataclass(frozen=True)
class _Mount:
    point: str      # where it is mounted, e.g. /sys/fs/cgroup/memory
    root: str       # which cgroup path is visible at that mount point
    version: int


def _mounts(root: str | Path) -> list[_Mount]:
    text = _read(_under(root, "/proc/self/mountinfo")) or ""
    out = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        f, r = left.split(), right.split()
        if len(f) < 5 or len(r) < 3:
            continue
        if r[0] == "cgroup2":
            out.append(_Mount(f[4], f[3], 2))
        elif r[0] == "cgroup" and "memory" in r[2].split(","):
            out.append(_Mount(f[4], f[3], 1))
    return out


@dataclass(frozen=True)
class MemCgroup:
    """The memory cgroup of one process, as directories on this machine."""
    version: int
    path: Path          # the process's own cgroup directory (already rooted)
    top: Path           # the mount point: ancestors are walked up to here

    def chain(self) -> list[Path]:
        """The cgroup and its ancestors, innermost first."""
        out, p = [self.path], self.path
        while p != self.top and self.top in p.parents:
            p = p.parent
            out.append(p)
        return out

    def limit(self) -> int | None:
        """The cgroup's own limit in bytes, None when unlimited."""
        return _limit_of(self.path, self.version)

    def effective_limit(self) -> int | None:
        """The smallest limit of the cgroup and its ancestors: what the kernel
        enforces on the processes in it."""
        lims = [x for x in (_limit_of(p, self.version) for p in self.chain()) if x is not None]
        return min(lims) if lims else None

    def usage(self) -> int | None:
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return _int(_read(self.path / name))

    def working_set(self) -> int | None:
        """Usage minus inactive page cache: what the kernel cannot just drop
        before it starts killing (the figure cAdvisor/kubelet evict on)."""
        use = self.usage()
        if use is None:
            return None
        stat = _kv(_read(self.path / "memory.stat") or "")
        inactive = stat.get("total_inactive_file" if self.version == 1 else "inactive_file", 0)
        return max(0, use - inactive)

    def oom_kills(self) -> int:
        """OOM kills inside this cgroup (0 where the kernel does not count)."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return _kv(_read(self.path / name) or "").get("oom_kill", 0)


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _limit_of(path: Path, version: int) -> int | None:
    v = _int(_read(path / ("memory.limit_in_bytes" if version == 1 else "memory.max")))
    return None if v is None or v >= _UNLIMITED else v


def _kv(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def memory_cgroup(pid: int | str = "self", root: str | Path = "/") -> MemCgroup | None:
    """Where the memory cgroup of ``pid`` lives, or None without cgroups.

    A v1 memory hierarchy wins over v2 when both are mounted (hybrid hosts
    keep the memory controller on v1; the unified tree then limits nothing)."""
    text = _read(_under(root, f"/proc/{pid}/cgroup"))
    if text is None:
        return None
    cg = parse_proc_cgroup(text)
    mounts = _mounts(root)
    if not mounts:
        # No mountinfo (fake trees, odd containers): assume the usual places.
        mounts = [_Mount("/sys/fs/cgroup/memory", "/", 1), _Mount("/sys/fs/cgroup", "/", 2)]
    for version, key in ((1, "memory"), (2, "")):
        if key not in cg:
            continue
        for m in mounts:
            if m.version != version:
                continue
            top = _under(root, m.point)
            if version == 2 and not (top / "cgroup.controllers").exists() and \
                    not (top / "memory.max").exists() and not (top / "memory.current").exists():
                continue
            if version == 2 and "memory" not in (_read(top / "cgroup.controllers") or "memory"):
                continue
            rel = cg[key]
            # The mount may show only a subtree (container, cgroup namespace):
            # strip the part of the path that lies above the mount point.
            if m.root != "/" and (rel == m.root or rel.startswith(m.root.rstrip("/") + "/")):
                rel = rel[len(m.root):]
            path = _under(top, rel)
            if not path.is_dir():
                path = top
            return MemCgroup(version, path, top)
    return None


def effective_limit(pid: int | str = "self", root: str | Path = "/") -> int | None:
    cg = memory_cgroup(pid, root)
    return cg.effective_limit() if cg else None


def vmstat_oom_kills(root: str | Path = "/") -> int:
    return _kv(_read(_under(root, "/proc/vmstat")) or "").get("oom_kill", 0)


def oom_kill_count(pid: int | str | None = None, root: str | Path = "/") -> int:
    """A counter that goes up when the kernel OOM-kills a process.

    The supervisor snapshots it when a pane starts and compares when the pane
    dies by SIGKILL. With ``pid``, the pane's own cgroup counter is added, so
    a kill inside a limited cgroup counts even where /proc/vmstat does not
    see it (older kernels count cgroup OOMs only in the cgroup)."""
    n = vmstat_oom_kills(root)
    if pid is not None:
        cg = memory_cgroup(pid, root)
        if cg is not None:
            n += cg.oom_kills()
    return n


def meminfo(root: str | Path = "/") -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out = {}
    for line in (_read(_under(root, "/proc/meminfo")) or "").splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            try:
                v = int(parts[0])
            except ValueError:
                continue
            out[name] = v * 1024 if len(parts) > 1 and parts[1] == "kB" else v
    return out


def psi_memory(root: str | Path = "/") -> dict[str, float] | None:
    """PSI memory avg10 as {"some": %, "full": %}, None where absent."""
    text = _read(_under(root, "/proc/pressure/memory"))
    if text is None:
        return None
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        for p in parts[1:]:
            if p.startswith("avg10="):
                try:
                    out[parts[0]] = float(p[6:])
                except ValueError:
                    pass
    return out


__all__ = ["MemCgroup", "memory_cgroup", "effective_limit", "oom_kill_count",
           "vmstat_oom_kills", "meminfo", "psi_memory", "parse_proc_cgroup"]
