"""oslo.config-style ini files, written without interpolation so a password
holding `%` or `$` reaches the service exactly as typed."""

from __future__ import annotations

import configparser
from pathlib import Path

from .fsutil import atomic_write


def quote_value(v: str) -> str:
    """Make oslo.config read back exactly ``v``: it substitutes ``$name``
    (``$$`` is a literal dollar), strips surrounding whitespace, and drops one
    pair of matching outer quotes; it does no backslash unescaping."""
    v = v.replace("$", "$$")
    if v != v.strip() or (v and v[0] == v[-1] and v[0] in "\"'"):
        v = '"' + v + '"'
    return v


def unquote_value(v: str) -> str:
    v = v.strip()
    if v and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1]
    return v.replace("$$", "$")


def _parser() -> configparser.RawConfigParser:
    p = configparser.RawConfigParser(interpolation=None, strict=False,
                                     default_section="__no_default__")
    p.optionxform = str     # oslo option names are case sensitive
    return p


def read(path: Path) -> configparser.RawConfigParser:
    p = _parser()
    if Path(path).exists():
        p.read(path, encoding="utf-8")
    return p


def render(sections: dict[str, dict]) -> str:
    out = []
    for sec, opts in sections.items():
        if opts is None:
            continue
        out.append(f"[{sec}]")
        for k, v in opts.items():
            if v is None:
                continue
            if isinstance(v, bool):
                v = "true" if v else "false"
            v = str(v)
            if "\n" in v:
                raise ValueError(f"[{sec}] {k}: a value cannot span lines")
            v = quote_value(v)
            out.append(f"{k} = {v}")
        out.append("")
    return "\n".join(out)


def write(path: Path, sections: dict[str, dict], mode: int = 0o640) -> None:
    atomic_write(path, render(sections), mode=mode)


def merge(path: Path, sections: dict[str, dict], mode: int | None = None) -> None:
    """Set options in an existing file, keeping the rest (post-config)."""
    p = read(path)
    current = {s: {k: unquote_value(v) for k, v in p.items(s)} for s in p.sections()}
    for sec, opts in sections.items():
        current.setdefault(sec, {}).update({k: v for k, v in opts.items()})
    old_mode = Path(path).stat().st_mode & 0o777 if Path(path).exists() else 0o640
    write(path, current, mode=mode if mode is not None else old_mode)
