"""Pane output made safe to print on the operator's terminal.

Whoever can reach a service port can put bytes into its log (a request
path); raw, they could retitle the terminal, move the cursor, rewrite the
screen or answer terminal queries. As in the dashboard, only colour (SGR)
survives, and only when asked; every other escape sequence and control
character goes, C1 controls included (U+009B is a CSI to some terminals).
"""

from __future__ import annotations

import re

_SGR = re.compile(r"\x1b\[[0-9;:]*m")
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"             # CSI ... final byte
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"   # OSC, DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"                   # other escapes (and a lone ESC)
    r"|[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]")    # C0 (tab kept) and C1 controls


def for_terminal(line: str, colour: bool = False) -> str:
    if not colour:
        return _ESCAPES.sub("", line)
    out, pos = [], 0
    for m in _SGR.finditer(line):
        out.append(_ESCAPES.sub("", line[pos:m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_ESCAPES.sub("", line[pos:]))
    text = "".join(out)
    # A line that set a colour ends with it reset, so the next prompt is plain.
    return text + "\x1b[0m" if "\x1b[" in text else text
