"""Shown instead of the dashboard when DEST holds the answers of an install
that never finished (the wizard was quit, the machine rebooted): go on with
the saved answers, change them first, or look at what already runs."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from .base import step_bar


def progress_text(dest, done: int, total: int | None, failed: str | None) -> Text:
    t = Text()
    t.append("An install into ", style="bold")
    t.append(str(dest), style="bold")
    t.append(" did not finish.\n\n", style="bold")
    t.append(f"{done} step{'s' if done != 1 else ''} done")
    if total:
        t.append(f" of about {total}")
    if failed:
        t.append(f"; it stopped at {failed}", style="bold")
    t.append(".\n\nResume installs with the answers it was started with (from where it "
             "stopped: nothing done is redone). Change answers opens the wizard with them "
             "filled in. Dashboard shows the services that already run.\n")
    return t


class ResumeScreen(Screen):
    NAME = "resume"
    BINDINGS = [Binding("r", "resume", "Resume"), Binding("c", "change", "Change answers"),
                Binding("d", "dashboard", "Dashboard"), Binding("q", "app.quit", "Quit")]

    def __init__(self, draft, info: dict):
        super().__init__()
        self.draft = draft
        self.info = info

    def compose(self):
        yield Static(step_bar("install"), id="stepbar")
        with VerticalScroll(id="body"):
            yield Static("Resume the install?", classes="title")
            yield Static(progress_text(self.info["dest"], self.info.get("done", 0),
                                       self.info.get("total"), self.info.get("failed")),
                         id="resume-text")
            yield Static("", id="resume-msg")
        with Horizontal(id="nav"):
            yield Static("", id="nav-msg")
            yield Button("Resume (r)", id="resume", variant="primary", compact=True)
            yield Button("Change answers (c)", id="change", compact=True)
            yield Button("Dashboard (d)", id="dashboard", compact=True)
            yield Button("Quit (q)", id="quit", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#resume").focus()

    def _load(self) -> bool:
        from stacktui.errors import UserError
        try:
            self.draft.load_file(self.info["answers"])
        except UserError as e:
            from .base import problem_text
            self.query_one("#resume-msg", Static).update(
                Text("The saved answers cannot be used:\n") + problem_text(e.problems))
            return False
        return True

    def action_resume(self) -> None:
        if self._load():
            self.draft.final = self.draft.answers()
            self.app.goto("install")

    def action_change(self) -> None:
        if self._load():
            self.app.goto("welcome")

    def action_dashboard(self) -> None:
        self.app.show_dashboard()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"resume": self.action_resume, "change": self.action_change,
         "dashboard": self.action_dashboard, "quit": self.app.exit}[event.button.id]()
