"""dstat (`dstat`): DevStack's resource logger, Debian's dstat in a pane.

As DevStack's tools/dstat.sh runs it: every second a line of time, CPU,
memory, network, disk, I/O, load, paging, processes, interrupts, swap and
TCP sockets (`-tcmndrylpg --swap --tcp`) into the pane (its log is
DEST/logs/dstat.log). DevStack's second dstat, writing the same as CSV, is
left out: Debian 12's dstat 0.7.4 stops at its first CSV line on Python 3
(`types.ListType`). So are the per-process top lists (`--top-cpu-adv` and
friends, a /proc scan each second): on a small host they cost more than the
rest of the line, and the dashboard's monitor shows each pane's memory."""

from __future__ import annotations


from stacktui import svckit
from stacktui.service import ServiceSpec, pane_spec

SERVICES = ("dstat",)
PACKAGES = ("dstat",)
INTERVAL_S = 1


def argv(layout) -> list[str]:
    exe = svckit.distro_program("dstat", "Debian's dstat")
    # --nocolor: the pane's log is read as text; --noupdate: one line a
    # second, not a line redrawn in place.
    cmd = [exe, "-tcmndrylpg", "--swap", "--tcp", "--nocolor", "--noupdate", str(INTERVAL_S)]
    # dstat 0.7.4 exits when a network device it counted is gone at the next
    # sample (neutron and nova make and remove taps and veths all the time):
    # the pane starts it again, so the log keeps its figures; seen in the
    # DevStack-profile e2e.
    return ["/bin/sh", "-c", 'while :; do "$@"; sleep 1; done', "dstat", *cmd]


def panes(ctx) -> list[dict]:
    return [pane_spec(ctx, "dstat", argv(ctx.layout), stop_timeout=3)]


def inputs(answers, phase):
    return {"interval": INTERVAL_S}


SPEC = ServiceSpec(
    "dstat", SERVICES, panes=panes, inputs=inputs, packages=PACKAGES,
    kolla_notes={"dstat": "Kolla-Ansible has Prometheus for host statistics (enable_prometheus)"})
