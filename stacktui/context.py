"""The phase API: what a service's verbs get (``ctx``), and the pane specs
its ``panes()`` returns. The engine (stacktui/engine.py) makes one Context
per run and a copy per step; nothing here runs steps."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import catalog, events, inifile, svckit
from .errors import StackError
from .fsutil import atomic_write
from .paths import user_cache_env

if TYPE_CHECKING:
    from .answers import Answers
    from .paths import Layout
    from .runner import Runner
    from .service import ServiceSpec


@dataclass
class Step:
    phase: str
    module: str | None = None   # phases/<module>.py, None for a global phase

    @property
    def id(self) -> str:
        return f"{self.phase}:{self.module}" if self.module else self.phase


@dataclass(frozen=True)
class GlobalStep:
    """One of stack.sh's steps that belongs to no service (preflight,
    prerequisites, database, install, post-config, verify, summary): the
    module phases/<name>.py holds one as ``STEP``."""
    run: Callable[["Context"], Any]
    inputs: Callable[["Answers"], dict] | None = None   # default: the answers, no passwords
    present: Callable[["Context"], bool] | None = None  # its effect still there (the venv)


class Context:
    """What a service's verbs get: the answers, the layout, and the tools
    (run a command into the log, say a line, the supervisor's client, one
    keystone admin session per run, the URL of a service)."""

    def __init__(self, answers: Answers, layout: Layout, bus: events.Bus, runner: Runner,
                 force: bool = False):
        self.answers = answers
        self.layout = layout
        self.bus = bus
        self.runner = runner
        self.force = force
        self.step: Step | None = None
        self.sudo_password: str | None = None
        self._shared = {"client": None, "lock": threading.Lock()}

    def for_step(self, step: Step) -> "Context":
        """A copy for one step: steps of a batch run on their own threads."""
        c = copy.copy(self)
        c.step = step
        return c

    # --- commands
    def run(self, argv, **kw):
        kw["env"] = {**user_cache_env(self.layout), **(kw.get("env") or {})}
        return self.runner.run([str(a) for a in argv], tag=self.step.id if self.step else None, **kw)

    def venv_bin(self, name: str) -> str:
        return str(self.layout.bin / name)

    def progress(self, fraction: float, text: str = "") -> None:
        self.bus.emit(events.Progress(step=self.step.id if self.step else None, text=text,
                                       fraction=fraction))

    def say(self, text: str) -> None:
        self.runner.note(text)
        self.bus.emit(events.Output(step=self.step.id if self.step else None,
                                     text=self.runner.masker(text)))

    # --- supervisor
    @property
    def client(self):
        with self._shared["lock"]:
            if self._shared["client"] is None:
                from .client import ensure_daemon
                self._shared["client"] = ensure_daemon(self.layout)
            return self._shared["client"]

    def keystone(self):
        """One admin session for every step of this run that talks to
        Keystone: one token, and the ids it has seen, for all of them."""
        with self._shared["lock"]:
            if self._shared.get("identity") is None:
                from .keystone_api import KeystoneAdmin
                self._shared["identity"] = KeystoneAdmin(
                    self.endpoint(identity_service(self.answers)) + "/v3",
                    self.answers.password("admin"), self.answers.region)
            return self._shared["identity"]

    @property
    def specs(self) -> list[ServiceSpec]:
        return service_specs(self.answers)

    def endpoint(self, service: str) -> str:
        return f"http://{self.answers.url_host()}:{self.answers.port(service)}"

    # --- what a service's config points at (the contract; service.py)
    def identity_url(self) -> str:
        return self.endpoint(identity_service(self.answers))

    def db_url(self, name: str) -> str:
        return svckit.db_url(self.answers, self.layout, name)

    def transport_url(self) -> str | None:
        return self.provided("transport_url")

    def provided(self, key: str):
        """``key`` of the first enabled spec that ``provides`` it."""
        for spec in self.specs:
            if key in spec.provides:
                return spec.provides[key](self.answers)
        return None

    def authtoken_section(self, user: str) -> dict:
        return {**svckit.authtoken(self.answers, user), "auth_url": self.identity_url(),
                "www_authenticate_uri": self.identity_url()}

    def service_auth(self, user: str) -> dict:
        return {**svckit.service_auth(self.answers, user), "auth_url": self.identity_url()}

    def uwsgi_argv(self, service: str, app, *extra: str) -> list[str]:
        argv = svckit.uwsgi_argv(self, service, str(app), *extra)
        if isinstance(app, Path):
            argv[argv.index("--module")] = "--wsgi-file"
        return argv

    def secret(self, key: str) -> str:
        return self.answers.password(key)

    # --- files
    def write_ini(self, path, sections: dict, mode: int = 0o640) -> None:
        inifile.write(path, sections, mode=mode)

    def write_file(self, path, text: str | bytes, mode: int = 0o640) -> None:
        atomic_write(path, text, mode=mode)


def service_specs(answers: Answers) -> list[ServiceSpec]:
    """The spec of each enabled service's module, in stack.sh order, once each."""
    return _registry().for_services(answers.services)


def identity_service(answers: Answers) -> str:
    """The catalog name of the identity API (keystone's `key`)."""
    for spec in _registry().specs().values():
        if spec.identity:
            return spec.services[0]
    raise StackError("no service module provides identity")


def pane_spec(ctx: Context, name: str, argv: list[str], *, env: dict | None = None,
              cwd: str | None = None, ready: dict | None = None, port: int | None = None,
              infra: bool = False, stop_timeout: float = 10) -> dict:
    """One process of a service for the supervisor: ``ready`` is its probe
    (``{"http": URL}``, ``{"tcp": [host, port]}``), ``infra`` keeps it up
    through ``unstack`` without ``--all``."""
    svc = catalog.SERVICES.get(name)
    spec = {
        "name": name, "argv": [str(a) for a in argv], "env": env or {},
        "cwd": str(cwd or ctx.layout.dest), "group": svc.group if svc else name,
        "infra": infra or bool(svc and svc.infra), "port": port, "ready": ready,
        "stop_timeout": stop_timeout, "cgroup": None, "order": 0,
    }
    # The answers' restart policy, here so every pane (plugins' too) gets it.
    # Only on-failure is written: panes.json and the start step's fingerprint
    # stay as they were for stacks that never set one.
    policy = ctx.answers.restart_for(name) if ctx is not None and ctx.answers is not None else None
    if policy and policy["policy"] != "never":
        spec["restart"] = policy["policy"]
        spec["restart_backoff"] = policy["backoff"]
    # The supervisor's own check (panetypes.PaneSpec), here: a bad spec
    # fails its service's step, not a reload later.
    from .panetypes import PaneSpec
    PaneSpec.from_dict(spec)
    return spec


def default_inputs(a: Answers, module: str) -> dict:
    """What a service's steps depend on: its own ports and those of what it
    needs, the shared network and database answers, its source, passwords."""
    own = [s for s in a.services if catalog.get(s).module == module]
    related = set(own)
    for s in own:
        related.update(catalog.get(s).needs)
    pkgs = {catalog.get(s).package for s in own}
    return {
        "ports": {s: a.port(s) for s in sorted(related) if s in a.ports},
        "host_ip": a.host_ip, "database": a.database, "region": a.region,
        "workers": a.workers, "passwords": a.passwords,
        "sources": {p: a.sources.get(p) for p in sorted(pkgs, key=str) if p},
        "services": own,
        # A service every other one points at when it runs (the token cache).
        **{s: a.port(s) if s in a.services else None
           for other in _registry().specs().values() if other.used_by_all for s in other.services},
    }


def _registry():
    # registry imports the specs, whose module imports this one
    from . import registry
    return registry
