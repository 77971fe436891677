"""Before the install: sudo's password, asked once in a masked field when
this user's sudo wants one (distro packages to install, a DEST to make). It
is checked with sudo itself, then handed to the engine, whose PTY runner
types it into sudo's prompts; it lives in memory only (no file, no log, no
command line) and goes when the install screen does."""

from __future__ import annotations

from textual import work
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SudoPasswordScreen(ModalScreen):
    DEFAULT_CSS = """
    SudoPasswordScreen { align: center middle; }
    SudoPasswordScreen > Vertical { width: 80%; max-width: 76; height: auto;
        border: round $accent; background: $surface; padding: 0 1; }
    SudoPasswordScreen #sudo-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, user: str, why: str, accepted=None):
        super().__init__()
        self.user, self.why = user, why
        # A seam for tests that cannot run sudo; the real check asks sudo.
        if accepted is None:
            from stacktui.sudopass import accepted
        self.accepted = accepted

    def compose(self):
        with Vertical(id="sudo-box") as v:
            v.border_title = "sudo password"
            yield Static(f"sudo wants {self.user}'s password {self.why}. It is asked once, "
                         "kept in memory only and typed into sudo's own prompts.",
                         id="sudo-why")
            yield Input(password=True, placeholder=f"[sudo] password for {self.user}",
                        id="sudo-password")
            yield Static("", id="sudo-error")
            yield Static("Enter installs, Esc goes back", id="sudo-keys")

    def on_mount(self) -> None:
        self.query_one("#sudo-password", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            return
        event.input.disabled = True
        self.query_one("#sudo-error", Static).update("asking sudo…")
        self.check(event.value)

    @work(thread=True, exclusive=True, group="sudo")
    def check(self, password: str) -> None:
        ok = self.accepted(password)
        self.app.call_from_thread(self.checked, password if ok else None)

    def checked(self, password: str | None) -> None:
        field = self.query_one("#sudo-password", Input)
        field.value = ""
        if password is None:
            field.disabled = False
            field.focus()
            self.query_one("#sudo-error", Static).update("sudo refused that password; try again")
            return
        self.dismiss(password)

    def action_cancel(self) -> None:
        self.query_one("#sudo-password", Input).value = ""
        self.dismiss(None)
