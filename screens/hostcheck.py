"""Step 2: the host fitness checks, ok / warn / fail with numbers and fixes.
A failed check blocks Next until the user overrides it explicitly.

DEST is here too: the disk and dest checks measure it, and their fix
("choose another dest") is then one field away; a new DEST is checked as
the answers check it (stacktui.destdir.problem) and the checks run again."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Checkbox, DataTable, Input, Label, Static

from stacktui.widgets.toggles import Tick

from stacktui.errors import UserError

from .base import WizardScreen, problem_text

BADGE = {"ok": ("ok", "green"), "warn": ("warn", "bold yellow"), "fail": ("FAIL", "bold red")}


class HostCheckScreen(WizardScreen):
    NAME = "hostcheck"
    BINDINGS = WizardScreen.BINDINGS + [
        Binding("o", "override", "Override fails"),
        Binding("r", "rerun", "Re-check"),
    ]

    def body(self):
        yield Static("Host check", classes="title")
        with Horizontal(classes="row"):
            yield Label("DEST", classes="label")
            yield Input(str(self.draft.get("dest")), id="dest", compact=True,
                        tooltip="where the stack goes; Enter checks it and the host again")
        yield Static("", id="dest-msg", classes="fieldmsg")
        yield Static("Checking this machine…", id="check-summary")
        yield DataTable(id="checks", cursor_type="row", zebra_stripes=True)
        yield Static("", id="check-detail", classes="detail")
        yield Tick("Continue although checks failed (I know the install may break)",
                       id="override", value=self.draft.override_failed_checks, compact=True)

    def on_mount(self) -> None:
        t = self.query_one("#checks", DataTable)
        t.add_columns("", "check", "measured")
        self.query_one("#override").display = False
        if self.draft.checks is None:
            self.action_rerun()
        else:
            self.show(self.draft.checks)
        t.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "dest":
            event.stop()
            if self.apply_dest():
                self.query_one("#checks", DataTable).focus()

    def apply_dest(self) -> bool:
        """Take the DEST field if it is fit; the checks then measure it."""
        field = self.query_one("#dest", Input)
        value = field.value.strip()
        msg = self.query_one("#dest-msg", Static)
        if not value:
            msg.update(Text("✗ DEST: give a folder, e.g. /opt/stack", style="bold red"))
            return False
        before = self.draft.values.get("dest")
        if value == str(self.draft.get("dest")):
            ps = self.draft.problems(keys=("dest",))
        else:
            self.draft.set(dest=value)
            ps = self.draft.problems(keys=("dest",))
            if ps:
                # Keep the last fit DEST in the answers; the field shows the problem.
                if before is None:
                    self.draft.values.pop("dest", None)
                else:
                    self.draft.set(dest=before)
            else:
                self.draft.checks = None
                self.action_rerun()
        msg.update(problem_text(ps))
        return not ps

    def save(self) -> None:
        try:
            field = self.query_one("#dest", Input)
        except Exception:  # noqa: BLE001 - not composed yet
            return
        if field.value.strip() != str(self.draft.get("dest")):
            self.apply_dest()

    def action_rerun(self) -> None:
        self.query_one("#check-summary", Static).update("Checking this machine…")
        try:
            ans = self.draft.answers()
        except UserError as e:
            self.query_one("#check-summary", Static).update(
                Text("The answers have problems; fix them on the later screens:\n") +
                problem_text(e.problems))
            self.draft.checks = []
            return
        self.run_checks(ans)

    @work(thread=True, exclusive=True, group="checks")
    def run_checks(self, ans) -> None:
        fn = getattr(self.app, "checks_fn", None)
        if fn is None:
            from stacktui.checks import run_checks as fn
        checks = fn(ans)
        self.app.call_from_thread(self.show, checks)

    def show(self, checks) -> None:
        self.draft.checks = checks
        t = self.query_one("#checks", DataTable)
        t.clear()
        for i, c in enumerate(checks):
            label, style = BADGE.get(c.status, (c.status, ""))
            t.add_row(Text(label, style=style), c.name, c.measured, key=str(i))
        n = {s: sum(c.status == s for c in checks) for s in BADGE}
        summary = Text()
        summary.append(f"{n['ok']} ok", style="green")
        summary.append(f", {n['warn']} warning{'s' * (n['warn'] != 1)}",
                       style="yellow" if n["warn"] else "")
        summary.append(f", {n['fail']} failed", style="bold red" if n["fail"] else "")
        if n["fail"]:
            summary.append("  — fix them, or press o to continue anyway", style="red")
        self.query_one("#check-summary", Static).update(summary)
        self.query_one("#override").display = bool(n["fail"])
        first_bad = next((i for i, c in enumerate(checks) if c.status != "ok"), 0)
        if checks:
            t.move_cursor(row=first_bad)
            self.detail(first_bad)

    def detail(self, i: int) -> None:
        checks = self.draft.checks or []
        if not 0 <= i < len(checks):
            return
        c = checks[i]
        t = Text()
        t.append(f"{c.name}: ", style="bold")
        t.append(c.measured)
        t.append("\nneeds: ", style="bold")
        t.append(c.needed or "-")
        if c.fix and c.status != "ok":
            t.append("\nfix: ", style="bold yellow")
            t.append(c.fix)
        self.query_one("#check-detail", Static).update(t)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.detail(event.cursor_row)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.draft.override_failed_checks = event.value

    def action_override(self) -> None:
        box = self.query_one("#override", Checkbox)
        if box.display:
            box.value = not box.value

    def ready(self) -> bool:
        if self.query_one("#dest", Input).value.strip() != str(self.draft.get("dest")):
            self.say("DEST: fix it (see above) or put back "
                     f"{self.draft.get('dest')}", "bold red")
            return False
        if self.draft.checks is None:
            self.say("still checking…", "yellow")
            return False
        if any(c.status == "fail" for c in self.draft.checks) and \
                not self.draft.override_failed_checks:
            self.say("a check failed: fix it and press r, or press o to override", "bold red")
            return False
        return True
