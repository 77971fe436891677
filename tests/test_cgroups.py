"""cgroup memory facts read from fake /proc and /sys trees."""

from pathlib import Path

from stacktui import cgroups

from tests.conftest import write_under as w

V1_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V2_MOUNTINFO = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
UNLIMITED_V1 = "9223372036854771712\n"


def v1_tree(root: Path, limits: dict[str, str], cg="/a/b") -> Path:
    w(root, "/proc/self/mountinfo", V1_MOUNTINFO)
    w(root, "/proc/self/cgroup", f"5:devices:/\n4:memory:{cg}\n1:cpu:/\n0::/\n")
    base = root / "sys/fs/cgroup/memory"
    for rel, lim in limits.items():
        w(base, rel + "/memory.limit_in_bytes", lim)
    return base


def test_parse_proc_cgroup_v1_and_v2():
    got = cgroups.parse_proc_cgroup("4:memory:/x/y\n3:cpu,cpuacct:/z\n0::/unified\n")
    assert got == {"memory": "/x/y", "cpu": "/z", "cpuacct": "/z", "": "/unified"}


def test_v1_effective_limit_is_smallest_ancestor(tmp_path):
    base = v1_tree(tmp_path, {"": UNLIMITED_V1, "a": "536870912\n", "a/b": "1073741824\n"})
    w(base, "a/b/memory.usage_in_bytes", "300000000\n")
    w(base, "a/b/memory.stat", "cache 1\ntotal_inactive_file 100000000\n")
    cg = cgroups.memory_cgroup("self", tmp_path)
    assert cg.version == 1 and cg.path == base / "a/b"
    assert [p.relative_to(base).as_posix() for p in cg.chain()] == ["a/b", "a", "."]
    assert cg.limit() == 1 << 30
    assert cg.effective_limit() == 512 << 20          # the parent's is tighter
    assert cg.usage() == 300000000
    assert cg.working_set() == 200000000
    assert cgroups.effective_limit("self", tmp_path) == 512 << 20


def test_v1_unlimited_everywhere_is_none(tmp_path):
    v1_tree(tmp_path, {"": UNLIMITED_V1, "a": UNLIMITED_V1, "a/b": UNLIMITED_V1})
    assert cgroups.effective_limit("self", tmp_path) is None


def test_v2_limit_with_max_and_namespace_root(tmp_path):
    # The container sees only its subtree: mount root /ct, process in /ct/app.
    w(tmp_path, "/proc/self/mountinfo",
      "30 23 0:26 /ct /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n")
    w(tmp_path, "/proc/self/cgroup", "0::/ct/app\n")
    base = tmp_path / "sys/fs/cgroup"
    w(base, "cgroup.controllers", "cpu io memory pids\n")
    w(base, "memory.max", "2147483648\n")
    w(base, "app/memory.max", "max\n")
    w(base, "app/memory.current", "1000\n")
    w(base, "app/memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n")
    cg = cgroups.memory_cgroup("self", tmp_path)
    assert cg.version == 2 and cg.path == base / "app"
    assert cg.limit() is None
    assert cg.effective_limit() == 2 << 30
    assert cg.usage() == 1000
    assert cg.oom_kills() == 2


def test_v1_preferred_on_hybrid_host(tmp_path):
    v1_tree(tmp_path, {"": UNLIMITED_V1, "a/b": "1048576\n"})
    w(tmp_path, "/sys/fs/cgroup/unified/cgroup.controllers", "")
    assert cgroups.memory_cgroup("self", tmp_path).version == 1


def test_no_cgroup_file_means_none(tmp_path):
    assert cgroups.memory_cgroup("self", tmp_path) is None
    assert cgroups.effective_limit(1234, tmp_path) is None


def test_oom_kill_counters(tmp_path):
    w(tmp_path, "/proc/vmstat", "nr_free_pages 1\noom_kill 3\n")
    assert cgroups.vmstat_oom_kills(tmp_path) == 3
    base = v1_tree(tmp_path, {"": UNLIMITED_V1, "a/b": "1048576\n"})
    w(tmp_path, "/proc/77/cgroup", "4:memory:/a/b\n")
    w(base, "a/b/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert cgroups.oom_kill_count(None, tmp_path) == 3
    assert cgroups.oom_kill_count(77, tmp_path) == 4
    assert cgroups.oom_kill_count(78, tmp_path) == 3     # gone: host counter only


def test_meminfo_and_psi(tmp_path):
    w(tmp_path, "/proc/meminfo", "MemTotal:  1000 kB\nMemAvailable:  250 kB\nHugePages_Total: 0\n")
    w(tmp_path, "/proc/pressure/memory",
      "some avg10=12.50 avg60=1.00 avg300=0.00 total=5\nfull avg10=3.25 avg60=0 avg300=0 total=1\n")
    assert cgroups.meminfo(tmp_path) == {"MemTotal": 1024000, "MemAvailable": 256000,
                                         "HugePages_Total": 0}
    assert cgroups.psi_memory(tmp_path) == {"some": 12.5, "full": 3.25}
    assert cgroups.psi_memory(tmp_path / "nothing") is None


def test_real_machine_does_not_crash():
    cg = cgroups.memory_cgroup()
    if cg is not None:
        cg.effective_limit()
        cg.working_set()
    assert cgroups.oom_kill_count() >= 0
