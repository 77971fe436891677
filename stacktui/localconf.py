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

import copy
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from . import catalog
from .answers import DEFAULTS
from .errors import Problem, UserError

# ---------------------------------------------------------------- tables

PASSWORD_VARS = {"ADMIN_PASSWORD": "admin", "DATABASE_PASSWORD": "database",
                 "RABBIT_PASSWORD": "rabbit", "SERVICE_PASSWORD": "service"}

# Config-file variables DevStack users write in [[post-config|...]] headers.
FILE_VARS = ("$KEYSTONE_CONF", "$NOVA_CONF", "$NOVA_CPU_CONF", "$GLANCE_API_CONF",
             "$PLACEMENT_CONF", "$NEUTRON_CONF", "$Q_PLUGIN_CONF_FILE", "$CINDER_CONF",
             "$TEMPEST_CONFIG")

# DevStack's <PREFIX>_REPO / _BRANCH names for the projects stacktui installs.
SOURCE_PREFIX = {"keystone": "KEYSTONE", "glance": "GLANCE", "openstack-placement": "PLACEMENT",
                 "nova": "NOVA", "neutron": "NEUTRON", "cinder": "CINDER", "horizon": "HORIZON",
                 "tempest": "TEMPEST", "python-openstackclient": "OPENSTACKCLIENT"}
_REPO_NAME = {"openstack-placement": "placement"}

# DevStack's port variables; services without one get a STACKTUI_ variable
# that DevStack ignores and import reads back.
PORT_VARS = {"key": "KEYSTONE_SERVICE_PORT", "g-api": "GLANCE_SERVICE_PORT",
             "n-api": "NOVA_SERVICE_PORT", "c-api": "CINDER_SERVICE_PORT",
             "q-svc": "Q_PORT", "s-proxy": "SWIFT_DEFAULT_BIND_PORT"}


def _port_var(svc: str) -> str:
    return PORT_VARS.get(svc) or "STACKTUI_PORT_" + re.sub(r"\W", "_", svc).upper()


# When a retired service is *enabled*, these stand in for it, so the import
# still describes a cloud that does what the user asked for.
RETIRED_REPLACEMENT = {
    "n-net": ("q-svc", "q-ovn-agent", "ovn-northd", "ovn-controller", "ovs-vswitchd",
              "ovsdb-server"),
    "q-agt": ("ovn-controller", "ovs-vswitchd", "ovsdb-server"),
    "q-l3": ("ovn-northd",),
    "q-dhcp": ("ovn-northd",),
    "q-meta": ("q-ovn-agent",),
    "n-xvnc": ("n-novnc",),
}

# DevStack projects stacktui does not deploy: name prefix -> what to do instead.
_KOLLA = "Kolla-Ansible deploys it (stacktui export-kolla, then enable_{} in globals.yml)"
UNSUPPORTED = {
    "ceilometer": "Ceilometer telemetry is not supported by stacktui; " + _KOLLA.format("ceilometer"),
    "aodh": "Aodh alarming is not supported by stacktui; " + _KOLLA.format("aodh"),
    "gnocchi": "Gnocchi is not supported by stacktui; " + _KOLLA.format("gnocchi"),
    "tr-": "Trove is not supported by stacktui; " + _KOLLA.format("trove"),
    "trove": "Trove is not supported by stacktui; " + _KOLLA.format("trove"),
    "sahara": "Sahara was retired upstream; no replacement",
    "zaqar": "Zaqar is not supported by stacktui and no longer packaged by Kolla; no replacement",
    "h-": "Heat is not supported by stacktui yet; " + _KOLLA.format("heat"),
    "heat": "Heat is not supported by stacktui yet; " + _KOLLA.format("heat"),
    "o-": "Octavia is not supported by stacktui; " + _KOLLA.format("octavia"),
    "octavia": "Octavia is not supported by stacktui; " + _KOLLA.format("octavia"),
    "ir-": "Ironic is not supported by stacktui; " + _KOLLA.format("ironic"),
    "ironic": "Ironic is not supported by stacktui; " + _KOLLA.format("ironic"),
    "designate": "Designate is not supported by stacktui; " + _KOLLA.format("designate"),
    "barbican": "Barbican is not supported by stacktui; " + _KOLLA.format("barbican"),
    "manila": "Manila is not supported by stacktui; " + _KOLLA.format("manila"),
    "m-": "Manila is not supported by stacktui; " + _KOLLA.format("manila"),
    "magnum": "Magnum is not supported by stacktui; " + _KOLLA.format("magnum"),
    "n-spice": "the SPICE console proxy is not supported; n-novnc gives a console",
    "n-sproxy": "the serial console proxy is not supported; n-novnc gives a console",
    "q-ovn-metadata-agent": "the OVN metadata agent is folded into q-ovn-agent",
    "q-fake": "the fake neutron agent is not supported",
    "q-qos": "QoS is a neutron extension, not a service; set it with [[post-config|$NEUTRON_CONF]]",
    "q-trunk": "trunk is a neutron extension, not a service; set it with [[post-config|$NEUTRON_CONF]]",
    "openstack-cli-server": "not needed: stacktui talks to the APIs in-process",
    "memory_tracker": "stacktui's dashboard shows memory per pane instead",
    "peakmem_tracker": "stacktui's dashboard shows memory per pane instead",
    "file_tracker": "not supported; no replacement",
    "s3api": "Swift's S3 API is not supported by stacktui",
}
# Group names DevStack understands for projects stacktui lacks.
UNSUPPORTED_GROUPS = ("ceilometer", "aodh", "trove", "sahara", "zaqar", "heat", "octavia",
                      "ironic", "designate", "barbican", "manila", "magnum", "gnocchi")

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
    "DOWNLOAD_DEFAULT_IMAGES": "stacktui uploads one CirrOS image when glance is enabled",
    "IMAGE_URLS": "stacktui uploads one CirrOS image when glance is enabled",
    "DATABASE_USER": "stacktui uses the root database user with DATABASE_PASSWORD",
    "DATABASE_HOST": "the database runs on this host",
    "ENABLE_IDENTITY_V2": "identity v2 was removed; v3 only",
    "IDENTITY_API_VERSION": "identity v3 only",
    "KEYSTONE_TOKEN_FORMAT": "fernet tokens only",
    "HOST_IPV6": "used as HOST_IP when SERVICE_IP_VERSION=6",
    "SWIFT_HASH": "swift is not deployable by this stacktui version",
    "SWIFT_REPLICAS": "swift is not deployable by this stacktui version",
    "SWIFT_DATA_DIR": "swift is not deployable by this stacktui version",
    "NOVA_VNC_ENABLED": "n-novnc is the console; enable or disable that service",
    "VNCSERVER_LISTEN": "the console listens on HOST_IP",
    "VNCSERVER_PROXYCLIENT_ADDRESS": "the console listens on HOST_IP",
    "LIBS_FROM_GIT": "libraries come from PyPI via the lock file",
}

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ASSIGN = re.compile(rf"^\s*(?:export\s+)?({_NAME})(\+?=)")
_HEADER = re.compile(r"^\[\[\s*([^|\]]+?)\s*\|\s*(.+?)\s*\]\]\s*$")


# ---------------------------------------------------------------- shell subset

class _Incomplete(Exception):
    """The logical line goes on (open quote, trailing backslash)."""


class _Unsupported(Exception):
    pass


@dataclass
class _Env:
    """Shell variables as localrc sets them, with DevStack's defaults for the
    ones people reference without setting (``$DEST/logs``)."""
    vars: dict = field(default_factory=dict)
    used: set = field(default_factory=set)
    unknown: dict = field(default_factory=dict)   # name -> first line referencing it
    line: int | None = None

    def get(self, name: str, quiet: bool = False) -> str | None:
        self.used.add(name)
        if name in self.vars:
            return self.vars[name]
        default = self._default(name)
        if default is None and not quiet:
            self.unknown.setdefault(name, self.line)
        return default

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
            return ""
        return None


def _param(text: str, i: int, env: _Env) -> tuple[str, int]:
    """``${...}`` starting at text[i] == '{'; returns (value, index after '}')."""
    depth, j = 1, i + 1
    while j < len(text) and depth:
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
        j += 1
    if depth:
        raise _Incomplete
    inner = text[i + 1:j - 1]
    m = re.fullmatch(rf"({_NAME})(?:(:?[-=+])(.*))?", inner, re.S)
    if not m:
        raise _Unsupported(f"the expansion ${{{inner}}} needs a real shell")
    name, op, word = m.groups()
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
            env.vars[name] = val
    return val, j


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
    services: list = field(default_factory=lambda: list(catalog.PROFILES["devstack"]))
    disabled: set = field(default_factory=set)
    assigned: dict = field(default_factory=dict)     # var -> line it was last set on
    post_config: dict = field(default_factory=dict)

    def warn(self, line: int | None, msg: str) -> None:
        where = f"{self.filename}:{line}" if line else self.filename
        self.warnings.append(f"{where}: {msg}")


def _names(st: _State, raw: list[str], line: int, enabling: bool) -> list[str]:
    """Catalog names for the DevStack names in ``raw``; warnings for the rest."""
    out: list[str] = []
    for n in raw:
        if not n:
            continue
        if n in catalog.SERVICES:
            out.append(n)
        elif n in catalog.GROUPS:
            out.extend(catalog.GROUPS[n])
        elif n in catalog.RETIRED:
            if enabling:
                repl = [r for r in RETIRED_REPLACEMENT.get(n, ()) if r not in out]
                st.warn(line, f"{n}: {catalog.RETIRED[n]}"
                        + (f"; enabled {', '.join(repl)} instead" if repl else "; left out"))
                out.extend(repl)
            else:
                st.warn(line, f"disable_service {n}: nothing to do, {catalog.RETIRED[n]}")
        else:
            why = UNSUPPORTED.get(n) or next(
                (v for k, v in UNSUPPORTED.items() if k.endswith("-") and n.startswith(k)), None) \
                or next((UNSUPPORTED.get(g, "") for g in UNSUPPORTED_GROUPS if n.startswith(g)), None)
            verb = "left out" if enabling else "nothing to disable"
            if why:
                st.warn(line, f"{n}: {why}; {verb}")
            else:
                st.warn(line, f"{n}: not a DevStack service stacktui knows; {verb}")
    return out


def _enable(st: _State, raw: list[str], line: int) -> None:
    for n in _names(st, raw, line, enabling=True):
        if n in st.disabled:
            # DevStack's enable_service refuses a name disabled earlier.
            st.warn(line, f"enable_service {n}: it was disabled earlier, so DevStack keeps it "
                          "disabled; so does this import")
        elif n not in st.services:
            st.services.append(n)


def _disable(st: _State, raw: list[str], line: int) -> None:
    for n in _names(st, raw, line, enabling=False):
        st.disabled.add(n)
        if n in st.services:
            st.services.remove(n)


def _set_enabled_services(st: _State, value: str, line: int) -> None:
    items = [s.strip() for s in value.split(",") if s.strip()]
    neg = [s[1:] for s in items if s.startswith("-")]
    st.services = []
    _enable(st, [s for s in items if not s.startswith("-")], line)
    # A -name entry removes the name wherever it appears, as DevStack's
    # disable_negated_services does; it is not remembered as disabled.
    for n in _names(st, neg, line, enabling=False):
        if n in st.services:
            st.services.remove(n)


def _localrc(st: _State, lines: list[tuple[int, str]]) -> None:
    k = 0
    while k < len(lines):
        lineno, text = lines[k]
        k += 1
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        # Join continuation lines until the shell would see a whole command.
        while True:
            try:
                _statement(st, lineno, text)
                break
            except _Incomplete:
                if k >= len(lines):
                    raise UserError(Problem("unterminated quote or trailing backslash",
                                            file=st.filename, line=lineno,
                                            fix="close the quote")) from None
                text += "\n" + lines[k][1]
                k += 1
            except _Unsupported as e:
                raise UserError(Problem(str(e), file=st.filename, line=lineno)) from None


def _statement(st: _State, lineno: int, text: str) -> None:
    st.env.line = lineno
    m = _ASSIGN.match(text)
    if m:
        name, op = m.groups()
        value, end = _word(text, m.end(), st.env)
        rest = _skip_blank(text, end)
        if rest < len(text) and text[rest] != "#":
            raise _Unsupported(f"{name}: the value holds an unquoted space; quote it, "
                               f"e.g. {name}=\"...\"")
        if op == "+=":
            value = (st.env.get(name) or "") + value
        st.env.vars[name] = value
        st.assigned[name] = lineno
        if name == "ENABLED_SERVICES":
            _set_enabled_services(st, value, lineno)
        return
    words = _words(text, 0, st.env)
    if not words:
        return
    cmd, args = words[0], words[1:]
    if cmd == "enable_service":
        _enable(st, args, lineno)
    elif cmd == "disable_service":
        _disable(st, args, lineno)
    elif cmd == "disable_all_services":
        st.services = []
    elif cmd == "enable_plugin":
        name = args[0] if args else "?"
        why = UNSUPPORTED.get(name) or next((UNSUPPORTED[g] for g in UNSUPPORTED_GROUPS
                                             if name.startswith(g)), None)
        st.warn(lineno, f"enable_plugin {name}: DevStack plugins are not supported"
                        + (f"; {why}" if why else "") + "; left out")
    elif cmd in ("export", "unset") and not args:
        return
    else:
        raise _Unsupported(f"`{cmd}` is not something stacktui can translate; a local.conf "
                           "block holds assignments, enable_service, disable_service, "
                           "disable_all_services and enable_plugin")


def _normalise_file(target: str) -> str:
    m = re.fullmatch(r"\$\{?(" + _NAME + r")\}?", target.strip())
    return f"${m.group(1)}" if m else target.strip()


def _keep_password_refs(value: str, env: _Env) -> str:
    """Expand a post-config value like DevStack's eval does, except the four
    password variables: they stay ``${ADMIN_PASSWORD}`` so no secret lands in
    stacktui.yaml; postconfig.apply fills them in."""
    marks = {}
    for var in PASSWORD_VARS:
        token = f"\0{var}\0"
        marks[token] = "${" + var + "}"
        value = re.sub(r"\$\{" + var + r"\}|\$" + var + r"(?![A-Za-z0-9_])", token, value)
    expanded = _expand(value, env, dquote=True)
    for token, ref in marks.items():
        expanded = expanded.replace(token, ref)
    return expanded


def _postconfig(st: _State, target: str, lineno: int, lines: list[tuple[int, str]]) -> None:
    key = _normalise_file(target)
    if key.startswith("$") and key not in FILE_VARS:
        st.warn(lineno, f"[[post-config|{target}]]: stacktui does not generate the file "
                        f"{key} names; the block is left out (it can merge into "
                        f"{', '.join(FILE_VARS)} or an absolute path)")
        return
    if not key.startswith("$") and not key.startswith("/"):
        raise UserError(Problem(f"post-config target {target!r} is neither a $VARIABLE nor an "
                                "absolute path", file=st.filename, line=lineno,
                                fix="use e.g. [[post-config|$NOVA_CONF]]"))
    sections = st.post_config.setdefault(key, {})
    section = None
    for n, text in lines:
        s = text.strip()
        if not s or s.startswith(("#", ";")):
            continue
        m = re.fullmatch(r"\[([^\]]+)\]", s)
        if m:
            section = m.group(1).strip()
            sections.setdefault(section, {})
            continue
        if section is None:
            raise UserError(Problem("option before any [section]", file=st.filename, line=n,
                                    fix="start the block with a [section] line"))
        if "=" not in s:
            raise UserError(Problem(f"not an `option = value` line: {s!r}", file=st.filename,
                                    line=n))
        opt, val = s.split("=", 1)
        st.env.line = n
        try:
            val = _keep_password_refs(val.strip(), st.env)
        except (_Unsupported, _Incomplete) as e:
            raise UserError(Problem(f"cannot expand the value: {e}", file=st.filename,
                                    line=n)) from None
        sections[section][opt.strip()] = val
    if not sections:
        del st.post_config[key]


def _blocks(text: str) -> list[tuple[str, str, int, list[tuple[int, str]]]]:
    """(phase, target, header line, body lines) per meta-section; a file
    without any header is a bare localrc."""
    lines = text.splitlines()
    blocks: list = []
    has_headers = any(_HEADER.match(l) for l in lines)
    if not has_headers:
        return [("local", "localrc", 0, list(enumerate(lines, 1)))]
    current = None
    for n, line in enumerate(lines, 1):
        m = _HEADER.match(line)
        s = line.strip()
        if m:
            current = (m.group(1), m.group(2), n, [])
            blocks.append(current)
        elif s.startswith("[[") and not s.startswith("[[ "):
            raise UserError(Problem(f"not a meta-section header: {s!r}", line=n,
                                    fix="write [[local|localrc]] or [[post-config|$NOVA_CONF]]"))
        elif current is None:
            if s and not s.startswith("#"):
                raise UserError(Problem("text before the first [[...]] section", line=n,
                                        fix="put it under [[local|localrc]]"))
        else:
            current[3].append((n, line))
    return blocks


def import_localconf(text: str, filename: str = "local.conf") -> tuple[dict, list[str]]:
    """Translate a local.conf (or bare localrc) into an answers dict (with a
    ``passwords`` mapping for secrets.yaml) and warnings "file:line: ...".

    Raises UserError with file and line for text it cannot translate."""
    st = _State(filename)
    try:
        blocks = _blocks(text)
    except UserError as e:
        for p in e.problems:
            p.file = filename
        raise
    posts = []
    for phase, target, line, body in blocks:
        if phase == "local" and target == "localrc":
            _localrc(st, body)
        elif phase == "post-config":
            posts.append((target, line, body))
        elif phase == "test-config" and _normalise_file(target) == "$TEMPEST_CONFIG":
            posts.append((target, line, body))
        else:
            if any(t.strip() and not t.strip().startswith("#") for _, t in body):
                st.warn(line, f"[[{phase}|{target}]]: stacktui runs no extra phase hooks; the "
                              "block is left out (post-config blocks for service configs are "
                              "kept)")
    # Post-config values may reference any localrc variable, wherever the
    # block sits in the file, as in DevStack (localrc is sourced first).
    for target, line, body in posts:
        _postconfig(st, target, line, body)
    answers = _to_answers(st)
    return answers, sorted(st.warnings, key=_warning_line)


def _warning_line(w: str) -> int:
    m = re.match(r".*?:(\d+): ", w)
    return int(m.group(1)) if m else 0


def _to_answers(st: _State) -> dict:
    v = st.env.vars
    out: dict = {}
    used_vars: set[str] = {"ENABLED_SERVICES"}

    def take(var, key, conv=str):
        if var in v:
            used_vars.add(var)
            out[key] = conv(v[var])

    pw = {}
    for var, key in PASSWORD_VARS.items():
        if var in v:
            used_vars.add(var)
            if v[var]:
                pw[key] = v[var]
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
        st.warn(st.assigned["FIXED_RANGE"], f"FIXED_RANGE={v['FIXED_RANGE']} and "
                f"IPV4_ADDRS_SAFE_TO_USE={v['IPV4_ADDRS_SAFE_TO_USE']} differ; stacktui has one "
                "fixed range and takes IPV4_ADDRS_SAFE_TO_USE, as current DevStack does")
    take("FLOATING_RANGE", "floating_range")
    take("PUBLIC_INTERFACE", "public_interface")
    take("REGION_NAME", "region")
    take("VOLUME_BACKING_FILE_SIZE", "volume_backing_file_size")
    if "API_WORKERS" in v:
        used_vars.add("API_WORKERS")
        out["workers"] = int(v["API_WORKERS"]) if v["API_WORKERS"].isdigit() else v["API_WORKERS"]

    # virt driver: DevStack's libvirt + LIBVIRT_TYPE become one choice.
    vd, lt = v.get("VIRT_DRIVER"), v.get("LIBVIRT_TYPE")
    if vd is not None or lt is not None:
        used_vars.update({"VIRT_DRIVER", "LIBVIRT_TYPE"})
        if vd == "fake":
            out["virt_driver"] = "fake"
        elif vd in (None, "", "libvirt"):
            out["virt_driver"] = lt if lt in ("qemu", "kvm") else "auto"
            if lt not in (None, "", "qemu", "kvm"):
                st.warn(st.assigned["LIBVIRT_TYPE"], f"LIBVIRT_TYPE={lt} is not supported; "
                        "using auto (kvm when /dev/kvm works, else qemu)")
        else:
            st.warn(st.assigned["VIRT_DRIVER"], f"VIRT_DRIVER={vd} is not supported by "
                    "stacktui (libvirt or fake); using auto (libvirt with kvm or qemu)")
            out["virt_driver"] = "auto"

    # database
    services = list(st.services)
    db = v.get("STACKTUI_DATABASE") or v.get("DATABASE_TYPE")
    used_vars.update({"STACKTUI_DATABASE", "DATABASE_TYPE"})
    if db == "sqlite":
        out["database"] = "sqlite"
        # export adds mysql only so stack.sh has a database; stacktui does not need it
        if "mysql" in services:
            services.remove("mysql")
    elif db in (None, "", "mysql"):
        out["database"] = "mysql" if "mysql" in services else "sqlite"
    else:
        st.warn(st.assigned.get("DATABASE_TYPE"), f"DATABASE_TYPE={db} is not supported; "
                "stacktui uses MariaDB (mysql) or SQLite")
        out["database"] = "mysql" if "mysql" in services else "sqlite"
    out["enabled_services"] = catalog.ordered(services)

    ports = {}
    for svc, s in catalog.SERVICES.items():
        var = _port_var(svc)
        if s.port and var in v:
            used_vars.add(var)
            if v[var].isdigit():
                ports[svc] = int(v[var])
            else:
                st.warn(st.assigned[var], f"{var}={v[var]!r} is not a port number; left out")
    if ports:
        out["ports"] = ports

    sources = {}
    for proj, prefix in SOURCE_PREFIX.items():
        repo, branch, version = (v.get(f"{prefix}_REPO"), v.get(f"{prefix}_BRANCH"),
                                 v.get(f"STACKTUI_{prefix}_VERSION"))
        used_vars.update({f"{prefix}_REPO", f"{prefix}_BRANCH", f"STACKTUI_{prefix}_VERSION"})
        if version:
            sources[proj] = {"version": version}
        elif repo or branch:
            base = st.env.get("GIT_BASE")
            spec = {"git": repo or f"{base}/openstack/{_REPO_NAME.get(proj, proj)}.git"}
            spec["branch"] = branch or st.env.get("TARGET_BRANCH")
            sources[proj] = spec
    if sources:
        out["sources"] = sources
    if st.post_config:
        out["post_config"] = st.post_config
    out["passwords"] = pw

    # What is left: nothing disappears without a word.
    for var, line in sorted(st.assigned.items(), key=lambda kv: kv[1]):
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


def deployable_problems(answers: dict) -> list[str]:
    """Services in an imported answers dict this stacktui cannot deploy yet."""
    return [n for n in answers.get("enabled_services", [])
            if n in catalog.SERVICES and not catalog.get(n).implemented]


# ---------------------------------------------------------------- export

def _q(v) -> str:
    return shlex.quote(str(v))


def _export_value(v: str) -> str:
    """A post-config value as DevStack's eval will read it: password
    references stay references, other ``$`` are escaped."""
    refs = {}
    for var in PASSWORD_VARS:
        ref = "${" + var + "}"
        token = f"\0{var}\0"
        refs[token] = ref
        v = v.replace(ref, token)
    v = v.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")
    for token, ref in refs.items():
        v = v.replace(token, ref)
    return v


def export_localconf(ans) -> str:
    """A local.conf with the same choices; import_localconf of it gives the
    same answers back."""
    d = ans.data if hasattr(ans, "data") else ans
    out = ["# Written by stacktui export-localconf.", "[[local|localrc]]"]
    pw = d.get("passwords") or {}
    odd = False
    for var, key in PASSWORD_VARS.items():
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
    vd = d.get("virt_driver", "auto")
    if vd == "fake":
        out.append("VIRT_DRIVER=fake")
    else:
        out.append("VIRT_DRIVER=libvirt")
        if vd in ("qemu", "kvm"):
            out.append(f"LIBVIRT_TYPE={vd}")
    if d.get("workers") not in (None, "auto"):
        out.append(f"API_WORKERS={_q(d['workers'])}")
    out.append(f"VOLUME_BACKING_FILE_SIZE={_q(d.get('volume_backing_file_size', '24G'))}")

    services = list(catalog.expand(d.get("enabled_services") or []))
    if d.get("database") == "mysql":
        out.append("DATABASE_TYPE=mysql")
        if "mysql" not in services:
            services.append("mysql")
    else:
        out.append("# stack.sh needs MySQL; stacktui runs this stack on SQLite.")
        out.append("STACKTUI_DATABASE=sqlite")
        if "mysql" not in services:
            services.append("mysql")
    for svc, port in sorted((d.get("ports") or {}).items()):
        if svc in catalog.SERVICES and port and port != catalog.get(svc).port:
            out.append(f"{_port_var(svc)}={_q(port)}")
    for proj, spec in (d.get("sources") or {}).items():
        prefix = SOURCE_PREFIX.get(proj)
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
        if svc not in catalog.LIBVIRT_DAEMONS:
            out.append(f"enable_service {svc}")
    for target, sections in (d.get("post_config") or {}).items():
        out.append("")
        out.append(f"[[post-config|{target}]]")
        for sec, opts in (sections or {}).items():
            out.append(f"[{sec}]")
            for opt, val in (opts or {}).items():
                out.append(f"{opt} = {_export_value(str(val))}")
    return "\n".join(out) + "\n"


def answers_defaults() -> dict:
    return copy.deepcopy(DEFAULTS)
