"""Step 7: the engine runs; phases with status and durations, overall progress
with time left, the running phase's output; on failure the error, the log
and Retry / Quit (a later run resumes where this one stopped)."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, ProgressBar, Static

from stacktui import events
from stacktui.widgets.logview import LogView

from .base import step_bar

GLYPH = {"pending": ("·", "dim"), "running": ("▶", "bold yellow"), "done": ("✓", "green"),
         "skipped": ("=", "dim green"), "failed": ("✗", "bold red")}


def fmt_secs(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s}s"


class InstallScreen(Screen):
    NAME = "install"
    BINDINGS = [
        Binding("r", "retry", "Retry", show=False),
        Binding("q", "quit_install", "Quit", show=False),
        Binding("f", "follow", "Follow/pause"),
        Binding("escape", "change_answers", "Back to the answers", show=False),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, draft):
        super().__init__()
        self.draft = draft
        self.steps: list[events.PlanStep] = []
        self.status: dict[str, str] = {}
        self.seconds: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.in_step: dict[str, float] = {}
        self.current: str | None = None
        self.running = False
        self.failed: events.StepFail | None = None
        self.t0 = 0.0
        # sudo's password, when this user's sudo wants one: asked once
        # (screens/sudo.py), then kept here, in memory only, for retries.
        self.sudo_password: str | None = None
        self.sudo_asked = False

    def compose(self):
        yield Static(step_bar("install"), id="stepbar")
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=1.0, show_eta=False, show_percentage=True, id="progress")
            yield Static("", id="eta")
        with Horizontal(id="install-main"):
            yield DataTable(id="steps", cursor_type="none", show_header=False)
            with Vertical(id="install-right"):
                yield Static("", id="current")
                yield LogView(id="output", max_lines=5000)
        with Vertical(id="failure"):
            yield Static("", id="error")
            with Horizontal(id="failure-buttons"):
                yield Button("Retry (r)", id="retry", variant="primary", compact=True)
                yield Button("Change answers (esc)", id="change", compact=True)
                yield Button("Quit (q)", id="quit", variant="error", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one("#steps", DataTable)
        t.add_column("", key="s", width=1)
        t.add_column("step", key="id")
        t.add_column("time", key="t", width=6)
        self.query_one("#failure").display = False
        self.set_interval(0.5, self.tick)
        self.start()

    # ------------------------------------------------------------ engine

    def start(self) -> None:
        if self.running:
            return
        if self.draft.final is None:
            self.draft.final = self.draft.answers()
        if not self.sudo_asked:
            self.sudo_asked = True
            wanted = getattr(self.app, "sudo_wanted", None)
            if wanted is None:
                from stacktui.sudopass import wanted
            if wanted(self.draft.final):
                self.ask_sudo_password()
                return
        self.failed = None
        self.query_one("#failure").display = False
        self.running = True
        self.t0 = time.monotonic()
        self.query_one("#output", LogView).push([f"---- install into {self.draft.final.dest}"])
        self.run_engine()

    def ask_sudo_password(self) -> None:
        import getpass
        from stacktui import destdir
        from .sudo import SudoPasswordScreen
        dest = self.draft.final.dest
        from stacktui import sudoers
        from stacktui.paths import Layout
        final = self.draft.final
        why = ((f"to make {dest}" if destdir.needs_sudo(dest) else "")
               or (f"to write {sudoers.path(dest)}" if sudoers.wanted(final)
                   and not sudoers.in_place(Layout(dest), final) else "")
               or "to install distro packages")

        def got(password: str | None) -> None:
            if password is None:
                self.sudo_asked = False        # asked again on Retry
                self.on_failed(f"the install needs sudo's password ({why})")
                return
            self.sudo_password = password
            self.start()

        self.app.push_screen(SudoPasswordScreen(getpass.getuser(), why,
                                                getattr(self.app, "sudo_accepted", None)), got)

    @work(thread=True, exclusive=True, group="engine")
    def run_engine(self) -> None:
        from stacktui.errors import StackError
        bus = events.Bus()
        out = self.query_one("#output", LogView)

        def listen(ev: events.Event) -> None:
            if isinstance(ev, events.Output):
                out.push([ev.text])        # batched in the view, never line by line
            else:
                self.app.call_from_thread(self.on_engine_event, ev)

        bus.subscribe(listen)
        factory = getattr(self.app, "engine_factory", None)
        if factory is None:
            from stacktui.engine import Engine as factory
        # The host check's explicit override reaches the engine's preflight,
        # which would otherwise fail on the same check (`install --force`).
        kw = {"force": True} if self.draft.override_failed_checks else {}
        if self.sudo_password is not None:
            kw["sudo_password"] = self.sudo_password
        try:
            summary = factory(self.draft.final, bus, **kw).run()
        except StackError as e:
            self.app.call_from_thread(self.on_failed, str(e))
            return
        except Exception as e:  # noqa: BLE001 - shown to the user, who can retry
            self.app.call_from_thread(self.on_failed, f"{e.__class__.__name__}: {e}")
            return
        self.app.call_from_thread(self.on_finished, summary)

    def on_engine_event(self, ev: events.Event) -> None:
        t = self.query_one("#steps", DataTable)
        match ev:
            case events.Plan(steps=steps):
                self.steps = list(steps)
                t.clear()
                for s in self.steps:
                    self.status.setdefault(s.id, "pending")
                    g, st = GLYPH[self.status[s.id]]
                    t.add_row(Text(g, style=st), s.id, "", key=s.id)
            case events.StepStart():
                self.set_status(ev.step, "running")
                self.current = ev.step
                self.started[ev.step] = time.monotonic()
                self.in_step[ev.step] = 0.0
                self.show_running()
                self.query_one("#output", LogView).push([f"==== {ev.step}"])
            case events.StepSkip():
                self.set_status(ev.step, "skipped", "done before")
            case events.StepDone():
                self.seconds[ev.step] = ev.seconds
                self.set_status(ev.step, "done", fmt_secs(self.seconds[ev.step]))
                self.show_running()
            case events.StepFail():
                self.set_status(ev.step, "failed")
                self.failed = ev
            case events.Progress():
                self.in_step[ev.step] = ev.fraction
            case events.PaneState():
                self.query_one("#output", LogView).push(
                    [f"[pane] {ev.name}: {ev.state}" + (f" (pid {ev.pid})" if ev.pid else "")])
        self.tick()

    def show_running(self) -> None:
        # Steps run side by side (the db syncs, the starts): name them all.
        running = [i for i, st in self.status.items() if st == "running"]
        self.query_one("#current", Static).update(
            Text("▶ " + ", ".join(running), style="bold") if running else "")

    def set_status(self, step: str | None, status: str, when: str = "") -> None:
        if step is None:
            return
        self.status[step] = status
        t = self.query_one("#steps", DataTable)
        g, st = GLYPH[status]
        try:
            t.update_cell(step, "s", Text(g, style=st))
            t.update_cell(step, "t", when)
            t.move_cursor(row=t.get_row_index(step))
        except Exception:  # a step the plan did not announce: nothing to mark
            pass

    # ------------------------------------------------------------ progress

    def fractions(self) -> tuple[float, float | None]:
        """Done fraction by the engine's estimates, and seconds left."""
        if not self.steps:
            return 0.0, None
        est = {s.id: float(s.estimate or 1) for s in self.steps}
        total = sum(est.values()) or 1.0
        done = sum(est[i] for i, st in self.status.items() if st in ("done", "skipped") and i in est)
        now = time.monotonic()
        for i, st in self.status.items():
            if st == "running" and i in est and i in self.started:
                guess = min(0.95, (now - self.started[i]) / (est[i] * 2))
                done += est[i] * (self.in_step.get(i) or guess)
        frac = min(1.0, done / total)
        # Steps overlap, so their own durations say little about what is left:
        # extrapolate this run's wall time once a tenth of its work is done
        # (steps skipped as done before are no part of that work).
        skipped = sum(est[i] for i, st in self.status.items() if st == "skipped" and i in est)
        work = (done - skipped) / max(0.1, total - skipped)
        if self.t0 and work >= 0.1:
            return frac, (now - self.t0) * (1 - work) / work
        ran = [i for i, st in self.status.items() if st == "done" and i in self.seconds and i in est]
        speed = 1.0
        if ran:
            speed = max(0.3, min(5.0, sum(self.seconds[i] for i in ran) /
                                 max(0.1, sum(est[i] for i in ran))))
        return frac, (total - done) * speed

    def tick(self) -> None:
        frac, left = self.fractions()
        self.query_one("#progress", ProgressBar).update(progress=frac)
        eta = self.query_one("#eta", Static)
        elapsed = time.monotonic() - self.t0 if self.t0 else 0
        if self.failed is not None or not self.running:
            return
        eta.update(f" {fmt_secs(elapsed)} elapsed" +
                   (f", ~{fmt_secs(left)} left" if left is not None else ""))

    # ------------------------------------------------------------ outcome

    def on_failed(self, message: str) -> None:
        self.running = False
        t = Text()
        t.append("✗ install failed", style="bold red")
        if self.current:
            t.append(f" in {self.current}", style="bold")
        t.append(f"\n{self.failed.error if self.failed else message}\n")
        t.append("log: ", style="bold")
        t.append(self.failed.log if self.failed else str(self.draft.final.dest / "logs" / "stack.log"))
        t.append("\nRetry resumes from this step; so does `stacktui install` later. Esc goes "
                 "back to the answers (Review) to change them, then installs again.", style="dim")
        self.query_one("#error", Static).update(t)
        self.query_one("#failure").display = True
        self.query_one("#eta", Static).update(Text(" failed", style="bold red"))
        self.query_one("#retry").focus()

    def on_finished(self, summary: dict) -> None:
        self.running = False
        self.query_one("#progress", ProgressBar).update(progress=1.0)
        self.app.show_done(summary)

    def action_retry(self) -> None:
        if not self.running and self.failed is not None or \
                (not self.running and self.query_one("#failure").display):
            self.status = {k: ("pending" if v in ("failed", "running") else v)
                           for k, v in self.status.items()}
            self.start()

    def action_change_answers(self) -> None:
        """After a failure: back to Review with every answer kept; Install
        from there runs the engine again, which redoes only what changed."""
        if self.running:
            self.notify("the install is running; wait for it to end (or ctrl+q to stop it)",
                        timeout=3)
            return
        self.draft.final = None
        self.app.goto("review")

    def action_help(self) -> None:
        from stacktui.widgets.help import HelpScreen
        self.app.push_screen(HelpScreen("Install keys", [("Install", [
            ("f", "pause / follow the output"),
            ("r", "retry after a failure (resumes from the failed step)"),
            ("Esc", "after a failure: back to Review to change the answers"),
            ("q", "quit after a failure (`stacktui install` resumes later)"),
            ("ctrl+q", "quit; while installing, twice (the install stops)"),
            ("?", "this help")])]))

    def action_quit_install(self) -> None:
        if not self.running:
            self.app.exit()

    def action_follow(self) -> None:
        log = self.query_one("#output", LogView)
        log.set_follow(not log.following)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retry":
            self.action_retry()
        elif event.button.id == "change":
            self.action_change_answers()
        elif event.button.id == "quit":
            self.app.exit()
