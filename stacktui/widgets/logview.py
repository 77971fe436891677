"""A log view that keeps a pane's colours, stays fast on floods, searches
with regular expressions, wraps on demand and has a keyboard copy mode.

Textual's Log renders only visible lines (RichLog renders every write and
freezes on multi-MB output, FIELD-NOTES section 5), so this extends Log:
lines are queued from any thread and flushed in one batch per tick, ANSI
colour is parsed only when a line is drawn, and search matches, the copy
cursor and its selection are painted at draw time instead of rewriting
stored lines.

Wrapping keeps the pane's own lines in ``_raw`` and shows rows cut to the
view's width in ``_lines`` (Log's list of what it draws); without wrap both
hold the same lines. A wrapped long line loses its colour (its rows are cut
from the plain text); short lines keep theirs.
"""

from __future__ import annotations

import re
import threading
import time

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import Log

# CSI / OSC sequences and lone control characters, removed for width and search.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")
FLUSH_SECONDS = 0.05
# Reverse video and bold, not colour alone: readable on a monochrome terminal.
SEARCH_STYLE = Style(bgcolor="yellow", color="black", underline=True)
CURRENT_STYLE = Style(bgcolor="dark_orange", color="black", bold=True, underline=True)
SELECT_STYLE = Style(reverse=True)
CURSOR_STYLE = Style(reverse=True, bold=True, underline=True)
PROBLEM = re.compile(r"\b(ERROR|CRITICAL|Traceback \(most recent call last\))")
# What str.splitlines breaks at: a batch holding none is written as it is.
_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def plain(line: str) -> str:
    return _ANSI.sub("", line)


def compile_search(term: str) -> tuple[re.Pattern | None, bool]:
    """A pattern for ``term`` as less takes it: a regular expression, case
    ignored unless the term has a capital (smart case). An invalid
    expression is searched literally; the flag says so."""
    if not term:
        return None, False
    flags = 0 if any(c.isupper() for c in term) else re.IGNORECASE
    try:
        return re.compile(term, flags), False
    except re.error:
        return re.compile(re.escape(term), flags), True


class LogView(Log):
    """Log fed in batches, with ANSI colour, follow/pause, search, wrap and copy mode."""

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    """

    def __init__(self, *, max_lines: int = 10_000, flush: float = FLUSH_SECONDS, **kw):
        super().__init__(max_lines=max_lines, **kw)
        self.keep_lines = max_lines
        self._raw: list[str] = []
        self._stamps: list[float | None] = []   # when each line of _raw arrived here
        self._pending: list[str] = []
        self._pending_stamps: list[float | None] = []
        self.timestamps = False
        self._pending_lock = threading.Lock()
        self._flush_every = flush
        self.search_term = ""
        self.pattern: re.Pattern | None = None
        self.literal = False
        self.current_match: int | None = None
        self.dropped = 0
        self.wrap = False
        self._wrap_width = 0
        self.cursor: int | None = None      # copy mode: the cursor row, None outside it
        self.anchor: int | None = None      # copy mode: where the selection began

    def on_mount(self) -> None:
        self.set_interval(self._flush_every, self.flush)

    # ------------------------------------------------------------ feeding

    def push(self, lines, live: bool = True) -> None:
        """Queue lines; safe from any thread. While paused or flooded, only
        the newest max_lines are kept, as the widget itself would. Lines that
        are not ``live`` (scrollback) get no arrival time."""
        lines = list(lines)
        stamp = time.time() if live else None
        with self._pending_lock:
            self._pending.extend(lines)
            self._pending_stamps.extend([stamp] * len(lines))
            extra = len(self._pending) - (self.keep_lines or 10_000)
            if extra > 0:
                del self._pending[:extra]
                del self._pending_stamps[:extra]
                self.dropped += extra

    def flush(self) -> None:
        with self._pending_lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            stamps, self._pending_stamps = self._pending_stamps, []
        self._raw.extend(batch)
        self._stamps.extend(stamps)
        if len(self._raw) > self.keep_lines:
            cut = len(self._raw) - self.keep_lines
            del self._raw[:cut]
            del self._stamps[:cut]
        if self.timestamps:
            batch = self._stamped(batch, stamps)
        rows = self._rows(batch) if self.wrap else batch
        self._write_rows(rows)

    def _write_rows(self, rows: list[str]) -> None:
        # Pruning shifts row numbers; a kept match and the copy cursor move with them.
        before = len(self._lines)
        self.write_lines(rows)
        shift = before + len(rows) - len(self._lines)
        if shift:
            def moved(y):
                return None if y is None or y < shift else y - shift
            self.current_match = moved(self.current_match)
            if self.cursor is not None:
                self.cursor = moved(self.cursor) if self.cursor >= shift else 0
                self.anchor = moved(self.anchor) if self.anchor is not None else None

    def write_lines(self, lines, scroll_end: bool | None = None):
        """Log.write_lines for a flood's batches (thousands of lines at once):
        one scan for line breaks instead of a splitlines per line, and one
        refresh of the view instead of one cache discard per new row (new
        rows are past every cached one)."""
        lines = lines if isinstance(lines, list) else list(lines)
        if _BREAKS.search("\x00".join(lines)):
            # A blank line stays a row (Log's splitlines would drop it and
            # put its rows out of step with the pane's lines).
            split: list[str] = []
            for line in lines:
                split.extend(line.splitlines() or [""])
            lines = split
        at_end = self.is_vertical_scroll_end
        auto = self.auto_scroll if scroll_end is None else scroll_end
        self._lines.extend(lines)
        if self.max_lines is not None and len(self._lines) > self.max_lines:
            self._prune_max_lines()
        self.virtual_size = Size(self._width, len(self._lines))
        self._update_size(self._updates, lines)
        if auto and at_end and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()
        return self

    def reset(self) -> None:
        with self._pending_lock:
            self._pending = []
            self._pending_stamps = []
        self.current_match = None
        self.cursor = self.anchor = None
        self._raw = []
        self._stamps = []
        self.clear()

    def raw_lines(self) -> list[str]:
        return self._raw

    # ------------------------------------------------------------ wrap

    def _rows(self, lines: list[str]) -> list[str]:
        width = max(10, self.scrollable_content_region.width or self.size.width or 80)
        self._wrap_width = width
        out: list[str] = []
        for line in lines:
            if len(line) <= width:
                out.append(line)
                continue
            p = plain(line.expandtabs())
            if len(p) <= width:
                out.append(line)
                continue
            out.extend(p[i:i + width] for i in range(0, len(p), width))
        return out

    @staticmethod
    def _stamped(lines: list[str], stamps: list) -> list[str]:
        # The arrival time here, not the service's own: blank for scrollback,
        # whose time is unknown (and usually in the line already).
        out = []
        for line, t in zip(lines, stamps):
            out.append((time.strftime("%H:%M:%S ", time.localtime(t)) if t else " " * 9) + line)
        return out

    def set_timestamps(self, on: bool) -> None:
        self.timestamps = on
        self._rebuild()

    def set_wrap(self, on: bool) -> None:
        self.wrap = on
        self._rebuild()

    def _rebuild(self) -> None:
        following = self.following
        self.current_match = None
        self.cursor = self.anchor = None
        # Wrapped rows outnumber lines: room for long ones, still bounded.
        self.max_lines = self.keep_lines * 4 if self.wrap else self.keep_lines
        raw, stamps = list(self._raw), list(self._stamps)
        self.clear()
        self._raw, self._stamps = raw, stamps
        shown = self._stamped(raw, stamps) if self.timestamps else raw
        self.write_lines(self._rows(shown) if self.wrap else shown)
        if following:
            self.scroll_end(animate=False, immediate=True)

    def on_resize(self) -> None:
        if self.wrap and self.scrollable_content_region.width != self._wrap_width:
            self._rebuild()

    # ------------------------------------------------------------ follow

    @property
    def following(self) -> bool:
        return self.auto_scroll

    def set_follow(self, on: bool) -> None:
        self.auto_scroll = on
        if on:
            self.scroll_end(animate=False, immediate=True)

    # ------------------------------------------------------------ search

    def set_search(self, term: str) -> None:
        if term != self.search_term:
            self.search_term = term
            self.pattern, self.literal = compile_search(term)
            self._render_line_cache.clear()
            self.refresh()

    def matches(self, y: int) -> bool:
        return self.pattern is not None and self.pattern.search(plain(self._lines[y])) is not None

    def search(self, term: str, *, backwards: bool = True, again: bool = False) -> int | None:
        """Find the next row matching ``term``, from the current match (or
        the bottom of the view) towards older rows, or newer ones."""
        self.set_search(term)
        if self.pattern is None:
            self.current_match = None
            self.refresh()
            return None
        n = len(self._lines)
        if self.current_match is not None and again:
            start = self.current_match - 1 if backwards else self.current_match + 1
        elif self.current_match is not None:
            start = self.current_match
        else:
            start = n - 1 if backwards else 0
        rng = range(min(start, n - 1), -1, -1) if backwards else range(max(start, 0), n)
        for y in rng:
            if self.matches(y):
                self.show_match(y)
                return y
        self._render_line_cache.clear()
        self.refresh()
        return None

    def count_matches(self) -> int:
        return sum(1 for y in range(len(self._lines)) if self.matches(y))

    def show_match(self, y: int) -> None:
        self.current_match = y
        self.set_follow(False)
        self.center(y)
        self._render_line_cache.clear()
        self.refresh()

    def center(self, y: int) -> None:
        self.scroll_to(y=max(0, y - self.size.height // 2), animate=False, immediate=True)

    def next_problem(self, backwards: bool = False) -> int | None:
        """The next row with ERROR, CRITICAL or a traceback, from the cursor
        or the current match or the top of the view."""
        n = len(self._lines)
        here = self.current_match if self.current_match is not None else (
            self.scroll_offset.y + (self.size.height - 1 if backwards else 0))
        rng = range(here - 1, -1, -1) if backwards else range(here + 1, n)
        for y in rng:
            if PROBLEM.search(plain(self._lines[y])):
                self.show_match(y)
                return y
        return None

    def line_text(self, y: int) -> str:
        return plain(self._lines[y])

    # ------------------------------------------------------------ copy mode

    def copy_mode(self, on: bool) -> None:
        if on:
            self.set_follow(False)
            top, h = self.scroll_offset.y, self.scrollable_content_region.height
            last = len(self._lines) - 1
            self.cursor = max(0, min(last, top + h - 1)) if last >= 0 else None
        else:
            self.cursor = None
        self.anchor = None
        self._render_line_cache.clear()
        self.refresh()

    def move_cursor(self, delta: int | None = None, to: int | None = None) -> None:
        if self.cursor is None or not self._lines:
            return
        y = to if to is not None else self.cursor + (delta or 0)
        self.cursor = max(0, min(len(self._lines) - 1, y))
        top, h = self.scroll_offset.y, self.scrollable_content_region.height
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False, immediate=True)
        self._render_line_cache.clear()
        self.refresh()

    def toggle_anchor(self) -> None:
        self.anchor = None if self.anchor is not None else self.cursor
        self._render_line_cache.clear()
        self.refresh()

    def selected_range(self) -> tuple[int, int] | None:
        if self.cursor is None:
            return None
        a = self.cursor if self.anchor is None else self.anchor
        return min(a, self.cursor), max(a, self.cursor)

    def selected_text(self) -> str:
        r = self.selected_range()
        if r is None:
            return ""
        return "\n".join(plain(self._lines[y]) for y in range(r[0], r[1] + 1)) + "\n"

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

    def render_lines(self, crop):
        # Log asks for rich_style once per row, and each time it walks every
        # ancestor's styles: the widget's largest cost per frame under a flood.
        # One walk per frame is enough (the style cannot change mid-frame).
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    @property
    def rich_style(self) -> Style:
        cached = getattr(self, "_frame_style", None)
        return cached if cached is not None else super().rich_style

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        cache = self._render_line_cache
        if y in cache and self.text_selection is None:
            return cache[y]
        raw = self._lines[y].expandtabs()
        text = Text.from_ansi(raw, no_wrap=True) if "\x1b" in raw else Text(plain(raw), no_wrap=True)
        text.stylize_before(rich_style)
        if self.pattern is not None:
            style = CURRENT_STYLE if y == self.current_match else SEARCH_STYLE
            for m in self.pattern.finditer(text.plain):
                if m.end() > m.start():
                    text.stylize(style, m.start(), m.end())
        sel = self.selected_range()
        if sel is not None and sel[0] <= y <= sel[1]:
            text.stylize(CURSOR_STYLE if y == self.cursor else SELECT_STYLE)
            if not text.plain:
                text = Text(" ", style=CURSOR_STYLE if y == self.cursor else SELECT_STYLE)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y - self._clear_y)) is not None:
            start, end = span
            # Reverse video: the theme's selection colour was invisible on
            # some terminals (a tinted background under coloured text).
            text.stylize(SELECT_STYLE, start, len(text) if end == -1 else end)
        strip = Strip(text.render(self.app.console), text.cell_len)
        if selection is None:
            cache[y] = strip
        return strip
