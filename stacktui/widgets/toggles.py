"""Checkbox, radio button and selection list whose state is a character,
not only a colour: `[X]` / `[ ]`, `(•)` / `( )`. A monochrome terminal, a
colour-blind user and a screen reader's text dump all read it."""

from __future__ import annotations

from textual.content import Content
from textual.strip import Strip
from textual.widgets import Checkbox, RadioButton, SelectionList


class _Marked:
    ON, OFF, LEFT, RIGHT = "X", " ", "[", "]"

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble(self.LEFT, (self.ON if self.value else self.OFF, style), self.RIGHT)


class Tick(_Marked, Checkbox):
    pass


class Choice(_Marked, RadioButton):
    ON, LEFT, RIGHT = "•", "(", ")"


class TickList(SelectionList):
    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        try:
            option = self.get_option_at_index(self.scroll_offset.y + y)
        except Exception:  # noqa: BLE001 - a line past the options
            return strip
        segs = list(strip)
        if len(segs) < 3:
            return strip
        on = option.value in self._selected
        # The first three segments are SelectionList's button: left, inner, right.
        left, inner, right = segs[:3]
        segs[0] = left._replace(text="[", style=inner.style)
        segs[1] = inner._replace(text="X" if on else " ")
        segs[2] = right._replace(text="]", style=inner.style)
        return Strip(segs, strip.cell_length)
