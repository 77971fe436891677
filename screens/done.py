"""Step 8: what was installed and how to use it; then the dashboard."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from .base import step_bar


def summary_text(s: dict) -> Text:
    t = Text()
    secs = s.get("seconds")
    t.append("✓ stacktui completed", style="bold green")
    if secs is not None:
        t.append(f" in {secs:.0f} seconds", style="bold")
    t.append("\n\n")
    rows = [("DEST", s.get("dest")), ("HOST_IP", s.get("host_ip"))]
    for name, url in (s.get("urls") or {}).items():
        rows.append((name, url))
    rows += [("Admin user", s.get("admin_user") or "admin"),
             ("Passwords", s.get("passwords_file")),
             ("openrc", s.get("openrc")), ("clouds.yaml", s.get("clouds_yaml")),
             ("Log", s.get("log"))]
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        if v:
            t.append(f"{k:>{w}}  ", style="bold")
            t.append(f"{v}\n")
    t.append("\nUse it:\n", style="bold")
    if s.get("openrc"):
        t.append(f"  source {s['openrc']} admin admin && openstack service list\n")
    t.append("  OS_CLOUD=devstack-admin openstack token issue\n")
    # One command a line: with `|` between them they read as a pipeline.
    for cmd, what in (("stacktui status", "each service's state"),
                      ("stacktui restart key", "restart one service"),
                      ("stacktui attach", "this dashboard again, later")):
        t.append(f"  {cmd:<24}", style="bold")
        t.append(f"# {what}\n", style="dim")
    return t


class DoneScreen(Screen):
    NAME = "done"
    BINDINGS = [Binding("d", "dashboard", "Dashboard"), Binding("enter", "dashboard", show=False),
                Binding("q", "app.quit", "Quit (services keep running)")]

    def __init__(self, draft, summary: dict):
        super().__init__()
        self.draft = draft
        self.summary = summary

    def compose(self):
        yield Static(step_bar("done"), id="stepbar")
        with VerticalScroll(id="body"):
            yield Static(summary_text(self.summary), id="done-summary")
        with Horizontal(id="nav"):
            yield Static("", id="nav-msg")
            yield Button("Dashboard (d)", id="dashboard", variant="primary", compact=True)
            yield Button("Quit (q)", id="quit", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#dashboard").focus()

    def action_dashboard(self) -> None:
        self.app.show_dashboard()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "dashboard":
            self.action_dashboard()
        else:
            self.app.exit()
