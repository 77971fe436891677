"""Step 3: the four DevStack passwords. Any printable character is allowed
(answers.py quotes them everywhere); blank means generate one."""

from __future__ import annotations

import functools
import math
import string

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, Label, Static

from stacktui import answers as answers_mod
from stacktui.widgets.toggles import Tick

from .base import WizardScreen



@functools.cache
def keys() -> tuple[str, ...]:
    # Asked when the screen is built, not at import: the kinds come from the
    # service specs, which the first paint does not wait for.
    return answers_mod.password_kinds()


WHAT = {"admin": "admin (Horizon, openstack CLI)", "database": "database",
        "rabbit": "rabbit (message queue)", "service": "service users"}


def strength(pw: str) -> tuple[str, str]:
    """A rough hint from length and character classes, not a promise."""
    if not pw:
        return (f"blank: a random {answers_mod.PASSWORD_LENGTH}-character password "
                "is generated", "dim")
    pool = 0
    for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        if any(c in chars for c in pw):
            pool += len(chars)
    if any(not c.isalnum() for c in pw):
        pool += 33
    bits = len(pw) * math.log2(max(pool, 2))
    if bits < 40:
        return f"weak (~{bits:.0f} bits)", "bold red"
    if bits < 64:
        return f"fair (~{bits:.0f} bits)", "yellow"
    if bits < 100:
        return f"good (~{bits:.0f} bits)", "green"
    return f"strong (~{bits:.0f} bits)", "bold green"


class PasswordsScreen(WizardScreen):
    NAME = "passwords"
    BINDINGS = WizardScreen.BINDINGS + [
        Binding("ctrl+t", "toggle_show", "Show/hide"),
        Binding("ctrl+g", "generate_focused", "Generate"),
    ]

    def body(self):
        yield Static("Passwords", classes="title")
        yield Static("Any printable character works (quoted correctly in every config). "
                     "Leave blank to generate. Saved only in secrets.yaml (mode 0600).",
                     classes="hint")
        with Horizontal(classes="row"):
            yield Tick("Show", id="show", compact=True)
            yield Tick("Same for all", id="same", compact=True,
                           value=self.draft.ui.get("same_password", False))
        for k in keys():
            yield Label(WHAT[k], classes="pwlabel")
            with Horizontal(classes="row"):
                yield Input(password=True, placeholder="password", id=f"pw-{k}", compact=True,
                            classes="pw")
                yield Input(password=True, placeholder="confirm", id=f"confirm-{k}",
                            compact=True, classes="pw")
                yield Button("Generate", id=f"gen-{k}", compact=True)
            yield Static("", id=f"hint-{k}", classes="fieldmsg")

    def on_mount(self) -> None:
        pw = self.draft.get("passwords") or {}
        confirms = self.draft.ui.get("confirm", {})
        for k in keys():
            v = pw.get(k, "")
            self.query_one(f"#pw-{k}", Input).value = v
            self.query_one(f"#confirm-{k}", Input).value = confirms.get(k, v)
        self.apply_same()
        self.refresh_hints()
        self.query_one("#pw-admin", Input).focus()

    # ------------------------------------------------------------ form

    def values(self) -> dict[str, tuple[str, str]]:
        return {k: (self.query_one(f"#pw-{k}", Input).value,
                    self.query_one(f"#confirm-{k}", Input).value) for k in keys()}

    def same(self) -> bool:
        return self.query_one("#same", Checkbox).value

    def apply_same(self) -> None:
        on = self.same()
        for k in keys()[1:]:
            for w in (f"#pw-{k}", f"#confirm-{k}", f"#gen-{k}"):
                self.query_one(w).disabled = on

    def refresh_hints(self) -> None:
        vals = self.values()
        for k in keys():
            pw, confirm = vals["admin"] if self.same() and k != "admin" else vals[k]
            hint = self.query_one(f"#hint-{k}", Static)
            if self.same() and k != "admin":
                hint.update(Text("same as admin", style="dim"))
                continue
            text, style = strength(pw)
            t = Text(text, style=style)
            if pw and confirm != pw:
                t.append("  ✗ confirmation does not match" if confirm else "  type it again to confirm",
                         style="bold red" if confirm else "yellow")
            elif pw:
                t.append("  ✓ confirmed", style="green")
            hint.update(t)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_hints()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "show":
            for w in self.query(".pw").results(Input):
                w.password = not event.value
        elif event.checkbox.id == "same":
            self.apply_same()
            self.refresh_hints()

    def action_toggle_show(self) -> None:
        box = self.query_one("#show", Checkbox)
        box.value = not box.value

    def generate(self, k: str) -> None:
        pw = answers_mod.generate_password()
        self.query_one(f"#pw-{k}", Input).value = pw
        self.query_one(f"#confirm-{k}", Input).value = pw
        self.refresh_hints()

    def action_generate_focused(self) -> None:
        fid = (self.focused.id or "") if self.focused else ""
        k = fid.split("-", 1)[1] if "-" in fid else "admin"
        if k in keys():
            self.generate(k)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id or ""
        if bid.startswith("gen-"):
            event.stop()
            self.generate(bid[4:])
        else:
            super().on_button_pressed(event)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    # ------------------------------------------------------------ draft

    def save(self) -> None:
        vals = self.values()
        if self.same():
            vals = {k: vals["admin"] for k in keys()}
        self.draft.set(passwords={k: pw for k, (pw, _) in vals.items() if pw})
        self.draft.ui["confirm"] = {k: c for k, (_, c) in vals.items()}
        self.draft.ui["same_password"] = self.same()

    def ready(self) -> bool:
        vals = self.values()
        for k in (keys()[:1] if self.same() else keys()):
            pw, confirm = vals[k]
            if pw and pw != confirm:
                self.say(f"{k}: the confirmation does not match", "bold red")
                self.query_one(f"#confirm-{k}", Input).focus()
                return False
            if pw and not pw.isprintable():
                self.say(f"{k}: only printable characters", "bold red")
                return False
        return True
