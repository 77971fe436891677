"""Memory watch for the running stack: warn before the OOM killer acts.

The seed story is neutron OOM-killed again and again on a small VM with
nothing on screen but a crash. The supervisor daemon runs one Monitor in a
background thread (walking /proc inside a UI loop burned a core in
process-compose, FIELD-NOTES section 5). About once a second it reads the
host's memory, swap, PSI, the cgroup limits that apply, and each pane's RSS
over its whole process tree; it forecasts when memory runs out and keeps a
level: ok, watch, danger.

Memory is watched in "domains": the host (MemAvailable plus free swap), the
daemon's own cgroup when it has a limit, and any limited cgroup a pane runs
in. The worst domain sets the level.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from . import cgroups

log = logging.getLogger(__name__)

MB = 1024 * 1024
LEVELS = ("ok", "watch", "danger")

DEFAULT_THRESHOLDS: dict = {
    # nohang warns when MemAvailable <= 20 % and free swap <= 25 %.
    "watch_available_pct": 20.0,
    "watch_swap_free_pct": 25.0,
    # earlyoom sends SIGTERM at 10 % / 10 % (SIGKILL at 5 %: by then a warning
    # is too late, so 10 % is our danger).
    "danger_available_pct": 10.0,
    "danger_swap_free_pct": 10.0,
    # systemd-oomd acts on memory PSI "full" above 60 % for 30 s.
    "danger_psi_full": 60.0,
    "danger_psi_seconds": 30.0,
    # Tasks stalled on memory a fifth of the time for a while: thrashing starts.
    "watch_psi_some": 20.0,
    "watch_psi_seconds": 10.0,
    # Forecast: seconds until the headroom is gone at the recent rate.
    "watch_forecast_s": 120.0,
    # A burst of allocation on a nearly empty machine (services starting)
    # forecasts exhaustion too, but is no danger: forecasts count only once
    # less than this share of memory is left.
    "forecast_below_pct": 50.0,
    "danger_forecast_s": 30.0,
    "window_s": 30.0,          # the trend is fitted over this much history
    "min_trend_s": 8.0,        # and needs at least this much of it
    "min_trend_points": 10,
    "forecast_confirm": 3,     # consecutive forecasts before one may raise the level
    "min_trend_mb": 8.0,       # a decline smaller than this is noise, whatever the fit
    # Hysteresis: a level clears only when every figure is this much better
    # than the threshold that raised it, for clear_after_s.
    "clear_margin_pct": 5.0,
    "clear_forecast_factor": 2.0,
    "clear_after_s": 15.0,
    "log_every_s": 30.0,       # repeat an unchanged warning in monitor.log this often
}

SWAP_ADVICE = ("add swap (fallocate -l 4G /swapfile && chmod 600 /swapfile && "
               "mkswap /swapfile && swapon /swapfile)")


def oom_kill_count(pid: int | None = None, root: str | Path = "/") -> int:
    """The OOM kill counter (/proc/vmstat plus the pane's cgroup when ``pid``
    is given). Snapshot it when a pane starts; when the pane dies by SIGKILL
    and the count went up, the OOM killer did it."""
    return cgroups.oom_kill_count(pid, root)


def killed_by_oom(returncode: int | None, before: int, pid: int | None = None,
                  root: str | Path = "/", after: int | None = None) -> bool:
    """True when a process that exited with ``returncode`` (negative signal
    number as subprocess reports it, or 128+9 from a shell) died of the OOM
    killer: SIGKILL and the counter moved since ``before``."""
    if returncode not in (-9, 137):
        return False
    now = after if after is not None else oom_kill_count(pid, root)
    return now > before


# ---------------------------------------------------------------- trend

def _theil_sen(pts) -> float | None:
    """Median of pairwise slopes: one bad sample cannot drag the line, which
    a least-squares fit would let it do."""
    n = len(pts)
    if n < 3:
        return None
    slopes = []
    for i in range(n):
        ti, yi = pts[i]
        for j in range(i + 1, n):
            dt = pts[j][0] - ti
            if dt > 0:
                slopes.append((pts[j][1] - yi) / dt)
    return statistics.median(slopes) if slopes else None


def _slope_se(pts, noise_sd: float) -> float:
    """Standard error of a fitted slope for points with this noise."""
    ts = [t for t, _ in pts]
    tm = sum(ts) / len(ts)
    sxx = sum((t - tm) ** 2 for t in ts)
    return noise_sd / sxx ** 0.5 if sxx > 0 else float("inf")


def forecast(points, *, min_span: float = 8.0, min_drop: float = 8 * MB,
             min_points: int = 10) -> tuple[float | None, float]:
    """(seconds until headroom reaches 0, slope in bytes/s) from (t, headroom)
    points, oldest first. None when memory is not running out.

    A forecast needs the decline in both halves of the window: a step (one
    big allocation that then stays) has a flat half and gives none, so only
    a decline that is still going on warns. The slopes must stand out of the
    noise (robust sigma from the median deviation around the fitted line):
    the whole window's by 4 standard errors, each half's by 3, and the
    decline must exceed ``min_drop``; jitter on a plateau never forecasts."""
    pts = list(points)
    if len(pts) < min_points or pts[-1][0] - pts[0][0] < min_span:
        return None, 0.0
    slope = _theil_sen(pts)
    if slope is None or slope >= 0:
        return None, slope or 0.0
    t0 = pts[0][0]
    resid = [y - slope * (t - t0) for t, y in pts]
    mid = statistics.median(resid)
    # 1.4826 * MAD estimates sigma for normal noise; the floor keeps a
    # perfectly smooth synthetic line from dividing by zero.
    sd = max(1.4826 * statistics.median(abs(r - mid) for r in resid), 64 * 1024)
    if -slope < 4 * _slope_se(pts, sd) or -slope * (pts[-1][0] - t0) < min_drop:
        return None, slope
    half = len(pts) // 2
    recent = slope
    for part in (pts[:half + 1], pts[half:]):
        s = _theil_sen(part)
        if s is None or s >= 0 or -s < 3 * _slope_se(part, sd):
            return None, slope
        recent = s
    # The recent half sets the rate (a leak that speeds up is caught early);
    # the median of the last samples sets where we are, so one outlier does
    # not move the forecast.
    now = statistics.median(y for _, y in pts[-3:])
    if now <= 0:
        return 0.0, recent
    return now / -recent, recent


# ---------------------------------------------------------------- reading

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _proc_table(proc: str = "/proc") -> dict[int, tuple[int, int]]:
    """{pid: (ppid, rss bytes)} from one read of each /proc/PID/stat.

    psutil (process_iter + memory_info) reads each stat file two or three
    times per process to guard against pid reuse; on a 100-process host that
    tripled the sampling cost and put the monitor over 1 % of a core. Both
    figures are in stat, so one read is enough."""
    out = {}
    try:
        names = os.listdir(proc)
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = data[data.rfind(b")") + 2:].split()
        try:
            out[int(name)] = (int(fields[1]), int(fields[21]) * _PAGE)
        except (IndexError, ValueError):
            continue
    return out


def _tree_rss(pane_pids: dict[str, int], proc: str = "/proc") -> dict[str, dict]:
    """RSS of each pane's whole process tree from one pass over /proc (one
    psutil.children() per pane would rescan /proc once per pane)."""
    table = _proc_table(proc)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for name, pid in pane_pids.items():
        if not pid or pid not in table:
            continue
        rss, procs, stack, seen = 0, 0, [pid], set()
        while stack:
            q = stack.pop()
            if q in seen or q not in table:
                continue
            seen.add(q)
            rss += table[q][1]
            procs += 1
            stack.extend(children.get(q, ()))
        out[name] = {"pid": pid, "rss": rss, "procs": procs}
    return out


class Monitor:
    def __init__(self, thresholds: dict | None = None,
                 pane_pids: Callable[[], dict[str, int]] | None = None,
                 log_path: Path | None = None, root: str | Path = "/",
                 on_change: Callable[[dict], None] | None = None):
        self.th = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
        self.pane_pids = pane_pids or (lambda: {})
        self.log_path = Path(log_path) if log_path else None
        self.root = root
        self.on_change = on_change
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._own = cgroups.memory_cgroup("self", root)
        self._pane_cg: dict[int, cgroups.MemCgroup | None] = {}
        self._hist: dict[str, deque] = {}          # domain key -> (t, headroom)
        self._fc_streak: dict[str, int] = {}
        self._pane_hist: dict[str, deque] = {}     # pane -> (t, rss)
        self._psi_since = {"some": None, "full": None}
        self._prev_swap: tuple[float, int] | None = None
        self.level = "ok"
        self._clear_since: float | None = None
        self._last_log = (None, 0.0)               # (text, t)
        self.latest: dict | None = None
        self.warnings: list[str] = []
        self.forecast_s: float | None = None
        self.errors = 0

    # ------------------------------------------------------------ reading

    def read(self) -> dict:
        """One reading of the machine, without judging it."""
        now = time.monotonic()
        mi = cgroups.meminfo(self.root)
        swap_total = mi.get("SwapTotal", 0)
        swap_used = swap_total - mi.get("SwapFree", 0)
        rate = 0.0
        if self._prev_swap and now > self._prev_swap[0]:
            rate = (swap_used - self._prev_swap[1]) / (now - self._prev_swap[0])
        self._prev_swap = (now, swap_used)
        psi = cgroups.psi_memory(self.root)
        pids = dict(self.pane_pids() or {})
        panes = _tree_rss(pids)
        own = None
        if self._own is not None:
            own = {"path": str(self._own.path), "limit": self._own.effective_limit(),
                   "usage": self._own.working_set()}
        # Panes that run in a cgroup with a tighter limit than ours form their
        # own domain: a hog inside one is killed long before the host is short.
        groups: dict[str, dict] = {}
        for name, pid in pids.items():
            if pid not in self._pane_cg:
                self._pane_cg[pid] = cgroups.memory_cgroup(pid, self.root)
            cg = self._pane_cg[pid]
            if cg is None or (self._own is not None and cg.path == self._own.path):
                continue
            g = groups.get(str(cg.path))
            if g is None:
                lim = cg.effective_limit()
                if lim is None or (own and own["limit"] is not None and lim >= own["limit"]):
                    continue
                g = groups[str(cg.path)] = {"path": str(cg.path), "limit": lim,
                                            "usage": cg.working_set(), "panes": []}
            g["panes"].append(name)
        live = set(pids.values())
        for pid in [p for p in self._pane_cg if p not in live]:
            del self._pane_cg[pid]
        return {"t": now, "time": time.time(),
                "mem_total": mi.get("MemTotal", 0), "mem_available": mi.get("MemAvailable", 0),
                "swap_total": swap_total, "swap_used": swap_used, "swap_rate": rate,
                "psi": psi, "cgroup": own, "pane_cgroups": list(groups.values()),
                "panes": panes}

    def sample(self) -> dict:
        """Read the machine once and update level, forecast and warnings."""
        s = self.read()
        self.update(s)
        return s

    # ------------------------------------------------------------ judging

    def _domains(self, s: dict) -> list[dict]:
        out = []
        total = s.get("mem_total") or 0
        if total:
            swap_total = s.get("swap_total", 0)
            swap_free = swap_total - s.get("swap_used", 0)
            out.append({"key": "host", "what": "host memory", "total": total,
                        "avail": s.get("mem_available", 0), "swap_total": swap_total,
                        "swap_free": swap_free, "headroom": s.get("mem_available", 0) + swap_free,
                        "panes": None})
        groups = []
        own = s.get("cgroup")
        if own and own.get("limit"):
            groups.append((own, None))
        for g in s.get("pane_cgroups") or ():
            groups.append((g, g.get("panes")))
        for g, panes in groups:
            avail = max(0, g["limit"] - (g.get("usage") or 0))
            out.append({"key": g["path"], "what": f"cgroup {g['path']}", "total": g["limit"],
                        "avail": avail, "swap_total": 0, "swap_free": 0, "headroom": avail,
                        "panes": panes})
        return out

    def _domain_level(self, d: dict, fc: float | None, relax: bool) -> tuple[str, str]:
        """The level one domain calls for, and why. ``relax`` applies the
        clearing margins, so a figure hovering at a threshold cannot flap."""
        th = self.th
        m = th["clear_margin_pct"] if relax else 0.0
        f = th["clear_forecast_factor"] if relax else 1.0
        pct = 100.0 * d["avail"] / d["total"] if d["total"] else 100.0
        spct = 100.0 * d["swap_free"] / d["swap_total"] if d["swap_total"] else 0.0
        # As in earlyoom and nohang, low memory counts only once swap is low
        # too: with free swap the kernel pages out before it kills.
        for lvl in ("danger", "watch"):
            if pct <= th[f"{lvl}_available_pct"] + m and \
                    (not d["swap_total"] or spct <= th[f"{lvl}_swap_free_pct"] + m):
                return lvl, f"{pct:.0f}% available"
            if fc is not None and fc <= th[f"{lvl}_forecast_s"] * f and \
                    pct <= th["forecast_below_pct"] + m:
                return lvl, f"runs out in ~{fc:.0f} s"
        return "ok", ""

    def _psi_level(self, psi: dict | None, t: float) -> tuple[int, str]:
        """PSI must stay above its threshold for a while (systemd-oomd's rule);
        the clock resets only once it falls clear below, so a value wobbling
        at the threshold keeps counting instead of restarting."""
        th = self.th
        out, why = 0, ""
        for kind, lvl in (("some", "watch"), ("full", "danger")):
            v = (psi or {}).get(kind)
            limit = th[f"{lvl}_psi_{kind}"]
            if v is not None and v >= limit:
                if self._psi_since[kind] is None:
                    self._psi_since[kind] = t
            elif v is None or v < limit - th["clear_margin_pct"]:
                self._psi_since[kind] = None
            since = self._psi_since[kind]
            if since is not None and t - since >= th[f"{lvl}_psi_seconds"]:
                out, why = LEVELS.index(lvl), f"memory pressure ({kind} {v or 0:.0f}% " \
                                              f"for {t - since:.0f} s)"
        return out, why

    def update(self, s: dict) -> None:
        """Judge one reading (from :meth:`read`, or made up by a test)."""
        th = self.th
        t = s["t"]
        win = th["window_s"]
        domains = self._domains(s)
        keys = {d["key"] for d in domains}
        for k in [k for k in self._hist if k not in keys]:
            del self._hist[k]
            self._fc_streak.pop(k, None)
        for name, p in (s.get("panes") or {}).items():
            h = self._pane_hist.setdefault(name, deque())
            h.append((t, p["rss"]))
            while h and h[0][0] < t - win:
                h.popleft()
        for name in [n for n in self._pane_hist if n not in (s.get("panes") or {})]:
            del self._pane_hist[name]

        raw, relaxed, best_fc, reasons = 0, 0, None, []
        for d in domains:
            h = self._hist.setdefault(d["key"], deque())
            h.append((t, d["headroom"]))
            while h and h[0][0] < t - win:
                h.popleft()
            fc, slope = forecast(h, min_span=th["min_trend_s"], min_drop=th["min_trend_mb"] * MB,
                                 min_points=th["min_trend_points"])
            d["forecast_s"], d["slope"] = fc, slope
            # A run of noise can look like a trend for a sample or two; one
            # that lasts is a trend.
            streak = self._fc_streak[d["key"]] = self._fc_streak.get(d["key"], 0) + 1 \
                if fc is not None else 0
            if streak < th["forecast_confirm"]:
                fc = None
            if fc is not None and (best_fc is None or fc < best_fc):
                best_fc = fc
            lvl, why = self._domain_level(d, fc, relax=False)
            rl, _ = self._domain_level(d, fc, relax=True)
            raw = max(raw, LEVELS.index(lvl))
            relaxed = max(relaxed, LEVELS.index(rl))
            if lvl != "ok":
                reasons.append((LEVELS.index(lvl), d, why))
        plvl, pwhy = self._psi_level(s.get("psi"), t)
        raw, relaxed = max(raw, plvl), max(relaxed, plvl)

        cur = LEVELS.index(self.level)
        if raw >= cur:
            # Rising (or holding): at once, a warning late is worth nothing.
            new, self._clear_since = raw, None
        elif relaxed < cur:
            # Falling: only after the relaxed figures stayed clear a while.
            if self._clear_since is None:
                self._clear_since = t
            new = relaxed if t - self._clear_since >= th["clear_after_s"] else cur
        else:
            new, self._clear_since = cur, None

        warnings = []
        if new:
            warnings = self._advice(LEVELS[new], s, reasons, pwhy)
        with self._lock:
            old = self.level
            self.level = LEVELS[new]
            self.latest = s
            self.forecast_s = best_fc
            self.warnings = warnings
            self._domains_last = [{k: v for k, v in d.items() if k != "panes"} for d in domains]
        if LEVELS[new] != old:
            self._log(t, f"level {old} -> {LEVELS[new]}" +
                      (": " + " | ".join(warnings) if warnings else ""), force=True)
            if self.on_change:
                try:
                    self.on_change(self.status())
                except Exception:  # the supervisor's hook must not stop the watch
                    log.exception("monitor on_change hook failed")
        elif warnings:
            self._log(t, " | ".join(warnings))

    def _advice(self, level: str, s: dict, reasons, pwhy: str) -> list[str]:
        """Warnings that say which panes to look at and what to do."""
        panes = s.get("panes") or {}
        out = []
        if not reasons and pwhy:
            reasons = [(LEVELS.index(level), None, pwhy)]
        elif not reasons:
            # Held up by hysteresis: say what is still being watched.
            reasons = [(LEVELS.index(level), None, "recovering")]
        for _, d, why in sorted(reasons, key=lambda r: -r[0]):
            members = panes if d is None or d["panes"] is None else \
                {n: p for n, p in panes.items() if n in d["panes"]}
            what = d["what"] if d else "memory"
            text = f"memory {level}: {what} {why}"
            if d:
                text += f" ({d['avail'] / MB:,.0f} MB free of {d['total'] / MB:,.0f} MB"
                if d.get("slope") and d["slope"] < 0 and d.get("forecast_s") is not None:
                    text += f", falling {-d['slope'] / MB:,.1f} MB/s"
                text += ")"
            big = sorted(members, key=lambda n: -members[n]["rss"])[:3]
            gain = {}
            for n in members:
                h = self._pane_hist.get(n)
                if h and len(h) > 1:
                    gain[n] = h[-1][1] - h[0][1]
            growers = [n for n in sorted(gain, key=lambda n: -gain[n]) if gain[n] > MB][:3]
            if big:
                text += "; largest: " + ", ".join(f"{n} {members[n]['rss'] / MB:,.0f} MB"
                                                  for n in big)
            if growers:
                span = max(h[-1][0] - h[0][0] for n in growers for h in [self._pane_hist[n]])
                text += "; growing: " + ", ".join(f"{n} +{gain[n] / MB:,.0f} MB" for n in growers)
                text += f" in {span:.0f} s"
            todo = []
            culprit = growers[0] if growers else (big[0] if big else None)
            if culprit:
                todo.append(f"stop {culprit} (`stacktui stop {culprit}`)")
            if d is not None and d["key"] != "host":
                todo.append("raise the cgroup's memory limit")
            elif not s.get("swap_total"):
                todo.append(SWAP_ADVICE)
            else:
                todo.append("add RAM or disable services you do not need")
            text += "; do: " + ", or ".join(todo)
            out.append(text)
        return out

    def _log(self, t: float, text: str, force: bool = False) -> None:
        last_text, last_t = self._last_log
        if not force and text == last_text and t - last_t < self.th["log_every_s"]:
            return
        if not force and last_text and t - last_t < self.th["log_every_s"] and \
                text.split(";")[0] == last_text.split(";")[0]:
            return
        self._last_log = (text, t)
        if self.log_path is None:
            return
        try:
            from .fsutil import open_log
            with os.fdopen(open_log(self.log_path), "a", encoding="utf-8") as f:
                f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + text + "\n")
        except OSError:
            log.warning("cannot write %s", self.log_path)

    # ------------------------------------------------------------ status

    def status(self) -> dict:
        """JSON-able state for `stacktui status`, the dashboard header and the
        supervisor's clients."""
        with self._lock:
            s = self.latest
            return {"level": self.level,
                    "forecast_s": None if self.forecast_s is None else round(self.forecast_s, 1),
                    "warnings": list(self.warnings),
                    "sample": json.loads(json.dumps(s)) if s else None,
                    "domains": list(getattr(self, "_domains_last", [])),
                    "errors": self.errors}

    # ------------------------------------------------------------ thread

    def start(self, interval: float = 1.0) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval,),
                                        name="stacktui-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.sample()
            except Exception:
                # A bad /proc read must not end the watch for good.
                self.errors += 1
                log.exception("monitor sample failed")
            self._stop.wait(max(0.05, interval - (time.monotonic() - t0)))


__all__ = ["Monitor", "DEFAULT_THRESHOLDS", "forecast", "oom_kill_count", "killed_by_oom"]

