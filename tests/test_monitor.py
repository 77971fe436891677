"""The memory monitor on recorded and synthetic series: steady growth, a spike,
a step, a plateau, noise. No warning on a plateau, no flapping."""

import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from stacktui import monitor
from stacktui.monitor import MB, Monitor, forecast

TOTAL = 1000 * MB


def reading(t, avail, *, total=TOTAL, swap_total=0, swap_used=0, psi=None, panes=None,
            cgroup=None, pane_cgroups=()):
    return {"t": t, "time": 1e9 + t, "mem_total": total, "mem_available": avail,
            "swap_total": swap_total, "swap_used": swap_used, "swap_rate": 0.0, "psi": psi,
            "cgroup": cgroup, "pane_cgroups": list(pane_cgroups),
            "panes": panes if panes is not None else {}}


def play(series, mon=None, dt=1.0, panes=None, total=TOTAL, **kw):
    """Feed available-memory values one per ``dt``; return [(t, level, forecast)]."""
    mon = mon or Monitor()
    out = []
    for i, a in enumerate(series):
        p = panes(i, a) if panes else {}
        mon.update(reading(i * dt, a, panes=p, total=total, **kw))
        out.append((i * dt, mon.level, mon.forecast_s))
    return out, mon


def changes(levels):
    return sum(1 for a, b in zip(levels, levels[1:]) if a[1] != b[1])


def hog_panes(i, avail):
    return {"hog": {"pid": 10, "rss": TOTAL - avail - 300 * MB, "procs": 1},
            "keystone": {"pid": 11, "rss": 260 * MB, "procs": 3},
            "glance": {"pid": 12, "rss": 40 * MB, "procs": 2}}


# ---------------------------------------------------------------- forecast()

def test_forecast_steady_decline_is_accurate():
    pts = [(t, 800 * MB - 4 * MB * t) for t in range(30)]
    fc, slope = forecast(pts)
    left = pts[-1][1] / (4 * MB)
    assert fc == pytest.approx(left, rel=0.05)
    assert slope == pytest.approx(-4 * MB, rel=0.01)


def test_forecast_ignores_one_outlier():
    pts = [(t, 800 * MB - 4 * MB * t) for t in range(30)]
    pts[20] = (20, 100 * MB)
    fc, _ = forecast(pts)
    assert fc == pytest.approx((800 - 4 * 29) / 4, rel=0.1)


def test_forecast_none_on_plateau_noise_and_step():
    rnd = random.Random(7)
    flat = [(t, 500 * MB) for t in range(30)]
    noisy = [(t, 500 * MB + rnd.gauss(0, 20 * MB)) for t in range(30)]
    step = [(t, 800 * MB if t < 15 else 400 * MB) for t in range(30)]
    for pts in (flat, noisy, step):
        assert forecast(pts)[0] is None


def test_forecast_needs_enough_history():
    assert forecast([(t, 800 * MB - 50 * MB * t) for t in range(4)])[0] is None


def test_forecast_noisy_decline_still_seen():
    rnd = random.Random(3)
    pts = [(t, 800 * MB - 10 * MB * t + rnd.gauss(0, 8 * MB)) for t in range(30)]
    fc, _ = forecast(pts)
    assert fc == pytest.approx(510 / 10, rel=0.25)


# ---------------------------------------------------------------- levels

def test_allocation_burst_with_most_memory_free_does_not_warn():
    # Services starting on a big host: 200 MB/s for 20 s, then flat, with
    # 24 GB total: the trend alone would say "out in ~100 s".
    big = 24 * 1024 * MB
    series = [big - 1024 * MB - 200 * MB * min(i, 20) for i in range(60)]
    levels, _ = play(series, total=big)
    assert changes(levels) == 0 and levels[-1][1] == "ok"



def test_steady_growth_warns_early_and_names_the_pane(tmp_path):
    series = [900 * MB - 5 * MB * i for i in range(181)]     # runs out at t=180
    logf = tmp_path / "logs" / "monitor.log"
    levels, mon = play(series, Monitor({"forecast_below_pct": 100}, log_path=logf), panes=hog_panes)
    first_watch = next(t for t, lvl, _ in levels if lvl == "watch")
    first_danger = next(t for t, lvl, _ in levels if lvl == "danger")
    # watch when the forecast drops under 120 s, danger under 30 s.
    assert 180 - first_watch >= 115
    assert 180 - first_danger >= 28
    assert changes(levels) == 2
    w = mon.status()["warnings"][0]
    assert w.startswith("memory danger: host memory")
    assert "growing: hog" in w and "stop hog (`stacktui stop hog`)" in w
    assert "largest: hog" in w and "swapon" in w
    text = logf.read_text()
    assert "level ok -> watch" in text and "level watch -> danger" in text
    assert "runs out in ~" in text


def test_service_start_then_plateau_gives_no_warning():
    # 300 MB taken in 20 s on an 8 GB host, then flat with jitter: a service
    # that started. Far from running out, so no warning at any point.
    rnd = random.Random(11)
    series = [6000 * MB - min(i, 20) * 15 * MB + rnd.gauss(0, 3 * MB) for i in range(200)]
    levels, _ = play(series, total=8000 * MB)
    assert {lvl for _, lvl, _ in levels} == {"ok"}
    assert all(fc is None for t, _, fc in levels if t > 60)


def test_fast_growth_warns_then_plateau_clears_and_stays_clear():
    # On a small host the same start is worth a warning while it lasts; once
    # memory holds still the forecast goes away and the level clears for good.
    rnd = random.Random(12)
    series = [800 * MB - min(i, 20) * 15 * MB + rnd.gauss(0, 3 * MB) for i in range(200)]
    levels, _ = play(series)
    assert any(lvl == "watch" for t, lvl, _ in levels if t <= 21)
    assert all(fc is None for t, _, fc in levels if t > 60)
    assert {lvl for t, lvl, _ in levels if t > 70} == {"ok"}
    assert changes(levels) == 2


def test_flat_plateau_never_warns():
    levels, _ = play([500 * MB] * 300)
    assert {lvl for _, lvl, _ in levels} == {"ok"}
    assert all(fc is None for *_, fc in levels)


def test_spike_gives_no_warning():
    # A short burst of allocation (a db sync) that is freed again.
    series = [700 * MB] * 60 + [350 * MB, 300 * MB, 320 * MB] + [700 * MB] * 60
    levels, _ = play(series)
    assert {lvl for _, lvl, _ in levels} == {"ok"}


def test_noise_around_threshold_does_not_flap():
    rnd = random.Random(5)
    series = [200 * MB + rnd.gauss(0, 15 * MB) for _ in range(600)]
    levels, _ = play(series)
    assert changes(levels) <= 1
    assert levels[-1][1] == "watch"


@pytest.mark.parametrize("seed", range(12))
def test_noise_well_above_thresholds_never_warns(seed):
    # 4 % sigma jitter is far rougher than MemAvailable ever is; still quiet.
    rnd = random.Random(seed)
    levels, _ = play([600 * MB + rnd.gauss(0, 40 * MB) for _ in range(400)])
    assert {lvl for _, lvl, _ in levels} == {"ok"}


@pytest.mark.parametrize("seed", range(6))
def test_noise_at_threshold_never_flaps(seed):
    rnd = random.Random(100 + seed)
    levels, _ = play([200 * MB + rnd.gauss(0, 15 * MB) for _ in range(300)])
    assert changes(levels) <= 1


def test_recovery_needs_margin_and_time():
    series = [150 * MB] * 20 + [260 * MB] * 40
    levels, _ = play(series)
    assert levels[19][1] == "watch"
    # 26 % is above 20 % + 5 % margin: clears only after clear_after_s (15 s).
    cleared = next(t for t, lvl, _ in levels if t > 19 and lvl == "ok")
    assert cleared == pytest.approx(20 + 15, abs=1)
    assert levels[0][1] == "watch" and changes(levels) == 1


def test_free_swap_holds_off_the_percentage_levels():
    # 5 % RAM left but 90 % of 2 GB swap free: the kernel pages out first.
    levels, _ = play([50 * MB] * 20, swap_total=2048 * MB, swap_used=200 * MB)
    assert {lvl for _, lvl, _ in levels} == {"ok"}
    levels, _ = play([50 * MB] * 20, swap_total=2048 * MB, swap_used=1900 * MB)
    assert levels[-1][1] == "danger"


def test_psi_full_sustained_30s_is_danger_and_short_burst_is_not():
    mon = Monitor()
    for t in range(25):
        mon.update(reading(t, 600 * MB, psi={"some": 80.0, "full": 70.0}))
    assert mon.level == "watch"          # some >= 20 % for 10 s; full not yet 30 s
    for t in range(25, 40):
        mon.update(reading(t, 600 * MB, psi={"some": 80.0, "full": 70.0}))
    assert mon.level == "danger"
    assert "memory pressure (full 70% for 3" in mon.status()["warnings"][0]
    mon2 = Monitor()
    for t in range(60):
        p = 90.0 if t % 20 < 5 else 0.0
        mon2.update(reading(t, 600 * MB, psi={"some": p, "full": p}))
        assert mon2.level == "ok"


def test_thresholds_are_configurable():
    levels, _ = play([350 * MB] * 5, Monitor({"watch_available_pct": 40.0}))
    assert levels[-1][1] == "watch"


def test_pane_cgroup_domain_warns_for_its_pane_only():
    # Host is fine; the hog's own cgroup (256 MB) fills at 8 MB/s.
    mon = Monitor()
    for i in range(25):
        use = 40 * MB + 8 * MB * i
        mon.update(reading(i, 800 * MB, panes={
            "hog": {"pid": 10, "rss": use, "procs": 1},
            "keystone": {"pid": 11, "rss": 300 * MB, "procs": 3}},
            pane_cgroups=[{"path": "/sys/fs/cgroup/memory/stacktui/hog", "limit": 256 * MB,
                           "usage": use, "panes": ["hog"]}]))
    st = mon.status()
    assert st["level"] == "danger"
    assert st["forecast_s"] == pytest.approx((256 - 40 - 8 * 24) / 8, abs=1.5)
    w = st["warnings"][0]
    assert "cgroup /sys/fs/cgroup/memory/stacktui/hog" in w
    assert "stop hog" in w and "keystone" not in w and "raise the cgroup's memory limit" in w
    json.dumps(st)


# ---------------------------------------------------------------- real reads

def w(root: Path, path: str, text: str) -> Path:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_read_from_fake_root_finds_pane_cgroup(tmp_path):
    root = tmp_path
    pid = os.getpid()
    w(root, "/proc/meminfo", "MemTotal: 2000000 kB\nMemAvailable: 1000000 kB\n"
                             "SwapTotal: 1000 kB\nSwapFree: 500 kB\n")
    w(root, "/proc/pressure/memory", "some avg10=1.5 avg60=0 avg300=0 total=0\n"
                                     "full avg10=0.5 avg60=0 avg300=0 total=0\n")
    w(root, "/proc/self/mountinfo",
      "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
    w(root, "/proc/self/cgroup", "4:memory:/\n")
    w(root, f"/proc/{pid}/cgroup", "4:memory:/stacktui/hog\n")
    base = root / "sys/fs/cgroup/memory"
    w(base, "memory.limit_in_bytes", "9223372036854771712\n")
    w(base, "memory.usage_in_bytes", "5000\n")
    w(base, "stacktui/memory.limit_in_bytes", "9223372036854771712\n")
    w(base, "stacktui/hog/memory.limit_in_bytes", str(100 * MB))
    w(base, "stacktui/hog/memory.usage_in_bytes", str(30 * MB))
    mon = Monitor(pane_pids=lambda: {"hog": pid}, root=root)
    s = mon.sample()
    assert s["mem_available"] == 1000000 * 1024 and s["swap_used"] == 500 * 1024
    assert s["psi"] == {"some": 1.5, "full": 0.5}
    assert s["cgroup"]["limit"] is None
    assert s["pane_cgroups"] == [{"path": str(base / "stacktui/hog"), "limit": 100 * MB,
                                  "usage": 30 * MB, "panes": ["hog"]}]
    assert s["panes"]["hog"]["pid"] == pid and s["panes"]["hog"]["rss"] > 1 * MB
    keys = [d["key"] for d in mon.status()["domains"]]
    assert keys == ["host", str(base / "stacktui/hog")]


def test_tree_rss_sums_children():
    p = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.time() + 5
        while time.time() < deadline:
            got = monitor._tree_rss({"sh": p.pid, "gone": 999999999})
            if got.get("sh", {}).get("procs") == 3:
                break
            time.sleep(0.05)
        assert got["sh"]["procs"] == 3 and got["sh"]["rss"] > 0
        assert "gone" not in got
    finally:
        subprocess.run(["pkill", "-P", str(p.pid)])
        p.kill()
        p.wait()


def test_thread_start_stop_and_status(tmp_path):
    mon = Monitor(pane_pids=lambda: {"me": os.getpid()}, log_path=tmp_path / "m.log")
    mon.start(interval=0.05)
    time.sleep(0.4)
    mon.stop()
    st = mon.status()
    assert st["level"] in ("ok", "watch", "danger") and st["errors"] == 0
    assert st["sample"]["panes"]["me"]["procs"] >= 1
    json.dumps(st)


def test_oom_kill_helpers(tmp_path):
    w(tmp_path, "/proc/vmstat", "oom_kill 2\n")
    assert monitor.oom_kill_count(root=tmp_path) == 2
    assert monitor.killed_by_oom(-9, before=1, root=tmp_path)
    assert not monitor.killed_by_oom(-9, before=2, root=tmp_path)     # plain kill -9
    assert not monitor.killed_by_oom(1, before=0, root=tmp_path)      # a crash
    assert monitor.killed_by_oom(137, before=0, after=1)
