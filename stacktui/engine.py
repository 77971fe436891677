"""The phase engine: runs stack.sh's phases in order, resumably.

Each step (a phase, or a phase of one service) records an HMAC fingerprint of
its inputs in the state file, written atomically after every step. A rerun
skips what is done and unchanged and redoes what an answer change touched;
fingerprints chain (configure -> init -> start -> accounts of one service),
so a change flows forward to exactly the steps that depend on it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import importlib
import json
import os
import secrets as _secrets
import time
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from . import catalog, events, registry
from .answers import Answers
from .errors import StackError, failure_summary
from .fsutil import atomic_write
from .masking import Masker
from .context import Context, GlobalStep, Step, default_inputs, service_specs
from .context import pane_spec  # noqa: F401 - phases written before stacktui.service import it here
from .postconfig import contributed
from .paths import Layout, check_owned, claim, private_dir, remember_last
from .runner import Runner
from .service import ServiceSpec

STATE_VERSION = 1
# Bumped when a phase's behaviour changes in a way that needs a redo.
ENGINE_REVISION = "1"

GLOBAL_BEFORE = ("preflight", "prerequisites", "database", "install")
SERVICE_PHASES_1 = ("configure", "init")
SERVICE_PHASES_2 = ("start", "accounts")
GLOBAL_AFTER = ("verify", "summary")
# Rough seconds per step on the reference machine, for the progress estimate.
ESTIMATES = {"preflight": 1, "prerequisites": 1, "database": 1, "install": 5, "configure": 0.5,
             "init": 6, "post-config": 0.2, "start": 5, "accounts": 1, "verify": 3, "summary": 0.2}


class StateFile:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.data = json.loads(path.read_text())
            if self.data.get("version") != STATE_VERSION:
                self.data = {}
        except (OSError, ValueError):
            self.data = {}
        self.data.setdefault("version", STATE_VERSION)
        self.data.setdefault("steps", {})

    def fp(self, step_id: str) -> str | None:
        s = self.data["steps"].get(step_id)
        return s["fp"] if s and s.get("status") == "done" else None

    _lock = threading.Lock()

    def record(self, step_id: str, **info) -> None:
        with self._lock:     # steps of one batch finish on different threads
            self.data["steps"][step_id] = info
            self.save()

    def save(self) -> None:
        atomic_write(self.path, json.dumps(self.data, indent=1, sort_keys=True), mode=0o600)


class StackLock:
    """One install at a time per DEST: a second one is refused, not queued."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(self.fd, 64, 0).decode().strip()
            except OSError:
                holder = "?"
            os.close(self.fd)
            raise StackError(f"another stacktui install is running on {self.path.parent} "
                             f"(pid {holder or '?'}); wait for it to finish or stop it") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return self

    def __exit__(self, *exc):
        os.ftruncate(self.fd, 0)
        os.close(self.fd)


def _identity_module(mods) -> str | None:
    return next((m for m in mods if registry.get(m).identity), None)


def global_step(phase: str) -> GlobalStep:
    from . import phases
    return importlib.import_module(f"{phases.__name__}.{phase.replace('-', '_')}").STEP


def _early_modules(mods: list[str]) -> list[str]:
    return [m for m in mods if registry.get(m).start_early]


def plan_steps(answers: Answers) -> list[Step]:
    """Every step in stack.sh's order. That order is what the views list; the
    steps run as soon as what they need is done (see step_needs)."""
    mods = [s.name for s in service_specs(answers)]
    # A module with START_EARLY (the database) starts right after its own
    # init, because the other services' init steps (db sync) need it running.
    early = _early_modules(mods)
    steps = [Step(p) for p in GLOBAL_BEFORE]
    steps += [Step("configure", m) for m in mods if _has(m, "configure")]
    # post-config merges into the files configure wrote, before anything reads
    # them: a [database] override reaches the db syncs too.
    steps.append(Step("post-config"))
    for m in mods:
        steps += [Step("init", m)] if _has(m, "init") else []
        if m in early:
            steps += [Step(p, m) for p in SERVICE_PHASES_2 if _has(m, p)]
    # DevStack's order: keystone up, every service's accounts, then the
    # services.
    late = [m for m in mods if m not in early]
    first = [m for m in late if m == _identity_module(late)]
    steps += [Step(p, m) for m in first for p in SERVICE_PHASES_2 if _has(m, p)]
    steps += [Step("accounts", m) for m in late if m not in first and _has(m, "accounts")]
    steps += [Step("start", m) for m in late if m not in first and _has(m, "start")]
    steps += [Step(p) for p in GLOBAL_AFTER]
    return steps


def _module_needs(module: str) -> set[str]:
    """Modules whose services this module's services need."""
    out = set()
    for svc in catalog.SERVICES.values():
        if svc.module == module:
            out |= {catalog.get(n).module for n in svc.needs if catalog.get(n).module}
    return out - {module}


def step_needs(steps: list[Step]) -> dict[str, set[str]]:
    """For each step, the steps that must be done before it starts.

    Global steps and configure steps wait for everything before them; the
    infrastructure started early (the database, the queue, libvirt) for
    those and its own steps, each piece beside the others. A service's db sync
    waits for those and the database server only: the queue, libvirt and etcd
    boot beside the syncs (nothing a sync runs talks to them), which takes
    the queue's boot (an Erlang VM, its rabbitmqctl calls) off the path to
    the first service; keystone starts as soon as its own sync is done; a
    service's accounts need keystone's; a service starts once its sync is done
    and what it needs is running, without waiting for keystone (services ask
    keystone only when a request comes in), nor for its own accounts unless
    its after_start hook calls its own API (nova's flavors)."""
    ids = {s.id for s in steps}
    mods = list(dict.fromkeys(s.module for s in steps if s.module))
    early = set(_early_modules(mods))
    databases = {m for m in early if registry.get(m).database_type}
    ident = _identity_module(mods)

    def have(*names: str) -> set[str]:
        return {n for n in names if n in ids}

    out: dict[str, set[str]] = {}
    before: list[str] = []
    for step in steps:
        m = step.module
        if m is None or step.phase == "configure":
            need = set(before)
        elif m in early or step.phase == "init":
            need = have("post-config")
        elif step.phase == "accounts":
            need = have(f"init:{m}", "post-config",
                        f"start:{ident}" if m == ident else f"accounts:{ident}")
        else:   # start
            need = have(f"init:{m}", "post-config",
                        *(f"start:{n}" for n in _module_needs(m) | registry.get(m).start_after
                          if n != ident))
            if registry.get(m).after_start:
                need |= have(f"accounts:{m}")
        # The early infrastructure, and every global step so far, come first;
        # for a db sync, of the infrastructure only the database server; each
        # piece of infrastructure needs only its own steps before.
        first = ({m} if m in early else databases if step.phase == "init" else early)
        need |= {b for b in before if ":" not in b or b.split(":")[1] in first}
        out[step.id] = need
        before.append(step.id)
    return out


def chain_lengths(steps: list[Step], needs: dict[str, set[str]]) -> dict[str, int]:
    """For each step, how many steps the longest chain of steps waiting on it
    holds (itself included): a critical-path priority. Taken in plan order
    alone, the db syncs kept keystone's start, and OVN's that neutron's and
    nova's starts wait for, out of the slots for 15 s."""
    after: dict[str, list[str]] = {s.id: [] for s in steps}
    for sid, need in needs.items():
        for n in need:
            after[n].append(sid)
    out: dict[str, int] = {}
    for s in reversed(steps):          # a step needs only steps before it in the plan
        out[s.id] = 1 + max((out[a] for a in after[s.id]), default=0)
    return out


def _has(module: str, phase: str) -> bool:
    return registry.get(module).has(phase)


class Engine:
    def __init__(self, answers: Answers, bus: events.Bus | None = None, force: bool = False,
                 sudo_password: str | None = None):
        self.answers = answers
        self.layout = Layout(answers.dest)
        self.bus = bus or events.Bus()
        self.force = force
        # Asked once by the view when sudo needs it; kept in memory only.
        self.sudo_password = sudo_password

    # Fingerprints are HMACs under a per-stack key, so the state file tells
    # nothing about the passwords that went into them.
    def _key(self) -> bytes:
        p = self.layout.etc / "stacktui" / "state.key"
        if not p.exists():
            atomic_write(p, _secrets.token_hex(32), mode=0o600)
        return p.read_text().strip().encode()

    def _inputs(self, step: Step, ctx: Context) -> dict:
        a = self.answers
        if step.module:
            spec = registry.get(step.module)
            got = spec.inputs(a, step.phase) if spec.inputs else default_inputs(a, spec.name)
            if step.phase == "start":
                # A changed command line (a new uwsgi option) restarts the pane,
                # and so do options another service set in its files.
                own = {cf.var for cf in spec.config_files}
                got = {**got, "panes": spec.panes(ctx)}
                others = {v: secs for v, secs in contributed(ctx).items() if v in own}
                if others:
                    got["set_by_others"] = others
            return got
        glob = global_step(step.phase)
        return glob.inputs(a) if glob.inputs else a.public_dict()

    def _fingerprint(self, key: bytes, step: Step, chained: list[str], ctx: Context) -> str:
        blob = json.dumps({"rev": ENGINE_REVISION, "step": step.id, "in": self._inputs(step, ctx),
                           "after": chained}, sort_keys=True, default=str)
        return hmac.new(key, blob.encode(), hashlib.sha256).hexdigest()[:32]

    def run(self) -> dict:
        """Run every step that is not done and unchanged. Returns the summary data."""
        t0 = time.monotonic()
        layout = self.layout
        from . import destdir
        if destdir.needs_sudo(layout.dest):
            # /opt/stack as create-stack-user.sh makes it, then ours like any DEST.
            destdir.make_with_sudo(layout.dest, self.sudo_password)
        check_owned(layout)
        claim(layout)
        for d in (layout.dest, layout.etc, layout.logs, layout.data):
            d.mkdir(parents=True, exist_ok=True)
        private_dir(layout.run)
        os.chmod(layout.etc, 0o750)
        with StackLock(layout.lock_file):
            self._sudoers()
            self._save_answers()
            remember_last(layout.dest)
            masker = Masker(self.answers.secret_values + [self.sudo_password or ""])
            runner = Runner(layout.stack_log, masker,
                            on_line=lambda line, tag: self.bus.emit(events.Output(step=tag, text=line)))
            ctx = Context(self.answers, layout, self.bus, runner, self.force)
            ctx.sudo_password = self.sudo_password
            try:
                return self._run_steps(ctx, t0)
            finally:
                runner.close()

    def _sudoers(self) -> None:
        """The drop-in that lets the stack's starts run their few root
        commands when sudo asks a password (stacktui/sudoers.py): written
        with the password typed once, before any step starts a pane."""
        from . import destdir, sudoers
        if os.geteuid() == 0 or not sudoers.wanted(self.answers) \
                or destdir.sudo_kind() != "password" or sudoers.in_place(self.layout, self.answers):
            return
        if not self.sudo_password:
            raise StackError(f"this stack runs a few commands as root at every start and sudo "
                             f"asks a password: install in a terminal (it asks once and writes "
                             f"{sudoers.path(self.layout.dest)}), or allow passwordless sudo")
        where = sudoers.install(self.answers, self.layout, self.sudo_password)
        self.bus.emit(events.Output(step=None, text=f"wrote {where}: what the stack runs as root "
                                                    "at its starts (`stacktui clean` removes it)"))

    def _save_answers(self) -> None:
        from . import answers as answers_mod
        answers_mod.save(self.answers, self.layout.answers_file)
        answers_mod.save_generated(self.answers)

    def _run_steps(self, ctx: Context, t0: float) -> dict:
        state = StateFile(self.layout.state_file)
        key = self._key()
        steps = plan_steps(self.answers)
        self.bus.emit(events.Plan(steps=tuple(
            events.PlanStep(s.id, s.phase, s.module, ESTIMATES.get(s.phase, 1)) for s in steps)))
        needs = step_needs(steps)
        gone = prune_panes(ctx)
        if gone:
            ctx.say(f"stopped {', '.join(gone)}: no longer part of this stack")
        done_fp: dict[str, str] = {}
        summary: dict = {}
        waiting = list(steps)
        running: dict = {}
        errors: list[StackError] = []
        # The db syncs (init) are CPU-bound: as many at once as cores, since
        # one more only slows the others. The other steps mostly wait (a pane
        # answering, an API call) and run beside them, a few at a time.
        # Among ready steps, those with the longest chain of steps after
        # them go first (keystone's start, neutron's sync), then plan order.
        syncs = max(2, os.cpu_count() or 1)
        others = syncs + 4
        early = set(_early_modules([s.module for s in steps if s.module]))
        heavy = {s.id for s in steps if s.phase == "init" and s.module not in early}
        depth = chain_lengths(steps, needs)
        order = {s.id: i for i, s in enumerate(steps)}
        with ThreadPoolExecutor(max_workers=syncs + others) as pool:
            while waiting or running:
                progressed = True
                while progressed and not errors:
                    progressed = False
                    for step in sorted((s for s in waiting if needs[s.id] <= done_fp.keys()),
                                       key=lambda s: (-depth[s.id], order[s.id])):
                        kind = step.id in heavy
                        if sum((st.id in heavy) == kind for st, _ in running.values()) >= \
                                (syncs if kind else others):
                            continue
                        waiting.remove(step)
                        progressed = True
                        sctx = ctx.for_step(step)
                        fp = self._fingerprint(key, step, self._chain(step, steps, done_fp), sctx)
                        if state.fp(step.id) == fp and self._still_there(sctx, step):
                            done_fp[step.id] = fp
                            self.bus.emit(events.StepSkip(step=step.id))
                            if step.phase == "summary":
                                summary = self._function(step)(sctx) or {}
                        else:
                            running[pool.submit(self._run_one, state, step, sctx, fp)] = (step, fp)
                if not running:
                    if waiting and not errors:
                        raise StackError("steps wait for each other: "
                                         + ", ".join(s.id for s in waiting))
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    step, fp = running.pop(fut)
                    result, err = fut.result()
                    if err is not None:
                        errors.append(err)
                        continue
                    done_fp[step.id] = fp
                    if step.phase == "summary":
                        summary = result or {}
        if errors:
            raise errors[0]
        total = time.monotonic() - t0
        summary["seconds"] = total
        self.bus.emit(events.Done(seconds=total, summary=summary))
        return summary

    def _run_one(self, state: "StateFile", step: Step, ctx: "Context", fp: str):
        """Run one step; returns (result, None) or (None, the error to raise)."""
        self.bus.emit(events.StepStart(step=step.id))
        ctx.runner.note(f"==== {step.id}")
        t = time.monotonic()
        try:
            result = self._function(step)(ctx)
        except Exception as e:  # noqa: BLE001 - recorded, then raised for the view
            tail = getattr(e, "tail", []) or []
            log = getattr(e, "log", str(self.layout.stack_log))
            msg = failure_summary(ctx.runner.masker(str(e) or e.__class__.__name__), tail)
            ctx.runner.note(f"FAILED {step.id}: {msg}")
            state.record(step.id, status="failed", fp=fp, error=msg, log=log, tail=tail,
                         at=time.time())
            self.bus.emit(events.StepFail(step=step.id, error=msg, log=str(log), tail=tuple(tail)))
            # One line a person can act on: the step, the cause, the log.
            err = StackError(f"{step.id} failed: {msg} (log: {log})")
            err.step = step.id
            err.__cause__ = e
            return None, err
        secs = time.monotonic() - t
        state.record(step.id, status="done", fp=fp, seconds=round(secs, 3), at=time.time())
        self.bus.emit(events.StepDone(step=step.id, seconds=secs))
        return result, None

    def _chain(self, step: Step, steps: list[Step], done: dict[str, str]) -> list[str]:
        if step.module:
            prev = {"configure": [], "init": ["configure"], "start": ["init"],
                    "accounts": ["init"]}[step.phase]
            chain = [done.get(f"{p}:{step.module}", "") for p in prev]
            if step.phase == "configure":
                chain.append(done.get("install", ""))
            if step.phase == "start":
                # The post-config answers, not the post-config step: that step
                # reruns whenever any service's configure did, and keystone
                # must not restart because glance's port moved.
                chain.append(json.dumps(self.answers.post_config, sort_keys=True))
            return chain
        if step.phase in ("post-config", "verify", "summary"):
            return [done.get(s.id, "") for s in steps if s.id in done]
        # preflight .. install depend on their own inputs only: a moved port
        # must not rebuild the venv.
        return []

    def _function(self, step: Step):
        if step.module:
            spec = registry.get(step.module)
            if step.phase == "start":
                return lambda ctx: start_panes(ctx, spec)
            return getattr(spec, step.phase)
        return global_step(step.phase).run

    def _still_there(self, ctx: Context, step: Step) -> bool:
        """A step done before may have lost its effect since: services stop,
        someone deletes the venv. Such a step runs again."""
        if step.phase == "start":
            return self._running(ctx, step)
        if step.module:
            return True
        present = global_step(step.phase).present
        return present(ctx) if present else True

    def _running(self, ctx: Context, step: Step) -> bool:
        names = [p["name"] for p in registry.get(step.module).panes(ctx)]
        try:
            status = {p["name"]: p for p in ctx.client.status()}
        except StackError:
            return False
        return all(status.get(n, {}).get("state") == "running" for n in names)


# ------------------------------------------------------------ panes

_PANES_LOCK = threading.Lock()


def write_panes(ctx: Context, specs: list[dict]) -> None:
    """Merge this module's pane specs into panes.json (what `up` replays).
    Starts of one batch run on several threads: the read-merge-write and the
    supervisor's reload are one critical section."""
    with _PANES_LOCK:
        _write_panes(ctx, specs)
        ctx.client.reload()


def _write_panes(ctx: Context, specs: list[dict]) -> None:
    path = ctx.layout.panes_file
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):
        current = []
    names = {s["name"] for s in specs}
    merged = [s for s in current if s["name"] not in names] + specs
    order = {n: i for i, n in enumerate(catalog.ordered([s["name"] for s in merged]))}
    merged.sort(key=lambda s: order.get(s["name"], 1000))
    for i, s in enumerate(merged):
        s["order"] = i
    atomic_write(path, json.dumps(merged, indent=1), mode=0o640)


def prune_panes(ctx: Context) -> list[str]:
    """Stop and forget the panes this stack no longer runs: a service taken
    out of the answers, or nova's no-network stand-in once q-svc is enabled.
    Done before anything starts, since such a pane may hold a port a new
    service needs."""
    path = ctx.layout.panes_file
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    wanted: set[str] = set()
    for spec in ctx.specs:
        if spec.panes:
            wanted |= {p["name"] for p in spec.panes(ctx)}
    stale = [s["name"] for s in current if s["name"] not in wanted]
    if not stale:
        return []
    from .client import Client
    client = Client(ctx.layout)
    up = client.ping()
    if up:
        client.stop(stale, infra=True)
    with _PANES_LOCK:
        atomic_write(path, json.dumps([s for s in current if s["name"] not in stale], indent=1),
                     mode=0o640)
        if up:
            client.reload()
    return stale


def start_panes(ctx: Context, spec: ServiceSpec) -> None:
    service = spec
    # What the panes need of the host (a namespace, a loop device) is made
    # here, where they start, as `up` does: listing panes (fingerprints, the
    # `up` plan) must not make host links.
    if service.before_up:
        service.before_up(ctx.answers, ctx.layout)
    specs = service.panes(ctx)
    write_panes(ctx, specs)
    client = ctx.client
    names = [s["name"] for s in specs]
    status = {p["name"]: p for p in client.status()}
    running = [n for n in names if status.get(n, {}).get("state") in ("running", "starting")]
    if running:
        client.restart(running)
    rest = [n for n in names if n not in running]
    if rest:
        client.start(rest)
    for n in names:
        ctx.bus.emit(events.PaneState(step=ctx.step.id, name=n, state="starting"))
    client.wait_ready(names, timeout=service.ready_timeout)
    for p in client.status():
        if p["name"] in names:
            ctx.bus.emit(events.PaneState(step=ctx.step.id, name=p.name, state=str(p.state),
                                          pid=p.pid))
    # What needs the module's own panes up (nova's flavors, host discovery).
    if service.after_start:
        service.after_start(ctx)
