"""`stacktui up`: every pane of the stack started and answering, modules
side by side where nothing orders them.

The order is the install's (engine.step_needs for the start steps): the
infrastructure started early (database, queue, token cache, libvirt, etcd)
first, side by side; then each module as soon as the modules its services
need are ready (nova after placement and glance, neutron after OVN), not
waiting for keystone, which a service asks only when a request comes. A
module's own panes start together, as the install starts them. One pane
at a time, `up` took 60 to 107 s after a supervisor kill -9 on DevStack's
default cloud; most of it was each API's probe waiting for the one before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from . import registry
from .errors import StackError

# Infrastructure and APIs answer within this when they come up at all; a
# pane still starting after it has a problem `up` reports.
READY_TIMEOUT = 180


@dataclass
class Group:
    module: str
    panes: list[str]
    after: set[str] = field(default_factory=set)     # modules ready before this one starts
    # The module's own "serves" check (ServiceSpec.serving), run once its
    # panes and keystone answer: nova-compute reported, cinder-volume up ...
    serving: Callable[[], str | None] | None = None
    serving_after: set[str] = field(default_factory=set)


def plan(ctx, known: list[str]) -> dict[str, Group]:
    """Each module's panes (those the supervisor knows) and the modules it
    waits for. Panes no module claims (left in panes.json by a plugin since
    removed) start last."""
    from .engine import _early_modules, _identity_module, _module_needs, service_specs
    specs = [s for s in service_specs(ctx.answers) if s.panes]
    known_set = set(known)
    groups: dict[str, Group] = {}
    for spec in specs:
        names = [p["name"] for p in spec.panes(ctx) if p["name"] in known_set]
        if names:
            serving = (lambda spec=spec: spec.serving(ctx)) if spec.serving else None
            groups[spec.name] = Group(spec.name, names, serving=serving)
    present = set(groups)
    early = set(_early_modules(list(present)))
    ident = _identity_module(list(present))
    for m, g in groups.items():
        wanted = set(registry.get(m).start_after)
        if m not in early:
            wanted |= early | (_module_needs(m) - {ident})
        g.after = (wanted & present) - {m}
        # The checks ask the APIs through keystone.
        g.serving_after = {ident} - {m, None}
    claimed = {n for g in groups.values() for n in g.panes}
    rest = [n for n in known if n not in claimed]
    if rest:
        groups["(other)"] = Group("(other)", rest, set(present))
    _check_acyclic(groups)
    return groups


def _check_acyclic(groups: dict[str, Group]) -> None:
    seen: dict[str, int] = {}     # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        if seen.get(m) == 2:
            return
        if seen.get(m) == 1:
            raise StackError(f"modules wait for each other: {' -> '.join(path + [m])}")
        seen[m] = 1
        for d in sorted(groups[m].after):
            visit(d, path + [m])
        seen[m] = 2

    for m in groups:
        visit(m, [])


def bring_up(client, groups: dict[str, Group], say: Callable[[str], None],
             timeout: float = READY_TIMEOUT) -> None:
    """Start each group once the groups it waits for are ready; returns when
    every pane answers. The first failure is raised once the groups already
    under way have finished; what waits on a failed group is not started."""
    state = {p["name"]: p["state"] for p in client.status(rss=False)}
    done = {m: threading.Event() for m in groups}     # finished, well or not
    ready = {m: threading.Event() for m in groups}    # its panes answer
    failed: dict[str, Exception] = {}
    lock = threading.Lock()

    def run(g: Group) -> None:
        try:
            for d in g.after:
                _wait_either(ready[d], done[d])
            broken = sorted(d for d in g.after if d in failed and not ready[d].is_set())
            if broken:
                failed[g.module] = StackError(f"{', '.join(g.panes)}: not started, "
                                              f"{', '.join(broken)} did not come up")
                return
            hung = [n for n in g.panes if state.get(n) == "not answering"]
            stopped = [n for n in g.panes
                       if state.get(n) not in ("running", "starting", "not answering")]
            with lock:
                for n in hung:
                    say(f"{n}: not answering; restarting it")
            if hung:
                client.restart(hung, infra=True)
            if stopped:
                client.start(stopped)
            client.wait_ready(g.panes, timeout=timeout)
            with lock:
                for n in g.panes:
                    say(f"{n}: running")
            # Ready for the modules after it: they need its panes answering,
            # not its own serving check.
            ready[g.module].set()
            if g.serving:
                for d in g.serving_after:
                    _wait_either(ready[d], done[d])
                if any(not ready[d].is_set() for d in g.serving_after):
                    return      # keystone's own failure is the one reported
                said = g.serving()
                if said:
                    with lock:
                        say(said)
        except Exception as e:  # noqa: BLE001 - raised again in the caller's thread
            failed[g.module] = e
        finally:
            done[g.module].set()

    threads = [threading.Thread(target=run, args=(g,), name=f"up-{m}", daemon=True)
               for m, g in groups.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        # The root cause, not the groups that were skipped because of it.
        first = next((e for m, e in failed.items()
                      if not any(d in failed for d in groups[m].after)), None)
        raise first or next(iter(failed.values()))


def _wait_either(a: threading.Event, b: threading.Event) -> None:
    while not (a.wait(0.2) or b.is_set()):
        pass
