"""Step 1: what will be installed, where, how long, what the machine needs;
load an existing answers file or local.conf."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.widgets import Button, Input, Label, Static

from stacktui import catalog
from stacktui.errors import UserError

from .base import WizardScreen, problem_text

# Overhead the host checks add to the services' RAM (checks.RAM_OVERHEAD_MB).
OVERHEAD_MB = 512


def estimate_seconds(draft) -> int:
    """The engine's own per-step estimates for the plan these answers make."""
    try:
        from stacktui import engine
        steps = engine.plan_steps(draft.answers())
        return int(sum(engine.ESTIMATES.get(s.phase, 1) for s in steps))
    except Exception:  # an invalid draft still gets a welcome; the estimate is a hint
        return 60


def summary_text(draft, estimate: bool = True) -> Text:
    """``estimate=False`` leaves the time out: it validates the answers and
    imports the engine and its phases, which the first paint need not wait for."""
    names = catalog.ordered(catalog.expand(draft.get("enabled_services")))
    ram = catalog.ram_estimate_mb(names) + OVERHEAD_MB
    disk = catalog.disk_estimate_mb(names) + 2048
    secs = estimate_seconds(draft) if estimate else None
    t = Text()
    t.append("stacktui installs an OpenStack development cloud on this machine, as "
             "DevStack's stack.sh does, and keeps each service in a pane you can watch "
             "and restart.\n\n")
    rows = [
        ("Services", ", ".join(names) or "none"),
        ("Where (DEST)", str(draft.get("dest"))),
        ("How long", f"about {max(1, round(secs / 60))} min with a warm package cache "
                     f"(~{secs} s); a first run downloads ~140 packages: add a minute or two"
                     if secs is not None else "…"),
        ("Machine needs", f"~{ram:,} MB RAM free, ~{disk / 1024:.1f} GB disk, Linux, root or sudo"),
    ]
    if draft.loaded_from:
        rows.append(("Loaded from", draft.loaded_from))
    for k, v in rows:
        t.append(f"{k:>14}  ", style="bold")
        t.append(v + "\n")
    return t


class WelcomeScreen(WizardScreen):
    NAME = "welcome"

    def body(self):
        yield Static("Welcome to stacktui", classes="title")
        yield Static(summary_text(self.draft, estimate=False), id="summary")
        with Horizontal(classes="row"):
            yield Label("DEST", classes="label")
            yield Input(str(self.draft.get("dest")), id="dest", compact=True)
        yield Static("", id="dest-msg", classes="fieldmsg")
        yield Static("Already have answers? Load a stacktui.yaml (with secrets.yaml beside it) "
                     "or a DevStack local.conf:", classes="hint")
        with Horizontal(classes="row"):
            yield Label("Load file", classes="label")
            yield Input(placeholder="path to stacktui.yaml or local.conf", id="load-path",
                        compact=True)
            yield Button("Load", id="load", compact=True)
        yield Static("", id="load-msg", classes="fieldmsg")

    def on_mount(self) -> None:
        self.query_one("#load-path" if not self.draft.loaded_from else "#next").focus()
        # on_mount runs before this screen is current, and then
        # call_after_refresh does not wait for a paint; asked again from that
        # callback, it does (the first frame goes out without the estimate).
        self.call_after_refresh(self.call_after_refresh, self.show_estimate)

    def show_estimate(self) -> None:
        try:
            summary = self.query_one("#summary", Static)
        except NoMatches:
            return      # the screen was left before its estimate was due
        summary.update(summary_text(self.draft))

    def save(self) -> None:
        dest = self.query_one("#dest", Input).value.strip()
        if dest and dest != str(self.draft.get("dest")):
            self.draft.set(dest=dest)

    def ready(self) -> bool:
        ps = self.draft.problems(keys=("dest",))
        self.query_one("#dest-msg", Static).update(problem_text(ps))
        return not ps

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "load-path":
            event.stop()
            self.load(event.value)
        elif event.input.id == "dest":
            event.stop()
            self.action_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load":
            event.stop()
            self.load(self.query_one("#load-path", Input).value)
        else:
            super().on_button_pressed(event)

    def load(self, raw: str) -> None:
        msg = self.query_one("#load-msg", Static)
        path = Path(raw.strip()).expanduser()
        if not raw.strip():
            msg.update(Text("type a path first", style="yellow"))
            return
        if not path.is_file():
            msg.update(Text(f"no such file: {path}", style="red"))
            return
        self.save()
        try:
            if path.suffix in (".yaml", ".yml"):
                warnings = self.draft.load_file(path)
            else:
                warnings = self.draft.load_localconf(path)
        except UserError as e:
            msg.update(problem_text(e.problems))
            return
        except (OSError, UnicodeDecodeError) as e:
            msg.update(Text(f"cannot read {path}: {e}", style="red"))
            return
        t = Text(f"✓ loaded {path}", style="green")
        for w in warnings[:6]:
            t.append(f"\n  {w}", style="yellow")
        if len(warnings) > 6:
            t.append(f"\n  … {len(warnings) - 6} more warnings", style="yellow")
        msg.update(t)
        self.query_one("#summary", Static).update(summary_text(self.draft))
        self.query_one("#dest", Input).value = str(self.draft.get("dest"))
        self.query_one("#next", Button).focus()
