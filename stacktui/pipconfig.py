"""The user's pip settings, handed to uv.

A machine whose pip works (a mirror in /etc/pip.conf, a company CA named by
`cert`, DevStack CI's own pip.conf) must find that stacktui's installs work
too; uv reads neither pip's files nor, by default, the system's trust store.
So pip's configuration is read here by the rules pip documents (the same
files in the same order, [global] < [install] < PIP_* variables, list values
split on whitespace, empty values ignored) and translated into uv's own
environment variables. Environment, not argv: an index URL may carry a token.

What the user set for uv itself (UV_DEFAULT_INDEX, SSL_CERT_FILE, ..., or
the same in uv.toml) wins over pip's: it was meant for uv.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .errors import Problem, UserError

KEYS = ("index-url", "extra-index-url", "trusted-host", "cert", "find-links", "no-index")
LISTS = frozenset({"extra-index-url", "trusted-host", "find-links"})
PYPI = "https://pypi.org/simple"


def _path(root: Path, p: str | Path) -> Path:
    p = Path(p)
    return root / p.relative_to("/") if p.is_absolute() and root != Path("/") else p


def config_files(environ=None) -> list[Path]:
    """pip's configuration files, lowest priority first (pip's
    get_configuration_files and iter_config_files)."""
    env = os.environ if environ is None else environ
    explicit = env.get("PIP_CONFIG_FILE")
    if explicit == os.devnull:       # pip: "don't load any configuration file"
        return []
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    xdg_dirs = (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d] + [Path("/etc/pip.conf")]
    if not (explicit and os.path.exists(explicit)):
        # pip skips the user's own files when PIP_CONFIG_FILE names a real one.
        user_cfg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        files += [home / ".pip" / "pip.conf", user_cfg / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if explicit:
        files.append(Path(explicit))
    return files


@dataclass
class PipSettings:
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    trusted_hosts: list[str] = field(default_factory=list)
    cert: str | None = None
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    origin: dict[str, str] = field(default_factory=dict)   # key -> file or variable
    files: list[str] = field(default_factory=list)         # the files that exist and were read


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("y", "yes", "t", "true", "on", "1")


def read(environ=None, root: str | Path = "/") -> PipSettings:
    """What `pip install` would use for the keys in KEYS."""
    env = os.environ if environ is None else environ
    root = Path(root)
    merged: dict[str, tuple[str, str]] = {}    # "section.key" -> (value, origin)
    out = PipSettings()
    for f in config_files(env):
        real = _path(root, f)
        if not real.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(real, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as e:
            line = getattr(e, "lineno", None)
            raise UserError(Problem(f"pip cannot read it either: {str(e).splitlines()[0]}",
                                    file=str(f), line=line,
                                    fix="fix the file (pip's own commands fail on it too)"))
        out.files.append(str(f))
        for section in parser.sections():
            for name, value in parser.items(section):
                merged[f"{section}.{name.lower().replace('_', '-')}"] = (value, str(f))
    for k, v in env.items():
        if k.startswith("PIP_"):
            merged[":env:." + k[4:].lower().replace("_", "-")] = (v, k)
    chosen: dict[str, tuple[str, str]] = {}
    # pip's option parser: [global], then the command's section, then PIP_*.
    for section in ("global", "install", ":env:"):
        for skey, (value, origin) in merged.items():
            sec, _, key = skey.partition(".")
            if sec == section and key in KEYS and value:
                chosen[key] = (value, origin)
    for key, (value, origin) in chosen.items():
        out.origin[key] = origin
        if key in LISTS:
            setattr(out, {"extra-index-url": "extra_index_urls", "trusted-host": "trusted_hosts",
                          "find-links": "find_links"}[key], value.split())
        elif key == "no-index":
            out.no_index = _truthy(value)
        else:
            setattr(out, key.replace("-", "_"), value.strip())
    return out


def redact(url: str) -> str:
    """An index URL fit for a screen: a password or token in it becomes ***."""
    parts = urlsplit(url)
    if not parts.password and not (parts.username and "@" in parts.netloc):
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    shown = f"{user}:***@{host}" if parts.password else f"***@{host}"
    return urlunsplit(parts._replace(netloc=shown))


def _local(link: str) -> Path | None:
    if re.match(r"^[a-z][a-z0-9+.-]*://", link, re.I):
        return Path(urlsplit(link).path) if link.lower().startswith("file:") else None
    return Path(link)


def uv_config(environ=None, root: str | Path = "/") -> tuple[dict[str, str], list[str]]:
    """The settings the user gave uv in its own files (uv.toml, top level or
    [pip]), key -> file, and the files read; what uv pip reads besides a
    project's own: UV_CONFIG_FILE alone, else the user's and the system's."""
    import tomllib
    env = os.environ if environ is None else environ
    if env.get("UV_NO_CONFIG"):
        return {}, []
    if env.get("UV_CONFIG_FILE"):
        files = [Path(env["UV_CONFIG_FILE"])]
    else:
        home = Path(env.get("HOME") or os.path.expanduser("~"))
        user_cfg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        dirs = (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
        files = [Path("/etc/uv/uv.toml")] + [Path(d) / "uv" / "uv.toml" for d in dirs if d] + \
            [user_cfg / "uv" / "uv.toml"]
    keys: dict[str, str] = {}
    read_files = []
    for f in files:
        real = _path(Path(root), f)
        try:
            data = tomllib.loads(real.read_text())
        except (OSError, UnicodeDecodeError):
            continue
        except tomllib.TOMLDecodeError as e:
            raise UserError(Problem(f"uv cannot read it either: {e}", file=str(f),
                                    fix="fix the file, or set UV_NO_CONFIG=1"))
        read_files.append(str(f))
        for k in list(data) + list(data.get("pip", {}) if isinstance(data.get("pip"), dict) else []):
            keys[k] = str(f)
    return keys, read_files


@dataclass
class UvSetup:
    env: dict[str, str]      # to add to uv's environment
    index: str               # for `check`: which index and from where
    ca: str                  # for `check`: which CA bundle and from where
    notes: list[str] = field(default_factory=list)
    more: dict[str, str] = field(default_factory=dict)   # extra indexes, find-links


def uv_setup(environ=None, root: str | Path = "/") -> UvSetup:
    env = os.environ if environ is None else environ
    pip = read(env, root)
    add: dict[str, str] = {}
    notes: list[str] = []
    more: dict[str, str] = {}
    own, _ = uv_config(env, root)

    def has(*names: str) -> str | None:
        """Which of uv's own variables, or uv.toml keys (lower case), is set."""
        for n in names:
            if n.isupper() and env.get(n):
                return n
            if n.islower() and n in own:
                return f"{n} in {own[n]}"
        return None

    # Indexes as a whole: a user who gave uv any index setting chose uv's.
    uv_index = has("UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_INDEX", "UV_EXTRA_INDEX_URL",
                   "index-url", "default-index", "index", "extra-index-url", "no-index")
    extra = []
    if uv_index and uv_index.isupper():
        index = f"{redact(env[uv_index])} (from {uv_index})"
    elif uv_index:
        index = f"as uv's own configuration says ({uv_index})"
    elif pip.no_index:
        add["UV_NO_INDEX"] = "1"
        index = f"none: no-index (from {pip.origin['no-index']})"
    else:
        if pip.index_url:
            add["UV_DEFAULT_INDEX"] = pip.index_url
            index = f"{redact(pip.index_url)} (from {pip.origin['index-url']})"
        else:
            index = f"{PYPI} (uv's default; pip sets none)"
        if pip.extra_index_urls:
            extra = pip.extra_index_urls
            add["UV_INDEX"] = " ".join(extra)
            more["extra indexes"] = ", ".join(map(redact, extra)) + \
                f" (from {pip.origin['extra-index-url']})"
    if pip.find_links and not has("UV_FIND_LINKS", "find-links"):
        # pip skips a missing folder with a warning; uv stops on it.
        links = []
        for link in pip.find_links:
            local = _local(link)
            if local is not None and not _path(Path(root), local).exists():
                notes.append(f"find-links {link} does not exist: skipped, as pip does")
            elif "," in link:    # UV_FIND_LINKS is comma-separated
                notes.append(f"find-links {link} has a comma, which uv cannot take: skipped")
            else:
                links.append(link)
        if links:
            add["UV_FIND_LINKS"] = ",".join(links)
            more["find-links"] = ", ".join(map(redact, links)) + \
                f" (from {pip.origin['find-links']})"
    if (extra or "UV_FIND_LINKS" in add) and not has("UV_INDEX_STRATEGY", "index-strategy"):
        # pip takes the best match across every index; uv's default stops at
        # the first index that knows the name, which fails a pinned version
        # that only the other index has.
        add["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    if pip.trusted_hosts and not has("UV_INSECURE_HOST", "allow-insecure-host"):
        add["UV_INSECURE_HOST"] = " ".join(pip.trusted_hosts)
        notes.append("trusted hosts (no TLS check): " + ", ".join(pip.trusted_hosts)
                     + f" (from {pip.origin['trusted-host']})")

    uv_ca = has("SSL_CERT_FILE")
    uv_store = has("UV_SYSTEM_CERTS", "UV_NATIVE_TLS", "system-certs", "native-tls")
    if uv_ca:
        ca = f"{env[uv_ca]} (from SSL_CERT_FILE)"
    elif uv_store:
        ca = f"as {uv_store} says"
    elif pip.cert:
        cert = pip.cert
        if _path(Path(root), cert).is_dir():
            add["SSL_CERT_DIR"] = cert
        else:
            add["SSL_CERT_FILE"] = cert
        ca = f"{cert} (from {pip.origin['cert']})"
        if not _path(Path(root), cert).exists():
            notes.append(f"cert {cert} does not exist: pip and uv will both fail TLS")
    else:
        # The system's store holds the CAs an administrator added
        # (update-ca-certificates); uv's bundled roots do not. UV_NATIVE_TLS
        # is the older uv's name for the same switch.
        add["UV_SYSTEM_CERTS"] = "true"
        add["UV_NATIVE_TLS"] = "true"
        ca = "the system trust store (no SSL_CERT_FILE, pip sets no cert)"
    return UvSetup(add, index, ca, notes, more)


def uv_env(environ=None) -> dict[str, str]:
    """The variables to add when running uv."""
    return uv_setup(environ).env
