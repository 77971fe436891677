"""What every wizard screen shares: the step bar, Back/Next, keys."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from stacktui.app import TITLES, WIZARD

STEPS = WIZARD + ("install", "done")
SHORT = {"hostcheck": "Host", "passwords": "Passwords"}


def step_bar(current: str) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    for i, name in enumerate(STEPS[:-1], 1):
        label = f" {i} {SHORT.get(name, TITLES[name])} "
        if name == current:
            t.append(label, style="bold reverse")
        elif STEPS.index(name) < STEPS.index(current):
            t.append(label, style="green")
        else:
            t.append(label, style="dim")
    return t


# Which wizard screen holds each answer: a problem says where to fix it.
SCREEN_OF = {"dest": "welcome", "passwords": "passwords", "admin_password": "passwords",
             "host_ip": "network", "fixed_range": "network", "floating_range": "network",
             "public_interface": "network", "ip_version": "network", "ipv6": "network",
             "enabled_services": "services", "ports": "services", "database": "services",
             "virt_driver": "services"}


def screen_of(key: str | None) -> str | None:
    return SCREEN_OF.get((key or "").split(".")[0].split("[")[0])


def field_name(key: str | None) -> str:
    """`passwords.admin` -> `admin password`, `ports.key` -> `key's port`."""
    if not key:
        return ""
    head, _, rest = key.partition(".")
    if head == "passwords" and rest:
        return f"{rest} password"
    if head == "ports" and rest:
        return f"{rest}'s port"
    return key


def problem_text(problems, where: bool = False) -> Text:
    """One line a problem, naming its field (and, with ``where``, the
    screen to fix it on): a message alone loses its subject."""
    t = Text()
    for i, p in enumerate(problems):
        if i:
            t.append("\n")
        t.append("✗ ", style="bold red")
        if p.key:
            t.append(f"{field_name(p.key)}: ", style="bold")
        t.append(p.message)
        scr = screen_of(p.key) if where else None
        if scr:
            t.append(f" [on {TITLES[scr]}]", style="bold")
        if p.fix:
            t.append(f" ({p.fix})", style="dim")
    return t


class WizardScreen(Screen):
    """A wizard step. Subclasses yield their form from body(), copy the
    form into the draft in save(), and veto Next in ready()."""

    NAME = ""
    NEXT_LABEL = "Next"
    BINDINGS = [
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("escape", "back", "Back"),
        Binding("f1", "help", "Help", priority=True),
        Binding("question_mark", "help", show=False),
    ]
    # Keys of the widgets themselves, for the help screen.
    FIELD_KEYS = [("Tab / shift+Tab", "next / previous field or button"),
                  ("Enter", "press the focused button; in a path box, load it"),
                  ("Space", "tick / untick the focused checkbox or option: [X] is on, [ ] off"),
                  ("↑ ↓", "move in a list or table")]

    def __init__(self, draft):
        super().__init__()
        self.draft = draft

    def compose(self):
        yield Static(step_bar(self.NAME), id="stepbar")
        with VerticalScroll(id="body"):
            yield from self.body()
        with Horizontal(id="nav"):
            yield Static("", id="nav-msg")
            if self.NAME != WIZARD[0]:
                yield Button("Back", id="back", compact=True)
            yield Button(self.NEXT_LABEL, id="next", variant="primary", compact=True)
        yield Footer()

    def body(self):
        yield from ()

    def check_action(self, action: str, parameters) -> bool | None:
        # Welcome has nothing before it: no Back key in its footer.
        if action == "back" and self.NAME == WIZARD[0]:
            return False
        return True

    def action_help(self) -> None:
        from stacktui.widgets.help import HelpScreen
        keys = []
        for b in self.BINDINGS:
            if b.action == "back" and self.NAME == WIZARD[0]:
                continue
            if b.description:
                keys.append((b.key.replace("escape", "Esc").replace("question_mark", "?"),
                             b.description))
        keys += [("?, F1", "this help (? types into a text box instead)"),
                 ("ctrl+q", "quit (nothing is installed until the Install step)")]
        self.app.push_screen(HelpScreen(f"{TITLES[self.NAME]} keys",
                                        [(TITLES[self.NAME], keys), ("Fields", self.FIELD_KEYS)]))

    def save(self) -> None:
        """Copy the form into the draft (called on Back and on Next)."""

    def ready(self) -> bool:
        """May the user go on? Say why not in nav-msg when not."""
        return True

    def say(self, text: str | Text, style: str = "") -> None:
        msg = self.query_one("#nav-msg", Static)
        msg.update(Text(text, style=style) if isinstance(text, str) else text)

    def _stale(self, _event=None) -> None:
        # A veto's reason goes once the user changes anything: it may no longer hold.
        try:
            self.query_one("#nav-msg", Static).update("")
        except Exception:  # noqa: BLE001 - not composed yet
            pass

    on_input_changed = on_checkbox_changed = on_select_changed = _stale
    on_selection_list_selected_changed = on_radio_set_changed = _stale

    def action_next(self) -> None:
        self.save()
        if self.ready():
            self.app.wizard_step(self.NAME, +1)

    def action_back(self) -> None:
        self.save()
        self.app.wizard_step(self.NAME, -1)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            event.stop()
            self.action_next()
        elif event.button.id == "back":
            event.stop()
            self.action_back()
