"""dstat as stacktui runs it: Debian's dstat in a pane of a throwaway DEST
(no venv, no OpenStack: a few seconds); its log gets a line a second with
CPU, memory, disk and network figures."""

from __future__ import annotations

import re
import time

from stacktui.engine import Step, start_panes
from tests.conftest import assert_none_left
from tests.test_etcd3 import _ctx

# time | usr sys idl wai stl | used free buf cach | recv send | read writ | ...
LINE = re.compile(r"^\d\d-\d\d \d\d:\d\d:\d\d\|\s*\d+\s+\d+\s+\d+\s+\d+\s+\d+\s*\|"
                  r"\s*[\d.]+[BkMGT]?\s+[\d.]+[BkMGT]?\s+[\d.]+[BkMGT]?\s+[\d.]+[BkMGT]?\s*\|"
                  r"\s*[\d.]+[BkMGT]?\s+[\d.]+[BkMGT]?\s*\|\s*[\d.]+[BkMGT]?\s+[\d.]+[BkMGT]?\s*\|")


def test_dstat_pane_logs_cpu_memory_network_disk(tmp_path):
    from stacktui.phases import dstat, prerequisites
    ctx = _ctx(tmp_path, ["dstat"], 2379)
    try:
        ctx.step = Step("prerequisites")
        prerequisites.run(ctx)
        ctx.step = Step("start", "dstat")
        start_panes(ctx, dstat.SPEC)
        log = ctx.layout.logs / "dstat.log"
        deadline, lines = time.time() + 30, []
        while time.time() < deadline and len(lines) < 3:
            time.sleep(0.5)
            text = log.read_text(errors="replace") if log.exists() else ""
            lines = [l for l in text.splitlines() if LINE.match(l.strip())]
        assert len(lines) >= 3, text[-2000:]
        head = log.read_text()
        for group in ("total-cpu-usage", "memory-usage", "net/total", "dsk/total"):
            assert group in head
        assert "\x1b[" not in "\n".join(lines)       # plain text, no colours
    finally:
        try:
            ctx.client.shutdown(stop_panes=True)
        finally:
            ctx.runner.close()
        assert_none_left(ctx.layout.dest, wait=10)
