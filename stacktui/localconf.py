"""DevStack's local.conf (or a bare localrc) in and out.

Import is a translation, not an execution: the ``[[local|localrc]]`` block is
read the way bash would read the subset of shell people write there
(assignments, quoting, ``$X``/``${X}``/``${X:-d}``, ``enable_service`` and
friends), and every setting lands either in an answers key or in a warning
that says what happened to it. Anything that would need a real shell
(command substitution, ``if``, ``source``) is an error with file and line,
because guessing its value would install a different cloud than the user's.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from . import answers as answers_mod, catalog, registry
from .devstack_names import (ALIASES, DEVSTACK_DEFAULT, ENABLES_PREFIX, EXTRA_RETIRED,
                             GROUP_PREFIX, NEUTRON_EXTENSIONS)
from .devstack_names import is_enabled as _is_enabled
from .errors import Problem, UserError

# ---------------------------------------------------------------- tables

def password_vars() -> dict[str, str]:
    """DevStack's password variables -> the answers' password kinds; a
    spec's own kind (stacktui.service.Password) names its variable."""
    own = {p.key: p.devstack_var for p in answers_mod.spec_passwords()}
    return {own.get(k, f"{k.upper()}_PASSWORD"): k for k in answers_mod.password_kinds()}

# The deployed services' config files, source and port variables, and the
# names they refuse, are in their specs (stacktui.service); these tables hold
# only what belongs to no service module.


def _file_vars() -> list[str]:
    """Config-file variables DevStack users write in [[post-config|...]] headers."""
    return list(registry.config_files())


# The client is installed with every stack but is no service.
_CLIENT_PREFIX = {"python-openstackclient": "OPENSTACKCLIENT"}


def _source_prefix() -> dict[str, str]:
    """DevStack's <PREFIX>_REPO / _BRANCH names for the projects stacktui installs."""
    return {**registry.table("source_prefix"), **_CLIENT_PREFIX}



def _port_var(svc: str) -> str:
    """DevStack's port variable; services without one get a STACKTUI_
    variable that DevStack ignores and import reads back."""
    return (registry.table("port_vars").get(svc)
            or "STACKTUI_PORT_" + re.sub(r"\W", "_", svc).upper())


# DevStack projects stacktui does not deploy: name prefix -> what to do instead.
_KOLLA = "Kolla-Ansible deploys it (stacktui export-kolla, then enable_{} in globals.yml)"


def _kolla_has(what: str, project: str, *names: str, yet: str = "") -> dict[str, str]:
    why = f"{what} is not supported by stacktui{yet}; " + _KOLLA.format(project)
    return dict.fromkeys(names or (project,), why)


UNSUPPORTED = {
    **_kolla_has("Ceilometer telemetry", "ceilometer"),
    **_kolla_has("Aodh alarming", "aodh"),
    **_kolla_has("Gnocchi", "gnocchi"),
    **_kolla_has("Trove", "trove", "tr-", "trove"),
    "sahara": "Sahara was retired upstream; no replacement",
    "zaqar": "Zaqar is not supported by stacktui and no longer packaged by Kolla; no replacement",
    **_kolla_has("Heat", "heat", "h-", "heat", yet=" yet"),
    **_kolla_has("Octavia", "octavia", "o-", "octavia"),
    **_kolla_has("Ironic", "ironic", "ir-", "ironic"),
    **_kolla_has("Designate", "designate"),
    **_kolla_has("Barbican", "barbican"),
    **_kolla_has("Manila", "manila", "manila", "m-"),
    **_kolla_has("Magnum", "magnum"),
    "openstack-cli-server": "not needed: stacktui talks to the APIs in-process",
    "memory_tracker": "stacktui's dashboard shows memory per pane instead",
    "peakmem_tracker": "stacktui's dashboard shows memory per pane instead",
    "file_tracker": "not supported; no replacement",
    "s3api": "Swift's S3 API is not supported by stacktui",
}
# Group names DevStack understands for projects stacktui lacks.
UNSUPPORTED_GROUPS = ("ceilometer", "aodh", "trove", "sahara", "zaqar", "heat", "octavia",
                      "ironic", "designate", "barbican", "manila", "magnum", "gnocchi")



def _refused(name: str, prefixes: bool = True) -> str | None:
    """Why stacktui does not run the DevStack name ``name``: the projects it
    lacks, and what the service modules refuse (``ServiceSpec.refused``)."""
    table = {**UNSUPPORTED, **registry.table("refused")}
    if table.get(name):
        return table[name]
    if prefixes:
        hit = next((v for k, v in table.items() if k.endswith("-") and name.startswith(k)), None)
        if hit:
            return hit
    return next((UNSUPPORTED.get(g, "") for g in UNSUPPORTED_GROUPS if name.startswith(g)), None)


# Variables with no answers key: what happens to them instead.
IGNORED_VARS = {
    "USE_SCREEN": "DevStack dropped screen; stacktui runs every service in a pane of its "
                  "dashboard (restart with one key, detach and re-attach)",
    "SCREEN_HARDSTATUS": "screen is gone; stacktui's dashboard replaces it",
    "SCREEN_LOGDIR": "screen is gone; pane logs are under DEST/logs",
    "SCREEN_NAME": "screen is gone; stacktui's dashboard replaces it",
    "LOGDIR": "stacktui always writes service logs under DEST/logs",
    "LOGFILE": "stacktui writes its own log to DEST/logs/stack.log",
    "LOG_COLOR": "the dashboard colours logs itself",
    "LOGDAYS": "not needed: stacktui keeps logs per install",
    "VERBOSE": "stacktui always logs in full to DEST/logs/stack.log",
    "DEBUG_LIBVIRT": "no equivalent; use [[post-config|$NOVA_CONF]]",
    "DATA_DIR": "stacktui keeps data under DEST/data",
    "SERVICE_DIR": "not needed without screen/systemd units",
    "RECLONE": "stacktui re-fetches git sources on each install; nothing to set",
    "OFFLINE": "stacktui installs from a lock file and uv's cache; there is no offline switch",
    "PIP_UPGRADE": "versions come from stacktui's lock file",
    "USE_PYTHON3": "stacktui always uses Python 3",
    "PYTHON3_VERSION": "stacktui uses the Python it runs on",
    "GLOBAL_VENV": "stacktui always installs into one venv under DEST",
    "USE_VENV": "stacktui always installs into one venv under DEST",
    "SERVICE_TOKEN": "the admin token is gone; keystone-manage bootstrap creates the admin user",
    "SERVICE_TIMEOUT": "stacktui waits for each service's health check",
    "SERVICE_HOST": "services listen on HOST_IP",
    "MYSQL_HOST": "the database runs on this host",
    "RABBIT_HOST": "RabbitMQ runs on this host",
    "GLANCE_HOSTPORT": "glance listens on HOST_IP at its port (ports in the answers)",
    "Q_PLUGIN": "stacktui deploys ML2 with OVN, DevStack's default",
    "Q_AGENT": "stacktui deploys ML2 with OVN, DevStack's default",
    "Q_ML2_PLUGIN_MECHANISM_DRIVERS": "stacktui deploys ML2 with OVN; change it with "
                                      "[[post-config|$Q_PLUGIN_CONF_FILE]]",
    "Q_ML2_TENANT_NETWORK_TYPE": "stacktui uses Geneve tenant networks (OVN); change it with "
                                 "[[post-config|$Q_PLUGIN_CONF_FILE]]",
    "Q_USE_SECGROUP": "security groups are always on",
    "NEUTRON_CREATE_INITIAL_NETWORKS": "stacktui creates the public and private networks",
    "NETWORK_GATEWAY": "the private network's gateway is the first address of the fixed range",
    "PUBLIC_NETWORK_GATEWAY": "the public gateway is the first address of the floating range",
    "FIXED_NETWORK_SIZE": "the fixed range's prefix sets the size",
    "NETWORK_SIZE": "the fixed range's prefix sets the size",
    "FLAT_INTERFACE": "nova-network's setting; Neutron (OVN) replaces nova-network",
    "FLAT_NETWORK_BRIDGE": "nova-network's setting; Neutron (OVN) replaces nova-network",
    "MULTI_HOST": "one host only; export-kolla for many machines",
    "TARGET_BRANCH": "used only as the default branch of <PROJECT>_REPO sources",
    "GIT_BASE": "used only for projects given a <PROJECT>_REPO or _BRANCH; stacktui installs "
                "released packages from PyPI otherwise",
    "GIT_DEPTH": "stacktui clones with full history",
    "ERROR_ON_CLONE": "stacktui installs from PyPI unless sources are set",
    "FORCE": "stacktui checks the host itself and explains what it finds",
    "INSTALL_TEMPEST": "enable or disable the tempest service instead",
    "DATABASE_USER": "stacktui uses the root database user with DATABASE_PASSWORD",
    "DATABASE_HOST": "the database runs on this host",
    "ENABLE_IDENTITY_V2": "identity v2 was removed; v3 only",
    "IDENTITY_API_VERSION": "identity v3 only",
    "KEYSTONE_TOKEN_FORMAT": "fernet tokens only",
    "HOST_IPV6": "used as HOST_IP when SERVICE_IP_VERSION=6",
    "SWIFT_HASH": "stacktui generates swift's hash (secrets.yaml: swift_hash)",
    "SWIFT_REPLICAS": "swift runs one replica on one host",
    "SWIFT_DATA_DIR": "swift's data is under DEST/data/swift",
    "NOVA_VNC_ENABLED": "n-novnc is the console; enable or disable that service",
    "VNCSERVER_LISTEN": "the console listens on HOST_IP",
    "VNCSERVER_PROXYCLIENT_ADDRESS": "the console listens on HOST_IP",
    "LIBS_FROM_GIT": "libraries come from PyPI via the lock file",
}

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ASSIGN = re.compile(rf"^\s*(?:export\s+)?({_NAME})(\+?=)")
_HEADER = re.compile(r"^\[\[\s*([^|\]]+?)\s*\|\s*(.+?)\s*\]\]\s*$")


# ---------------------------------------------------------------- shell subset

MAX_NESTING = 64    # ${A:-${B:-...}} deeper than this is not a setting, it is an attack


class _Incomplete(Exception):
    """The logical line goes on (open quote, trailing backslash)."""


class _Unsupported(Exception):
    pass


class _TooDeep(Exception):
    pass


# DevStack computes these at stack time when localrc leaves them unset; a
# post-config value that names one keeps the reference and postconfig.apply
# fills it in from the answers at install time.
RUNTIME_VARS = ("HOST_IP", "SERVICE_HOST", "HOST_IPV6", "DEST", "DATA_DIR", "REGION_NAME")


@dataclass
class _Env:
    """Shell variables as localrc sets them, with DevStack's defaults for the
    ones people reference without setting (``$DEST/logs``)."""
    vars: dict = field(default_factory=dict)
    used: set = field(default_factory=set)
    unknown: dict = field(default_factory=dict)   # name -> first line referencing it
    assigned: dict = field(default_factory=dict)  # name -> line it was last set on
    line: int | None = None
    depth: int = 0
    keep_refs: bool = False    # post-config: runtime variables stay ${NAME}
    kept: list = field(default_factory=list)

    def get(self, name: str, quiet: bool = False) -> str | None:
        self.used.add(name)
        # no secret lands in stacktui.yaml: password references stay references
        if self.keep_refs and (name in password_vars() or
                               (name in RUNTIME_VARS and name not in self.vars)):
            self.kept.append(name)
            return "${" + name + "}"
        if name in self.vars:
            return self.vars[name]
        default = self._default(name)
        if default is None and not quiet:
            self.unknown.setdefault(name, self.line)
        return default

    def set(self, name: str, value: str) -> None:
        self.vars[name] = value
        self.assigned[name] = self.line

    def _default(self, name):
        if name == "DEST":
            return "/opt/stack"
        if name in ("DATA_DIR",):
            return self.get("DEST") + "/data"
        if name in ("SERVICE_HOST",):
            return self.vars.get("HOST_IP")
        if name == "GIT_BASE":
            return "https://opendev.org"
        if name == "TARGET_BRANCH":
            return "master"
        if name == "HOME":
            return str(Path.home())
        if name == "ENABLED_SERVICES":
            # stackrc sets DevStack's default list before it sources localrc
            return DEVSTACK_DEFAULT
        if name == "DISABLED_SERVICES":
            return ""
        return None


def _param(text: str, i: int, env: _Env) -> tuple[str, int]:
    """``${...}`` starting at text[i] == '{'; returns (value, index after '}')."""
    depth, j = 1, i + 1
    while j < len(text) and depth:
        if text[j] == "{":
            depth += 1
            if depth > MAX_NESTING:
                raise _TooDeep
        elif text[j] == "}":
            depth -= 1
        j += 1
    if depth:
        raise _Incomplete
    inner = text[i + 1:j - 1]
    m = re.fullmatch(rf"({_NAME})(?:(:?[-=+?])(.*))?", inner, re.S)
    if not m:
        raise _Unsupported(f"the expansion ${{{inner[:40]}}} needs a real shell")
    name, op, word = m.groups()
    if op and op.endswith("?"):
        raise _Unsupported(f"${{{name}{op}...}} needs a real shell")
    env.depth += 1
    if env.depth > MAX_NESTING:
        raise _TooDeep
    try:
        # ${X:-default} is how people say "X may be unset": no warning for it.
        val = env.get(name, quiet=op is not None)
        if op is None:
            return val or "", j
        unset_or_empty = val is None or (op.startswith(":") and val == "")
        if op.endswith("+"):
            return ("" if unset_or_empty else _expand(word, env, dquote=True)), j
        if unset_or_empty:
            val = _expand(word, env, dquote=True)
            if op.endswith("="):
                env.set(name, val)
        return val, j
    finally:
        env.depth -= 1


def _dollar(text: str, i: int, env: _Env) -> tuple[str, int]:
    """Expansion at text[i] == '$'."""
    nxt = text[i + 1:i + 2]
    if nxt == "{":
        return _param(text, i + 1, env)
    if nxt == "(":
        raise _Unsupported("command substitution $(...) needs a real shell; "
                           "write the value itself")
    m = re.match(_NAME, text[i + 1:])
    if m:
        return env.get(m.group()) or "", i + 1 + m.end()
    if nxt and (nxt.isdigit() or nxt in "@*#?$!-"):
        raise _Unsupported(f"${nxt} needs a real shell")
    return "$", i + 1


def _expand(text: str, env: _Env, dquote: bool = False) -> str:
    """Expand variables in ``text`` as inside double quotes (for defaults)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in '$`"\\':
            out.append(text[i + 1])
            i += 2
        elif c == "$":
            v, i = _dollar(text, i, env)
            out.append(v)
        elif c == "`":
            raise _Unsupported("command substitution `...` needs a real shell; write the value itself")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _word(text: str, i: int, env: _Env) -> tuple[str, int]:
    """One shell word from text[i]; returns (value, index after it)."""
    out: list[str] = []
    start = i
    while i < len(text):
        c = text[i]
        if c in " \t\n":
            break
        if c in ";&|<>()":
            raise _Unsupported(f"`{c}` needs a real shell; keep to one assignment or "
                               "enable_service/disable_service per line")
        if c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                raise _Incomplete
            out.append(text[i + 1:j])
            i = j + 1
        elif c == '"':
            j = i + 1
            buf = []
            while True:
                if j >= len(text):
                    raise _Incomplete
                d = text[j]
                if d == '"':
                    break
                if d == "\\" and j + 1 < len(text):
                    if text[j + 1] in '$`"\\':
                        buf.append(text[j + 1])
                    elif text[j + 1] == "\n":
                        pass
                    else:
                        buf.append("\\" + text[j + 1])
                    j += 2
                    continue
                if d == "$":
                    v, j = _dollar(text, j, env)
                    buf.append(v)
                    continue
                if d == "`":
                    raise _Unsupported("command substitution `...` needs a real shell; "
                                       "write the value itself")
                buf.append(d)
                j += 1
            out.append("".join(buf))
            i = j + 1
        elif c == "\\":
            if i + 1 >= len(text):
                raise _Incomplete
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
        elif c == "$":
            if text[i + 1:i + 2] == "'":
                raise _Unsupported("$'...' quoting is not supported; use '...' or \"...\"")
            v, i = _dollar(text, i, env)
            out.append(v)
        elif c == "`":
            raise _Unsupported("command substitution `...` needs a real shell; write the value itself")
        elif c == "~" and i == start:
            m = re.match(r"~(?=/|$|\s)", text[i:])
            if m:
                out.append(str(Path.home()))
            else:
                out.append("~")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), i


def _skip_blank(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _words(text: str, i: int, env: _Env) -> list[str]:
    words = []
    while True:
        i = _skip_blank(text, i)
        if i >= len(text) or text[i] == "#":
            return words
        if text[i] == "\n":
            i += 1
            continue
        w, i = _word(text, i, env)
        words.append(w)


# ---------------------------------------------------------------- import

@dataclass
class _State:
    filename: str
    env: _Env = field(default_factory=_Env)
    warnings: list = field(default_factory=list)
    origin: dict = field(default_factory=dict)       # service name -> line that enabled it
    post_config: dict = field(default_factory=dict)
    test_config: dict = field(default_factory=dict)

    @property
    def assigned(self) -> dict:
        return self.env.assigned

    def warn(self, line: int | None, msg: str) -> None:
        where = f"{self.filename}:{line}" if line else self.filename
        self.warnings.append(f"{where}: {msg}")

    def fail(self, line: int | None, msg: str, fix: str | None = None) -> UserError:
        return UserError(Problem(msg, file=self.filename, line=line, fix=fix))


# ---- DevStack's service list functions (functions-common), on the same
# comma-separated strings DevStack keeps, so odd input reads as DevStack
# reads it: enable_service refuses a name disabled earlier, disable_service
# removes the word it is given (a comma list only where it appears as such),
# "-name" entries are dropped at the end by disable_negated_services.

def _csv(s: str) -> list[str]:
    return [x for x in s.split(",") if x]


def _cleanup(s: str) -> str:
    return ",".join(_csv(s))


def _enable_service(st: _State, names: list[str], line: int) -> None:
    env = st.env
    enabled = env.get("ENABLED_SERVICES") or ""
    disabled = env.get("DISABLED_SERVICES") or ""
    for n in names:
        if "," + n + "," in "," + disabled + ",":
            st.warn(line, f"enable_service {n}: it was disabled earlier, so DevStack keeps it "
                          "disabled; so does this import")
            continue
        if not _is_enabled(enabled, n):
            enabled += "," + n
            for part in _csv(n):
                st.origin[part] = line
    env.set("ENABLED_SERVICES", _cleanup(enabled))
    _disable_negated(st)


def _disable_service(st: _State, names: list[str], line: int) -> None:
    env = st.env
    enabled = "," + (env.get("ENABLED_SERVICES") or "") + ","
    disabled = env.get("DISABLED_SERVICES") or ""
    for n in names:
        disabled += "," + n
        if _is_enabled(enabled.strip(","), n):
            enabled = enabled.replace("," + n + ",", ",")
        if n in GROUP_PREFIX and any(s.startswith(GROUP_PREFIX[n]) for s in _csv(enabled)):
            st.warn(line, f"disable_service {n}: DevStack removes only the word {n!r}, its "
                          f"{GROUP_PREFIX[n]}* services stay enabled; disable them by name")
        _note_disable(st, n, line)
    env.set("DISABLED_SERVICES", _cleanup(disabled))
    env.set("ENABLED_SERVICES", _cleanup(enabled))


def _disable_negated(st: _State) -> None:
    items = _csv(st.env.get("ENABLED_SERVICES") or "")
    neg = {s[1:] for s in items if s.startswith("-")}
    keep = [s for s in items if not s.startswith("-") and s not in neg]
    st.env.vars["ENABLED_SERVICES"] = ",".join(keep)


def _note_disable(st: _State, n: str, line: int) -> None:
    for part in _csv(n):
        if part in catalog.RETIRED:
            st.warn(line, f"disable_service {part}: nothing to do, {catalog.RETIRED[part]}")


def _why_unsupported(n: str) -> str | None:
    return _refused(n)


def _final_services(st: _State) -> list[str]:
    """DevStack's final ENABLED_SERVICES as stacktui services, with a
    warning for every name that does not carry over as it is."""
    _disable_negated(st)
    raw = list(dict.fromkeys(_csv(st.env.vars.get("ENABLED_SERVICES", DEVSTACK_DEFAULT))))
    out: list[str] = []
    left: dict[str, list[str]] = {}

    def add(name):
        if name not in out:
            out.append(name)

    for n in raw:
        line = st.origin.get(n)
        n2 = ALIASES.get(n, n)
        if n2 in catalog.SERVICES:
            if catalog.get(n2).implemented:
                add(n2)
            else:
                why = catalog.LEFT_OUT.get(n2) or f"{catalog.get(n2).title} is not deployable " \
                                                   "by this stacktui version yet"
                left.setdefault(why, []).append(n)
            if n2 != n:
                pass
        elif n2 in ENABLES_PREFIX:
            for s in [x for x in catalog.SERVICES if x.startswith(ENABLES_PREFIX[n2])]:
                if catalog.get(s).implemented:
                    add(s)
                else:
                    left.setdefault(f"{catalog.get(s).title} is not deployable by this "
                                    "stacktui version yet", []).append(s)
        elif n2 in catalog.RETIRED or n2 in EXTRA_RETIRED:
            why = catalog.RETIRED.get(n2) or EXTRA_RETIRED[n2]
            # What stands in for it (ServiceSpec.replaces), so the import
            # still describes a cloud that does what the user asked for.
            repl = [r for r in registry.table("replaces").get(n2, ())
                    if r not in raw and r not in out]
            repl = [r for r in repl if catalog.get(r).implemented]
            st.warn(line, f"{n}: {why}" + (f"; enabled {', '.join(repl)} instead" if repl
                                           else "; left out"))
            for r in repl:
                add(r)
        elif n in NEUTRON_EXTENSIONS:
            st.warn(line, f"{n}: the neutron {NEUTRON_EXTENSIONS[n]!r} service plugin is not a "
                          "process; add it to [DEFAULT] service_plugins with "
                          "[[post-config|$NEUTRON_CONF]] if you need it; left out")
        elif n in catalog.GROUPS or n in GROUP_PREFIX:
            st.warn(line, f"{n}: DevStack starts no service for the bare group name; enable its "
                          "services by name (see `stacktui services`); left out")
        else:
            why = _why_unsupported(n)
            glued = next((k for k in catalog.SERVICES if n.startswith(k) and len(n) > len(k)
                          and k in DEVSTACK_DEFAULT.split(",")), None)
            if glued and not why:
                why = (f"not a service: a comma is missing before {n[len(glued):]!r}, so "
                       f"DevStack reads one name and loses {glued} too")
            st.warn(line, f"{n}: " + (why or "not a DevStack service stacktui knows")
                    + "; left out")
    defaults = []
    for why, names in left.items():
        mine = [n for n in names if st.origin.get(n)]
        if mine:
            st.warn(min(st.origin[n] for n in mine), f"{', '.join(mine)}: {why}; left out")
        defaults += [f"{n} ({why})" for n in names if not st.origin.get(n)]
    if defaults:
        st.warn(None, "from DevStack's default service list stacktui leaves out "
                      + "; ".join(defaults))
    return out


# ---- the localrc block, statement by statement

def _quote_state(line: str, state: str | None) -> tuple[str | None, bool]:
    """The quoting open after ``line`` (None, ' or "), given the quoting open
    before it, and whether it ends in a line-continuing backslash. One pass,
    so a value spanning thousands of lines costs linear time."""
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if state == "'":
            if c == "'":
                state = None
        elif c == "\\":
            if i + 1 >= n:
                return state, True
            i += 1
        elif state == '"':
            if c == '"':
                state = None
        elif c in "'\"":
            state = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        i += 1
    return state, False


def _localrc(st: _State, lines: list[tuple[int, str]]) -> None:
    k = 0
    while k < len(lines):
        lineno, text = lines[k]
        k += 1
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if text.lstrip().startswith("[["):
            st.warn(lineno, f"{text.strip()[:60]!r} is not a [[phase|file]] header DevStack "
                            "recognises, and bash cannot run it; skipped")
            continue
        parts = [text]
        state, cont = _quote_state(text, None)
        while (state or cont) and k < len(lines):
            parts.append(lines[k][1])
            k += 1
            state, cont = _quote_state(parts[-1], state)
        if state or cont:
            st.warn(lineno, "unterminated quote or trailing backslash: bash stops reading the "
                            "file here, so does this import; close the quote")
            return
        try:
            _statement(st, lineno, "\n".join(parts))
        except _Incomplete:
            st.warn(lineno, "unterminated ${...}; the line is skipped")
        except _Unsupported as e:
            st.warn(lineno, f"skipped: {e}")
        except _TooDeep:
            raise st.fail(lineno, f"expansions nested deeper than {MAX_NESTING} levels",
                          "write the value itself") from None


_PLACEHOLDER = re.compile(r"<[^<>\n]{1,80}>")


def _statement(st: _State, lineno: int, text: str) -> None:
    st.env.line = lineno
    m = _ASSIGN.match(text)
    if m:
        name, op = m.groups()
        if _PLACEHOLDER.search(text[m.end():]) and not text[m.end():].lstrip().startswith(("'", '"')):
            raise _Unsupported(f"{name} holds a placeholder ({_PLACEHOLDER.search(text).group()}); "
                               "bash cannot read it either; put the real value there")
        try:
            value, end = _word(text, m.end(), st.env)
        except _Unsupported as e:
            raise _Unsupported(f"{name}: {e}; {name} is left unset") from None
        rest = _skip_blank(text, end)
        if rest < len(text) and text[rest] != "#":
            raise _Unsupported(f"{name}: the value holds an unquoted space; bash runs it as a "
                               f"command; quote it, e.g. {name}=\"...\"")
        if op == "+=":
            value = (st.env.get(name) or "") + value
        st.env.set(name, value)
        if name == "ENABLED_SERVICES":
            for part in _csv(value):
                st.origin.setdefault(part.lstrip("-"), lineno)
        return
    words = _words(text, 0, st.env)
    if not words:
        return
    cmd, args = words[0], words[1:]
    if cmd == "enable_service":
        _enable_service(st, args, lineno)
    elif cmd == "disable_service":
        _disable_service(st, args, lineno)
    elif cmd == "disable_all_services":
        st.env.set("ENABLED_SERVICES", "")
    elif cmd == "enable_plugin":
        _plugin(st, args[0] if args else "?", lineno)
    elif cmd in ("export", "unset") and not args:
        return
    else:
        raise _Unsupported(f"`{cmd[:40]}` is not something stacktui can translate; a local.conf "
                           "block holds assignments, enable_service, disable_service, "
                           "disable_all_services and enable_plugin")


# DevStack plugins with a stacktui plugin package that provides them (the
# packages under plugins/ in stacktui's repository).
PLUGIN_PACKAGES = {"barbican": "stacktui-barbican", "octavia": "stacktui-octavia",
                   "ovn-octavia-provider": "stacktui-octavia"}


def _plugin(st: _State, name: str, lineno: int) -> None:
    """``enable_plugin NAME URL``: the installed stacktui plugin that stands
    for NAME brings its services; DevStack's plugin code itself never runs."""
    spec = registry.by_devstack_plugin(name)
    if spec is not None:
        rows = [s for s in spec.services if s in catalog.SERVICES and catalog.get(s).implemented]
        _enable_service(st, rows, lineno)
        st.warn(lineno, f"enable_plugin {name}: provided by the stacktui plugin "
                        f"{registry.plugin_dist(spec.name) or spec.name} "
                        f"({', '.join(rows) or 'no services'})")
        return
    pkg = PLUGIN_PACKAGES.get(name)
    why = _why_unsupported(name)
    st.warn(lineno, f"enable_plugin {name}: "
            + (f"no stacktui plugin for it is installed; `pip install {pkg}` into stacktui's "
               "environment provides it" if pkg else
               "DevStack plugins are not supported" + (f"; {why}" if why else ""))
            + "; left out")


# ---- post-config / test-config blocks, as DevStack's merge_config_file reads them

def _normalise_file(target: str) -> str:
    t = target.strip()
    # DevStack's Q_PLUGIN_CONF_FILE is relative to /, so its docs write
    # /$Q_PLUGIN_CONF_FILE; both name the same file.
    m = re.fullmatch(r"/?\$\{?(" + _NAME + r")\}?", t)
    if m:
        return f"${m.group(1)}"
    # A file under a folder variable: [[post-config|${SWIFT_CONF_DIR}/proxy-server.conf]]
    m = re.fullmatch(r"\$\{?(" + _NAME + r")\}?(/\S+)", t)
    return f"${m.group(1)}{m.group(2)}" if m else t


def _read_unescape(s: str) -> str:
    """What bash's ``read`` (without -r) makes of a line: each backslash
    quotes the next character and goes."""
    return re.sub(r"\\(.)", r"\1", s)


def _merge_value(st: _State, raw: str, n: int, opt: str) -> str | None:
    """The value DevStack's merge writes for ``raw``: read, then eval of
    ``iniset FILE SECTION OPTION "raw"``, then iniset's unquoted echo."""
    text = '"' + _read_unescape(raw) + '"'
    env = st.env
    env.line, env.keep_refs, env.kept = n, True, []
    try:
        words = _words(text, 0, env)
    except (_Incomplete, _Unsupported) as e:
        why = "a double quote that does not pair up" if isinstance(e, _Incomplete) else str(e)
        st.warn(n, f"{opt}: DevStack's merge cannot evaluate this value ({why}); left out")
        return None
    finally:
        env.keep_refs = False
    if len(words) != 1:
        st.warn(n, f"{opt}: a double quote inside the value ends DevStack's quoting; it keeps "
                   f"{words[0] if words else ''!r} only, so does this import")
    value = words[0] if words else ""
    if len(words) == 1 and value.count('"') < raw.count('"'):
        st.warn(n, f"{opt}: DevStack's merge reads the double quotes in this value as shell "
                   "quoting and drops them, so does this import; write \\\\\\\" to keep one")
    # iniset echoes the value unquoted: runs of blanks become one space
    return " ".join(value.split())


def _postconfig(st: _State, phase: str, target: str, lineno: int,
                lines: list[tuple[int, str]]) -> None:
    key = _normalise_file(target)
    if key.startswith("$") and key not in _file_vars():
        st.warn(lineno, f"[[{phase}|{target}]]: stacktui does not generate the file "
                        f"{key} names; the block is left out (it can merge into "
                        f"{', '.join(_file_vars())} or an absolute path)")
        return
    if not key.startswith(("$", "/")):
        st.warn(lineno, f"[[{phase}|{target}]]: neither a $VARIABLE nor an absolute path; "
                        "DevStack would write it relative to its own folder; left out")
        return
    if phase == "test-config" and key != "$TEMPEST_CONFIG":
        st.warn(lineno, f"[[test-config|{target}]]: stacktui merges test-config blocks into "
                        "tempest.conf only; left out")
        return
    sections = st.post_config.setdefault(key, {})
    section = None
    for n, text in lines:
        # awk's rules: [section] by the first field, "#" comments, options
        # only on lines that start with a non-blank
        if re.match(r"\[.+\]", text):
            section = text.split()[0].replace("[", "").replace("]", "")
            continue
        if re.match(r" *#", text) or not re.match(r"[^ \t]", text):
            continue
        if section is None or section == "":
            st.warn(n, f"{text.strip()[:60]!r} comes before any [section]; DevStack's iniset "
                       "ignores it, so does this import")
            continue
        if "=" not in text:
            st.warn(n, f"{text.strip()[:60]!r} is not an `option = value` line; DevStack's "
                       "iniset ignores it, so does this import")
            continue
        opt, val = text.split("=", 1)
        opt = opt.rstrip(" \t")
        val = val.strip(" \t")
        value = _merge_value(st, val, n, opt)
        if value is None:
            continue
        opts = sections.setdefault(section, {})
        if opt in opts:
            # DevStack keeps every value of a repeated option, in order
            prev = opts[opt]
            opts[opt] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            opts[opt] = value
    for sec in [s for s, o in sections.items() if not o]:
        del sections[sec]
    if not sections:
        del st.post_config[key]


# ---- the file as a whole

def decode(data: bytes, filename: str = "local.conf") -> tuple[str, list[str]]:
    """Text of a local.conf however it was saved: a UTF-8 BOM goes, a line
    that is not UTF-8 is read as Latin-1 with a warning."""
    warnings = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(raw.decode("latin-1"))
            warnings.append(f"{filename}:{n}: not UTF-8; read as Latin-1")
    return "\n".join(out), warnings


def _blocks(st: _State, text: str) -> list[tuple[str, str, int, list[tuple[int, str]]]]:
    """(phase, target, header line, body lines) per meta-section, found the
    way DevStack's awk finds them; a file without any is a bare localrc."""
    lines = text.replace("\r\n", "\n").split("\n")
    header = re.compile(r"^\[\[.+\|.*\]\]")
    if not any(header.match(l) for l in lines):
        return [("local", "localrc", 0, list(enumerate(lines, 1)))]
    blocks: list = []
    current = None
    for n, line in enumerate(lines, 1):
        if header.match(line):
            first = line.split()[0].replace("[", "").replace("]", "")
            phase, _, target = first.partition("|")
            current = (phase, target, n, [])
            blocks.append(current)
        elif current is None:
            s = line.strip()
            if s and not s.startswith("#"):
                st.warn(n, "text before the first [[...]] header; DevStack ignores it, so does "
                           "this import")
        else:
            current[3].append((n, line))
    return blocks


def import_localconf(text: str | bytes, filename: str = "local.conf") -> tuple[dict, list[str]]:
    """Translate a local.conf (or bare localrc) into an answers dict (with a
    ``passwords`` mapping for secrets.yaml) and warnings "file:line: ...".

    Reads what DevStack reads; what it cannot carry over is a warning with
    file and line. Raises UserError only for input no setting explains
    (expansions nested beyond reason)."""
    registry.load_plugins()     # a plugin's names are names this file may use
    st = _State(filename)
    if isinstance(text, bytes):
        text, st.warnings = decode(text, filename)
    elif text.startswith("\ufeff"):
        text = text[1:]
    posts = []
    for phase, target, line, body in _blocks(st, text):
        if phase == "local" and target == "localrc":
            _localrc(st, body)
        elif phase in ("post-config", "test-config"):
            posts.append((phase, target, line, body))
        elif phase == "local":
            st.warn(line, f"[[local|{target}]]: DevStack reads only [[local|localrc]]; left out")
        else:
            if any(t.strip() and not t.strip().startswith("#") for _, t in body):
                st.warn(line, f"[[{phase}|{target}]]: stacktui runs no extra phase hooks; the "
                              "block is left out (post-config blocks for service configs are "
                              "kept)")
    # Post-config values may reference any localrc variable, wherever the
    # block sits in the file, as in DevStack (localrc is sourced first).
    for phase, target, line, body in posts:
        try:
            _postconfig(st, phase, target, line, body)
        except _TooDeep:
            raise st.fail(line, f"expansions nested deeper than {MAX_NESTING} levels",
                          "write the value itself") from None
    answers = _to_answers(st)
    return answers, sorted(st.warnings, key=_warning_line)


def _warning_line(w: str) -> int:
    m = re.match(r".*?:(\d+): ", w)
    return int(m.group(1)) if m else 0


def _to_answers(st: _State) -> dict:
    v = {k: val for k, val in st.env.vars.items() if k in st.assigned}
    out: dict = {}
    used_vars: set[str] = {"ENABLED_SERVICES", "DISABLED_SERVICES"}

    def at(var):
        return st.assigned.get(var)

    def take(var, key, conv=str):
        if var in v:
            used_vars.add(var)
            out[key] = conv(v[var])

    pw = {}
    for var, key in password_vars().items():
        if var in v:
            used_vars.add(var)
            if v[var]:
                pw[key] = v[var]
    # lib/database: a set MYSQL_PASSWORD replaces DATABASE_PASSWORD
    if v.get("MYSQL_PASSWORD"):
        used_vars.add("MYSQL_PASSWORD")
        if pw.get("database") not in (None, v["MYSQL_PASSWORD"]):
            st.warn(at("MYSQL_PASSWORD"), "MYSQL_PASSWORD and DATABASE_PASSWORD differ; DevStack "
                                          "uses MYSQL_PASSWORD, so does this import")
        pw["database"] = v["MYSQL_PASSWORD"]
    take("DEST", "dest")
    ipver = v.get("SERVICE_IP_VERSION")
    if ipver is not None:
        used_vars.add("SERVICE_IP_VERSION")
        out["service_ip_version"] = int(ipver) if ipver in ("4", "6") else ipver
    take("HOST_IP", "host_ip")
    if ipver == "6" and v.get("HOST_IPV6"):
        used_vars.add("HOST_IPV6")
        out["host_ip"] = v["HOST_IPV6"]
    for var in ("FIXED_RANGE", "IPV4_ADDRS_SAFE_TO_USE"):
        take(var, "fixed_range")
    if v.get("FIXED_RANGE") and v.get("IPV4_ADDRS_SAFE_TO_USE") and \
            v["FIXED_RANGE"] != v["IPV4_ADDRS_SAFE_TO_USE"]:
        st.warn(at("FIXED_RANGE"), f"FIXED_RANGE={v['FIXED_RANGE']} and "
                f"IPV4_ADDRS_SAFE_TO_USE={v['IPV4_ADDRS_SAFE_TO_USE']} differ; stacktui has one "
                "fixed range and takes IPV4_ADDRS_SAFE_TO_USE, as current DevStack does")
    take("FLOATING_RANGE", "floating_range")
    take("PUBLIC_INTERFACE", "public_interface")
    take("REGION_NAME", "region")
    take("IMAGE_URLS", "image_urls", lambda s: [u.strip() for u in s.split(",") if u.strip()])
    if v.get("DOWNLOAD_DEFAULT_IMAGES", "").lower() in ("false", "0", "no"):
        used_vars.add("DOWNLOAD_DEFAULT_IMAGES")
        out.setdefault("image_urls", [])
    take("VOLUME_BACKING_FILE_SIZE", "volume_backing_file_size")
    if "API_WORKERS" in v:
        used_vars.add("API_WORKERS")
        out["workers"] = int(v["API_WORKERS"]) if v["API_WORKERS"].isdigit() else v["API_WORKERS"]

    # virt driver: DevStack's libvirt + LIBVIRT_TYPE become one choice.
    vd, lt = v.get("VIRT_DRIVER"), v.get("LIBVIRT_TYPE")
    libvirt = registry.devstack_value("VIRT_DRIVER")
    if vd is not None or lt is not None:
        used_vars.update({"VIRT_DRIVER", "LIBVIRT_TYPE"})
        if vd == "fake":
            out["virt_driver"] = "fake"
        elif vd in (None, "", libvirt):
            out["virt_driver"] = lt if lt in ("qemu", "kvm") else "auto"
            if lt not in (None, "", "qemu", "kvm"):
                st.warn(at("LIBVIRT_TYPE"), f"LIBVIRT_TYPE={lt} is not supported; "
                        "using auto (kvm when /dev/kvm works, else qemu)")
        else:
            st.warn(at("VIRT_DRIVER"), f"VIRT_DRIVER={vd} is not supported by "
                    f"stacktui ({libvirt} or fake); using auto ({libvirt} with kvm or qemu)")
            out["virt_driver"] = "auto"

    # database
    services = _final_services(st)
    db = v.get("STACKTUI_DATABASE") or v.get("DATABASE_TYPE")
    used_vars.update({"STACKTUI_DATABASE", "DATABASE_TYPE"})
    # DevStack's DATABASE_TYPE, the only one it still has; stacktui's answers
    # use the same word (the database server's spec says which).
    server = registry.server_database()
    dbsvc = registry.database_service(server)
    if db == "sqlite":
        out["database"] = "sqlite"
        # export adds the database only so stack.sh has one; stacktui does not need it
        if dbsvc in services:
            services.remove(dbsvc)
    elif db in (None, "", server):
        out["database"] = server if dbsvc in services else "sqlite"
    else:
        st.warn(at("DATABASE_TYPE"), f"DATABASE_TYPE={db} is not supported; "
                f"stacktui uses MariaDB ({server}) or SQLite")
        out["database"] = server if dbsvc in services else "sqlite"
    out["enabled_services"] = catalog.ordered(services)

    ports = {}
    for svc, s in catalog.SERVICES.items():
        var = _port_var(svc)
        if s.port and var in v:
            used_vars.add(var)
            if v[var].isdigit():
                ports[svc] = int(v[var])
            else:
                st.warn(at(var), f"{var}={v[var]!r} is not a port number; left out")
    if ports:
        out["ports"] = ports

    sources = {}
    repo_names = registry.table("repo_names")
    for proj, prefix in _source_prefix().items():
        repo, branch, version = (v.get(f"{prefix}_REPO"), v.get(f"{prefix}_BRANCH"),
                                 v.get(f"STACKTUI_{prefix}_VERSION"))
        used_vars.update({f"{prefix}_REPO", f"{prefix}_BRANCH", f"STACKTUI_{prefix}_VERSION"})
        if version:
            sources[proj] = {"version": version}
        elif repo or branch:
            base = st.env.get("GIT_BASE")
            spec = {"git": repo or f"{base}/openstack/{repo_names.get(proj, proj)}.git"}
            spec["branch"] = branch or st.env.get("TARGET_BRANCH")
            sources[proj] = spec
    if sources:
        out["sources"] = sources
    if st.post_config:
        out["post_config"] = st.post_config
    out["passwords"] = pw

    # What is left: nothing disappears without a word.
    for var, line in sorted(st.assigned.items(), key=lambda kv: kv[1] or 0):
        if var in used_vars:
            continue
        if var in IGNORED_VARS:
            st.warn(line, f"{var}: {IGNORED_VARS[var]}")
        elif var in st.env.used:
            continue            # a helper variable, used by another setting
        elif re.fullmatch(r"[A-Z0-9]+_(REPO|BRANCH)", var):
            st.warn(line, f"{var}: stacktui installs no such project from git; left out")
        else:
            st.warn(line, f"{var}: no stacktui equivalent; left out")
    for name, line in st.env.unknown.items():
        if name not in st.assigned:
            st.warn(line, f"${name} is referenced but never set; it expanded to nothing "
                          "(as in bash)")
    return out


# answers key -> the DevStack variable an import takes it from, to point a
# problem at the local.conf line that caused it
KEY_VARS = {"dest": ("DEST",), "host_ip": ("HOST_IPV6", "HOST_IP"),
            "service_ip_version": ("SERVICE_IP_VERSION",),
            "fixed_range": ("IPV4_ADDRS_SAFE_TO_USE", "FIXED_RANGE"),
            "floating_range": ("FLOATING_RANGE",), "public_interface": ("PUBLIC_INTERFACE",),
            "region": ("REGION_NAME",), "workers": ("API_WORKERS",),
            "admin": ("ADMIN_PASSWORD",), "database": ("MYSQL_PASSWORD", "DATABASE_PASSWORD"),
            "service": ("SERVICE_PASSWORD",),
            "enabled_services": ("ENABLED_SERVICES",), "service_host": ("SERVICE_HOST",)}


def key_vars(key: str) -> tuple[str, ...]:
    """The DevStack variables an answers key is taken from (a spec's own
    password kind included)."""
    return KEY_VARS.get(key) or tuple(v for v, k in password_vars().items() if k == key)


def line_of(text: str, key: str) -> int | None:
    """The line of the localrc assignment an answers key came from."""
    for var in key_vars(key):
        for n, line in reversed(list(enumerate(text.split("\n"), 1))):
            if re.match(rf"\s*(?:export\s+)?{var}\+?=", line):
                return n
    return None


def deployable_problems(answers: dict) -> list[str]:
    """Services in an imported answers dict this stacktui cannot deploy yet."""
    return [n for n in answers.get("enabled_services", [])
            if n in catalog.SERVICES and not catalog.get(n).implemented]


# ---------------------------------------------------------------- export

def _q(v) -> str:
    return shlex.quote(str(v))


def _export_value(v: str) -> str:
    """A post-config value written so DevStack's merge gives it back: the
    merge reads each line with ``read`` (one backslash level) and then evals
    it inside double quotes (a second level), so a literal ``\\ $ ` "`` needs
    three backslashes. References to passwords and to the runtime variables
    stay references."""
    keep = re.compile(r"\$\{(" + "|".join(list(password_vars()) + list(RUNTIME_VARS)) + r")\}")
    out, i = [], 0
    for m in keep.finditer(v):
        out.append(_escape2(v[i:m.start()]))
        out.append(m.group())
        i = m.end()
    out.append(_escape2(v[i:]))
    return "".join(out)


def _escape2(s: str) -> str:
    return re.sub(r'([\\$`"])', r"\\\\\\\1", s)


def _carry_problem(v: str) -> str | None:
    """Why DevStack's merge cannot carry ``v`` as it is, if it cannot."""
    if "\n" in v:
        return "it spans lines"
    if v != " ".join(v.split()):
        return "iniset echoes values unquoted, so runs of blanks and leading or trailing blanks collapse"
    return None


def export_localconf(ans) -> str:
    """A local.conf with the same choices; import_localconf of it gives the
    same answers back."""
    d = ans.data if hasattr(ans, "data") else ans
    out = ["# Written by stacktui export-localconf.", "[[local|localrc]]"]
    pw = d.get("passwords") or {}
    odd = False
    for var, key in password_vars().items():
        if pw.get(key):
            out.append(f"{var}={_q(pw[key])}")
            odd = odd or not pw[key].isalnum()
    if odd:
        out.insert(1, "# Note: DevStack's stack.sh accepts only letters and digits in passwords "
                      "(bug 1744985); stacktui accepts these.")
    if d.get("dest"):
        out.append(f"DEST={_q(d['dest'])}")
    if d.get("host_ip"):
        ipv = d.get("service_ip_version", 4)
        out.append(f"{'HOST_IPV6' if str(ipv) == '6' else 'HOST_IP'}={_q(d['host_ip'])}")
    out.append(f"SERVICE_IP_VERSION={_q(d.get('service_ip_version', 4))}")
    out.append(f"IPV4_ADDRS_SAFE_TO_USE={_q(d.get('fixed_range'))}")
    out.append(f"FLOATING_RANGE={_q(d.get('floating_range'))}")
    if d.get("public_interface"):
        out.append(f"PUBLIC_INTERFACE={_q(d['public_interface'])}")
    out.append(f"REGION_NAME={_q(d.get('region', 'RegionOne'))}")
    if d.get("image_urls") is not None:
        out.append(f"IMAGE_URLS={_q(','.join(d['image_urls']))}")
    vd = d.get("virt_driver", "auto")
    if vd == "fake":
        out.append("VIRT_DRIVER=fake")
    else:
        out.append(f"VIRT_DRIVER={registry.devstack_value('VIRT_DRIVER')}")
        if vd in ("qemu", "kvm"):
            out.append(f"LIBVIRT_TYPE={vd}")
    if d.get("workers") not in (None, "auto"):
        out.append(f"API_WORKERS={_q(d['workers'])}")
    out.append(f"VOLUME_BACKING_FILE_SIZE={_q(d.get('volume_backing_file_size', '24G'))}")

    services = list(catalog.expand(d.get("enabled_services") or []))
    server = registry.server_database()
    dbsvc = registry.database_service(server)
    if d.get("database") == server:
        out.append(f"DATABASE_TYPE={server}")
        if dbsvc not in services:
            services.append(dbsvc)
    else:
        out.append("# stack.sh needs MySQL; stacktui runs this stack on SQLite.")
        out.append("STACKTUI_DATABASE=sqlite")
        if dbsvc not in services:
            services.append(dbsvc)
    for svc, port in sorted((d.get("ports") or {}).items()):
        if svc in catalog.SERVICES and port and port != catalog.get(svc).port:
            out.append(f"{_port_var(svc)}={_q(port)}")
    for proj, spec in (d.get("sources") or {}).items():
        prefix = _source_prefix().get(proj)
        if not prefix or not isinstance(spec, dict):
            continue
        if spec.get("version"):
            out.append(f"STACKTUI_{prefix}_VERSION={_q(spec['version'])}")
            continue
        if spec.get("git"):
            out.append(f"{prefix}_REPO={_q(spec['git'])}")
        out.append(f"{prefix}_BRANCH={_q(spec.get('branch') or 'master')}")
    out.append("")
    out.append("# The exact service list (DevStack names).")
    out.append("disable_all_services")
    for svc in catalog.ordered(services):
        # DevStack runs libvirt as part of n-cpu (VIRT_DRIVER above), under no name of its own.
        if svc not in registry.hidden_services():
            out.append(f"enable_service {svc}")
    notes = []
    for target, sections in (d.get("post_config") or {}).items():
        out.append("")
        t = _normalise_file(target)
        # DevStack deletes tempest.conf after post-config and writes a new
        # one; only test-config reaches it. Q_PLUGIN_CONF_FILE is relative.
        phase = "test-config" if t == "$TEMPEST_CONFIG" else "post-config"
        out.append(f"[[{phase}|{'/' + t if t == '$Q_PLUGIN_CONF_FILE' else target}]]")
        for sec, opts in (sections or {}).items():
            out.append(f"[{sec}]")
            for opt, val in (opts or {}).items():
                for one in (val if isinstance(val, list) else [val]):
                    one = _ini_text(one)
                    why = _carry_problem(one)
                    if why:
                        notes.append(f"# Note: [{sec}] {opt} in {target}: DevStack's merge "
                                     f"changes this value ({why}).")
                    out.append(f"{opt} = {_export_value(one)}")
    if notes:
        out[1:1] = notes
    return "\n".join(out) + "\n"


def _ini_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)
