"""The Textual application: the install wizard and the service dashboard.

The answers being built live in one :class:`Draft` owned by the app; every
wizard screen reads its fields from it when shown and writes them back when
left (Back or Next), so going back never loses what was typed. Validation is
answers.py's, called through :meth:`Draft.problems`, never re-implemented.
"""

from __future__ import annotations

import copy
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from . import answers as answers_mod
from .errors import Problem, UserError

WIZARD = ("welcome", "hostcheck", "passwords", "network", "services", "review")
TITLES = {"welcome": "Welcome", "hostcheck": "Host check", "passwords": "Passwords",
          "network": "Network", "services": "Services", "review": "Review",
          "install": "Install", "done": "Done"}


class Draft:
    """The answers as the wizard builds them: overrides for answers.load."""

    def __init__(self, dest: str | Path | None = None):
        self.dest = str(dest) if dest else None
        self.values: dict = {}
        self.loaded_from: str | None = None
        self.checks: list | None = None
        self.override_failed_checks = False
        self.final: answers_mod.Answers | None = None
        self.ui: dict = {}               # per-screen choices that are not answers
        self._generated: dict[str, str] = {}

    def get(self, key: str, default=None):
        if key in self.values:
            return self.values[key]
        if key == "dest":
            return self.dest or str(answers_mod.default_dest())
        if key in answers_mod.DEFAULTS and default is None:
            return copy.deepcopy(answers_mod.DEFAULTS[key])
        return default

    def set(self, **kw) -> None:
        self.values.update(kw)

    def _overrides(self, extra: dict | None) -> dict:
        ov = copy.deepcopy(self.values)
        ov.pop("dest", None)
        if extra:
            ov.update(extra)
        return ov

    def answers(self, extra: dict | None = None) -> answers_mod.Answers:
        """Validated answers (raises UserError). A blank password is generated
        once and kept, so Review, a saved file and the install all agree."""
        ans = answers_mod.load(None, dest=self.values.get("dest") or self.dest,
                               overrides=self._overrides(extra))
        for k in ans.generated:
            ans.passwords[k] = self._generated.setdefault(k, ans.passwords[k])
        return ans

    def problems(self, extra: dict | None = None, keys: tuple[str, ...] | None = None) -> list[Problem]:
        try:
            self.answers(extra)
        except UserError as e:
            ps = e.problems
            if keys is not None:
                ps = [p for p in ps if (p.key or "").split(".")[0] in keys]
            return ps
        return []

    def load_file(self, path: str | Path) -> list[str]:
        """Take an answers file (and its secrets.yaml) as the starting point.
        A --dest given on the command line still wins."""
        ans = answers_mod.load(path)
        data = copy.deepcopy(ans.data)
        data["passwords"] = {k: v for k, v in data["passwords"].items() if k not in ans.generated}
        if self.dest:
            data.pop("dest", None)
        self.values = data
        self.loaded_from = str(path)
        self.checks = None
        return []

    def load_localconf(self, path: str | Path) -> list[str]:
        from . import localconf
        from .masking import Masker
        text = Path(path).read_text(encoding="utf-8")
        data, warnings = localconf.import_localconf(text, str(path))
        if self.dest:
            data.pop("dest", None)
        self.values.update(data)
        self.loaded_from = str(path)
        self.checks = None
        mask = Masker([v for v in (data.get("passwords") or {}).values() if v])
        return [mask(w) for w in warnings]


class StackApp(App):
    """Wizard when ``start == "wizard"``, else the dashboard of DEST's stack."""

    CSS_PATH = "app.tcss"
    TITLE = "stacktui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, start: str = "wizard", dest: str | Path | None = None, *,
                 client=None, draft: Draft | None = None, engine_factory=None,
                 checks_fn=None, monitor_interval: float = 2.0, status_interval: float = 1.0,
                 resume: dict | None = None):
        super().__init__()
        self.start = start
        self.dest = str(dest) if dest else None
        self.draft = draft or Draft(dest)
        self.client = client
        # Seams for tests and the benchmark: how to run the engine and checks.
        self.engine_factory = engine_factory
        self.checks_fn = checks_fn
        self.monitor_interval = monitor_interval
        self.status_interval = status_interval
        self.summary: dict | None = None
        self.first_paint: float | None = None
        self.resume = resume

    def on_mount(self) -> None:
        if self.start == "dashboard":
            self.show_dashboard(replace=False)
        elif self.start == "resume" and self.resume:
            from stacktui.screens.resume import ResumeScreen
            self.push_screen(ResumeScreen(self.draft, self.resume))
        else:
            self.goto(self.start if self.start in TITLES else "welcome", replace=False)
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        import time
        self.first_paint = time.monotonic()

    # ------------------------------------------------------------ wizard flow

    def make_screen(self, name: str):
        from stacktui.screens import SCREENS
        return SCREENS[name](self.draft)

    def goto(self, name: str, replace: bool = True) -> None:
        screen = self.make_screen(name)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def wizard_step(self, name: str, delta: int) -> None:
        i = WIZARD.index(name) + delta
        if i < 0:
            return
        self.goto(WIZARD[i] if i < len(WIZARD) else "install")

    def show_done(self, summary: dict) -> None:
        self.summary = summary
        from stacktui.screens.done import DoneScreen
        self.switch_screen(DoneScreen(self.draft, summary))

    def show_dashboard(self, replace: bool = True) -> None:
        from stacktui.screens.dashboard import DashboardScreen
        screen = DashboardScreen(self.dest_path(), client=self.client)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    async def action_quit(self) -> None:
        # Quitting mid-install leaves the engine thread running; ask once, and
        # cmd_tui ends the process so nothing goes on unseen. A later run resumes.
        screen = self.screen
        if getattr(screen, "running", False) and getattr(screen, "NAME", "") == "install":
            if not getattr(self, "_quit_armed", False):
                self._quit_armed = True
                self.notify("The install is running. Press ctrl+q again to stop it; "
                            "`stacktui install` or the wizard resumes it later.",
                            severity="warning", timeout=6)
                return
            self.install_interrupted = True
        self.exit()

    def dest_path(self) -> Path:
        if self.draft.final is not None:
            return self.draft.final.dest
        return Path(self.draft.get("dest"))
