"""One module per screen of the wizard and the dashboard (Textual only here,
in stacktui/app.py and stacktui/widgets/)."""

from __future__ import annotations

import importlib


class _Registry(dict):
    """Screen classes by wizard name, imported when first asked for so the
    first paint does not pay for every screen's imports."""

    MODULES = {"welcome": "WelcomeScreen", "hostcheck": "HostCheckScreen",
               "passwords": "PasswordsScreen", "network": "NetworkScreen",
               "services": "ServicesScreen", "review": "ReviewScreen",
               "install": "InstallScreen", "done": "DoneScreen", "dashboard": "DashboardScreen",
               "resume": "ResumeScreen"}

    def __missing__(self, name: str):
        cls = getattr(importlib.import_module(f"stacktui.screens.{name}"), self.MODULES[name])
        self[name] = cls
        return cls


SCREENS = _Registry()
