"""`?`: every key of the screen it was opened on, in one scrollable list."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def key_table(sections: list[tuple[str, list[tuple[str, str]]]]) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(no_wrap=True, style="bold")
    t.add_column()
    for i, (title, rows) in enumerate(sections):
        if i:
            t.add_row("", "")
        t.add_row(Text(title, style="bold underline"), "")
        for key, what in rows:
            t.add_row(key, what)
    return t


class HelpScreen(ModalScreen):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 1; }
    HelpScreen #help-close { dock: bottom; height: 1; color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("q", "dismiss", show=False),
                Binding("question_mark", "dismiss", show=False)]

    def __init__(self, title: str, sections):
        super().__init__()
        self.title_text = title
        self.sections = sections

    def compose(self):
        with VerticalScroll(id="help-body") as v:
            v.border_title = self.title_text
            yield Static(key_table(self.sections), id="help-keys")
            yield Static("Esc, q or ? closes; ↑ ↓ PageUp PageDown scroll", id="help-close")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_dismiss(self) -> None:
        self.dismiss()
