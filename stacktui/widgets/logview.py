"""A log view that keeps a pane's colours, stays fast on floods and can search.

Textual's Log renders only visible lines (RichLog renders every write and
freezes on multi-MB output, FIELD-NOTES section 5), so this extends Log:
lines are queued from any thread and flushed in one batch per tick, ANSI
colour is parsed only when a line is drawn, and a search term is highlighted
at draw time instead of rewriting stored lines.
"""

from __future__ import annotations

import re
import threading

from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widgets import Log

# CSI / OSC sequences and lone control characters, removed for width and search.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")
FLUSH_SECONDS = 0.05
SEARCH_STYLE = Style(bgcolor="yellow", color="black")
CURRENT_STYLE = Style(bgcolor="dark_orange", color="black", bold=True)


def plain(line: str) -> str:
    return _ANSI.sub("", line)


class LogView(Log):
    """Log fed in batches, with ANSI colour, follow/pause and search."""

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    """

    def __init__(self, *, max_lines: int = 10_000, flush: float = FLUSH_SECONDS, **kw):
        super().__init__(max_lines=max_lines, **kw)
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()
        self._flush_every = flush
        self.search_term = ""
        self.current_match: int | None = None
        self.dropped = 0

    def on_mount(self) -> None:
        self.set_interval(self._flush_every, self.flush)

    # ------------------------------------------------------------ feeding

    def push(self, lines) -> None:
        """Queue lines; safe from any thread. While paused or flooded, only
        the newest max_lines are kept, as the widget itself would."""
        with self._pending_lock:
            self._pending.extend(lines)
            extra = len(self._pending) - (self.max_lines or 10_000)
            if extra > 0:
                del self._pending[:extra]
                self.dropped += extra

    def flush(self) -> None:
        with self._pending_lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
        # Pruning shifts line numbers; a kept match must move with them.
        before = len(self._lines)
        self.write_lines(batch)
        if self.current_match is not None:
            shift = before + len(batch) - len(self._lines)
            self.current_match = self.current_match - shift if self.current_match >= shift else None

    def reset(self) -> None:
        with self._pending_lock:
            self._pending = []
        self.current_match = None
        self.clear()

    # ------------------------------------------------------------ follow

    @property
    def following(self) -> bool:
        return self.auto_scroll

    def set_follow(self, on: bool) -> None:
        self.auto_scroll = on
        if on:
            self.scroll_end(animate=False)

    # ------------------------------------------------------------ search

    def search(self, term: str, *, backwards: bool = True, again: bool = False) -> int | None:
        """Find the next line holding ``term`` (case-insensitive), from the
        current match (or the bottom of the view) towards older lines."""
        self.search_term = term
        self._render_line_cache.clear()
        if not term:
            self.current_match = None
            self.refresh()
            return None
        needle = term.lower()
        n = len(self._lines)
        if self.current_match is not None and again:
            start = self.current_match - 1 if backwards else self.current_match + 1
        elif self.current_match is not None:
            start = self.current_match
        else:
            start = n - 1 if backwards else 0
        rng = range(start, -1, -1) if backwards else range(start, n)
        for y in rng:
            if needle in plain(self._lines[y]).lower():
                self.current_match = y
                self.set_follow(False)
                self.scroll_to(y=max(0, y - self.size.height // 2), animate=False)
                self.refresh()
                return y
        self.refresh()
        return None

    def line_text(self, y: int) -> str:
        return plain(self._lines[y])

    # ------------------------------------------------------------ drawing

    def _update_size(self, updates: int, lines: list[str]) -> None:
        # Log measures every new line's cell width in a worker; under a flood
        # that is the biggest cost. Character count is a cheap upper bound
        # (escape codes only add scroll room), capped at a sane width.
        if lines:
            self._update_maximum_width(updates, min(max(map(len, lines)), 1000))

    @classmethod
    def _process_line(cls, line: str) -> str:
        return plain(line.expandtabs())

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        cache = self._render_line_cache
        if y in cache and self.text_selection is None:
            return cache[y]
        raw = self._lines[y].expandtabs()
        text = Text.from_ansi(raw, no_wrap=True) if "\x1b" in raw else Text(plain(raw), no_wrap=True)
        text.stylize_before(rich_style)
        if self.search_term:
            low = text.plain.lower()
            needle = self.search_term.lower()
            style = CURRENT_STYLE if y == self.current_match else SEARCH_STYLE
            i = low.find(needle)
            while i >= 0:
                text.stylize(style, i, i + len(needle))
                i = low.find(needle, i + len(needle))
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y - self._clear_y)) is not None:
            start, end = span
            text.stylize(self.screen.get_component_rich_style("screen--selection"), start,
                         len(text) if end == -1 else end)
        strip = Strip(text.render(self.app.console), text.cell_len)
        if selection is None:
            cache[y] = strip
        return strip
