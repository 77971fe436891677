"""Step 6: the answers as stacktui.yaml and as a DevStack local.conf; save;
Install. Passwords never appear here: only where they will be stored."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Static, TabbedContent, TabPane, TextArea

from stacktui import answers as answers_mod
from stacktui.app import TITLES
from stacktui.errors import UserError

from .base import WizardScreen, problem_text


def localconf_text(ans) -> str:
    from stacktui import localconf
    data = dict(ans.data)
    data["passwords"] = {}   # the export would spell them out; secrets.yaml holds them
    text = localconf.export_localconf(data)
    return text + ("\n# Passwords: not shown; stacktui keeps them in secrets.yaml (0600).\n"
                   "# `stacktui export-localconf` writes them out if you need them.\n")


def secrets_text(draft, ans) -> str:
    typed = set((draft.get("passwords") or {}))
    lines = [f"{k}: {'typed' if k in typed else 'generated'} "
             f"({len(ans.password(k))} characters)" for k in answers_mod.password_kinds()]
    return "\n".join(lines) + "\n\nsaved to secrets.yaml (mode 0600) beside the answers file " \
                              "and in DEST/etc/stacktui/"


class ReviewScreen(WizardScreen):
    NAME = "review"
    NEXT_LABEL = "Install"
    BINDINGS = WizardScreen.BINDINGS + [Binding("ctrl+s", "save_file", "Save answers")]

    def __init__(self, draft):
        super().__init__(draft)
        self.problems = []
        try:
            draft.final = draft.answers()
        except UserError as e:
            draft.final = None
            self.problems = e.problems

    def body(self):
        yield Static("Review", classes="title")
        ans = self.draft.final
        if ans is None:
            yield Static(problem_text(self.problems, where=True), id="review-problems")
            return
        with TabbedContent(id="review-tabs"):
            with TabPane("stacktui.yaml", id="tab-yaml"):
                yield TextArea(ans.to_yaml(), read_only=True, id="yaml", show_line_numbers=False)
            with TabPane("local.conf", id="tab-localconf"):
                yield TextArea(localconf_text(ans), read_only=True, id="localconf",
                               show_line_numbers=False)
            with TabPane("passwords", id="tab-secrets"):
                yield Static(secrets_text(self.draft, ans), id="secrets")
        with Horizontal(classes="row"):
            yield Label("Save to", classes="label")
            yield Input(self.draft.ui.get("save_path") or str(Path.cwd() / "stacktui.yaml"),
                        id="save-path", compact=True)
            yield Button("Save", id="save", compact=True)
        yield Static("Saving is optional: Install keeps a copy in DEST/etc/stacktui/. "
                     "Replay it later with `stacktui install --answers FILE`.",
                     id="save-msg", classes="fieldmsg")

    def on_mount(self) -> None:
        if self.draft.final is not None:
            self.query_one("#next").focus()

    def action_save_file(self) -> None:
        if self.draft.final is None:
            return
        raw = self.query_one("#save-path", Input).value.strip()
        self.draft.ui["save_path"] = raw
        msg = self.query_one("#save-msg", Static)
        path = Path(raw).expanduser()
        if not raw:
            msg.update(Text("type a path", style="red"))
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            answers_mod.save(self.draft.final, path)
        except OSError as e:
            msg.update(Text(f"cannot save: {e}", style="bold red"))
            return
        msg.update(Text(f"✓ saved {path} and {path.parent / answers_mod.SECRETS_NAME} (0600)",
                        style="green"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            self.action_save_file()
        else:
            super().on_button_pressed(event)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save_file()

    def save(self) -> None:
        if self.draft.final is not None:
            self.draft.ui["save_path"] = self.query_one("#save-path", Input).value

    def ready(self) -> bool:
        if self.draft.final is None:
            from .base import screen_of
            screens = dict.fromkeys(TITLES[n] for n in map(screen_of, (p.key for p in self.problems))
                                    if n)
            self.say("the answers have problems: go Back to " +
                     (" and ".join(screens) or "the earlier screens") + " and fix them", "bold red")
            return False
        return True
