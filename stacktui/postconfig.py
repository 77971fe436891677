"""The post-config phase: answers' ``post_config`` merged into the config
files stacktui generated, as stack.sh merges ``[[post-config|$FILE]]``.

Merging keeps every option already in a file and only sets the ones named;
comments in the generated files are not preserved (configparser drops them),
which is fine because stacktui generates those files anyway.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
from pathlib import Path

from . import registry
from .errors import Problem, UserError
from .fsutil import atomic_write
from .inifile import quote_value
from .service import ConfigFile


def file_vars() -> dict[str, ConfigFile]:
    """$VARIABLE -> the file, from every service's spec (``config_files``)."""
    return registry.config_files()


def devstack_paths() -> dict[str, str]:
    """Where DevStack puts the same files, for local.confs that name paths."""
    return {cf.devstack_path: var for var, cf in file_vars().items() if cf.devstack_path}

_PASSWORD_REF = re.compile(r"\$\{(ADMIN|DATABASE|RABBIT|SERVICE)_PASSWORD\}"
                           r"|\$(ADMIN|DATABASE|RABBIT|SERVICE)_PASSWORD(?![A-Za-z0-9_])")


def _key(target: str) -> str:
    """A post_config key as the specs name files: ``$VAR``, ``$VAR/rel``
    (``${VAR}`` either way), or DevStack's path for one of them."""
    t = target.strip()
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?(/\S+)?", t)
    if m:
        t = "$" + m.group(1) + (m.group(2) or "")
    return devstack_paths().get(t, t)


def config_file(target: str) -> ConfigFile | None:
    """The spec's file a post_config key names, if a spec's."""
    return file_vars().get(_key(target))


def resolve(target: str, layout) -> Path:
    """The file a post_config key names, under DEST."""
    t = _key(target)
    files = file_vars()
    if t in files:
        return layout.config(files[t].project, files[t].name)
    if t.startswith("/"):
        return Path(t)
    raise UserError(Problem(f"post_config: {target!r} names no file stacktui knows",
                            key=f"post_config.{target}",
                            fix=f"use one of {', '.join(files)} or an absolute path"))


# DevStack variables a local.conf's post-config values may name that
# DevStack computes at stack time (import-localconf keeps them as ${NAME}).
_RUNTIME_REF = re.compile(r"\$\{(HOST_IP|SERVICE_HOST|HOST_IPV6|DEST|DATA_DIR|REGION_NAME)\}")


def _runtime(name: str, ans) -> str:
    d = ans.data
    if name in ("HOST_IP", "SERVICE_HOST", "HOST_IPV6"):
        return str(d["host_ip"])
    if name == "DEST":
        return str(d["dest"])
    if name == "DATA_DIR":
        return str(Path(d["dest"]) / "data")
    return str(d.get("region") or "RegionOne")


def _fill_passwords(value: str, ans) -> str:
    """``${SERVICE_PASSWORD}`` and friends become the password, with ``$``
    doubled because oslo.config reads ``$name`` as a substitution; ``${HOST_IP}``
    and the other runtime variables become this stack's values."""
    def sub(m):
        key = (m.group(1) or m.group(2)).lower()
        return ans.password(key).replace("$", "$$")
    value = _RUNTIME_REF.sub(lambda m: _runtime(m.group(1), ans), value)
    return _PASSWORD_REF.sub(sub, value)


# A repeated option (oslo.config's MultiStrOpt, e.g. service_provider) is a
# list in the answers; configparser holds one value per option, so the
# extra values ride along joined by this and are split back when written.
_MULTI = "\0"


def _parser() -> configparser.RawConfigParser:
    # default_section is set to a name nobody uses so [DEFAULT] is an
    # ordinary section, as oslo.config treats it.
    p = configparser.RawConfigParser(interpolation=None, strict=False,
                                     default_section="\0none", delimiters=("=",),
                                     comment_prefixes=("#", ";"), empty_lines_in_values=False)
    p.optionxform = str
    return p


def _paste_value(raw: str, ans) -> str:
    """A value written so swift's reader (ConfigParser with swift's
    NicerInterpolation, for its daemons and paste.deploy alike) gives back
    what the user meant: it interpolates a value only when it holds ``%(``.
    A value the user wrote with ``%(...)s`` keeps its interpolation and the
    passwords filled into it have their ``%`` doubled; any other value that
    comes to hold ``%(`` (from a password) has every ``%`` doubled."""
    interpolated = "%(" in raw
    raw = _RUNTIME_REF.sub(lambda m: _runtime(m.group(1), ans), raw) if ans is not None else raw

    def sub(m):
        pw = ans.password((m.group(1) or m.group(2)).lower())
        return pw.replace("%", "%%") if interpolated else pw
    value = _PASSWORD_REF.sub(sub, raw) if ans is not None else raw
    if not interpolated and "%(" in value:
        value = value.replace("%", "%%")
    return value


def _paste_problem(section: str, opt: str, vals: list[str]) -> str | None:
    """Why swift's reader would not read this option back as set, if so."""
    if len(vals) > 1:
        return ("swift's reader (ConfigParser) refuses an option given twice in a section; "
                "give it once")
    if re.search(r"[=:]|^\s|\s$|^[#;\[]", opt):
        return ("swift's reader splits an option name at `=` or `:` and skips lines that "
                "start with `#`, `;` or `[`; use the option's plain name")
    if vals and vals[0] != vals[0].strip():
        return "swift's reader strips blanks around a value; give it without them"
    return None


def merge(path: Path, sections: dict, ans=None, syntax: str = "oslo") -> None:
    """Set ``sections`` in the ini file at ``path``, keeping its other
    options and its mode; creates it (0640) when missing. ``syntax`` says
    whose reader the values are for (service.ConfigFile.syntax)."""
    p = _parser()
    mode, owner = 0o640, None
    if path.exists():
        st = path.stat()
        mode, owner = stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid)
        try:
            p.read(path, encoding="utf-8")
        except configparser.Error as e:
            raise UserError(Problem(f"cannot merge post-config, the file does not parse: {e}",
                                    file=str(path))) from None
    for section, opts in (sections or {}).items():
        if not p.has_section(section):
            p.add_section(section)
        for opt, val in (opts or {}).items():
            vals = val if isinstance(val, list) else [val]
            vals = ["true" if v is True else "false" if v is False else "" if v is None else str(v)
                    for v in vals]
            if syntax == "paste":
                why = _paste_problem(section, str(opt), vals)
                if why:
                    raise UserError(Problem(f"[{section}] {opt}: {why}", file=str(path),
                                            key=f"post_config.{section}.{opt}"))
                vals = [_paste_value(v, ans) for v in vals]
            elif ans is not None:
                vals = [_fill_passwords(v, ans) for v in vals]
            val = _MULTI.join(vals)
            if "\n" in val:
                raise UserError(Problem(f"[{section}] {opt}: a value cannot span lines",
                                        file=str(path)))
            p.set(section, str(opt), val)
    lines = []
    for section in p.sections():
        lines.append(f"[{section}]")
        for opt, val in p.items(section):
            for one in (val.split(_MULTI) if val is not None else [None]):
                lines.append(f"{opt} = {one}" if one is not None else opt)
        lines.append("")
    atomic_write(path, "\n".join(lines), mode=mode)
    # atomic_write puts a new file in place; give it the old one's owner
    # too, or a service running as its own user could no longer read it.
    if owner and owner != (os.getuid(), os.getgid()):
        os.chown(path, *owner)


def contributed(ctx) -> dict[str, dict]:
    """What the enabled specs set in each other's files (``config_for``):
    $VAR -> sections, only for files of a spec that runs too. Values are
    escaped here for oslo.config, so a spec gives them as meant."""
    running = {s.name for s in ctx.specs}
    owner = {cf.var: spec.name for spec in registry.specs().values() for cf in spec.config_files}
    out: dict[str, dict] = {}
    for spec in ctx.specs:
        if spec.config_for is None:
            continue
        for var, sections in spec.config_for(ctx).items():
            if owner.get(var) not in running:
                continue
            # A paste file's values go as they are: merge writes them for swift's reader.
            cf = config_file(var)
            quote = (lambda x: x) if cf and cf.syntax == "paste" else quote_value
            for sec, opts in sections.items():
                out.setdefault(var, {}).setdefault(sec, {}).update(
                    {k: quote(str(v).lower() if isinstance(v, bool) else str(v))
                     for k, v in opts.items()})
    return out


def apply_contributed(ctx) -> list[Path]:
    """Merge :func:`contributed` before the answers' own post-config, which
    may then override it."""
    changed = []
    for var, sections in contributed(ctx).items():
        path = resolve(var, ctx.layout)
        if path.exists():
            cf = config_file(var)
            merge(path, sections, syntax=cf.syntax if cf else "oslo")
            changed.append(path)
    return changed


def apply(ans, layout, *, skip_missing: bool = True) -> list[Path]:
    """Merge ``ans.post_config`` into the files under DEST; returns
    the files changed. A $VARIABLE file that does not exist belongs to a
    service that is not deployed here, so it is skipped (absolute paths are
    created, as DevStack's merge does)."""
    changed: list[Path] = []
    for target, sections in (ans.data.get("post_config") or {}).items():
        if not isinstance(sections, dict) or not all(isinstance(v, dict) for v in sections.values()):
            raise UserError(Problem("must map [section] names to {option: value}",
                                    key=f"post_config.{target}"))
        path = resolve(target, layout)
        if skip_missing and not path.exists() and str(path).startswith(str(layout.dest)):
            continue
        cf = config_file(target)
        merge(path, sections, ans, syntax=cf.syntax if cf else "oslo")
        changed.append(path)
    return changed
