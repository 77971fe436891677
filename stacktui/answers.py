"""The answers: one YAML file (stacktui.yaml) plus secrets.yaml beside it.

Load, validate (everything before anything is touched), fill defaults the way
DevStack's stackrc does, generate missing passwords, save. Validation reports
every problem at once with file, line and key, so a user fixes them in one go.
"""

from __future__ import annotations

# yaml, difflib, ipaddress and secrets are imported where they are used: the
# TUI imports this module before its first paint, which needs only DEFAULTS
# and default_dest(), and each costs milliseconds there.
import copy
import re
import os
import string
from dataclasses import dataclass, field
from pathlib import Path

from . import catalog, hostinfo
from .errors import Problem, UserError
from .fsutil import atomic_write

ANSWERS_NAME = "stacktui.yaml"
SECRETS_NAME = "secrets.yaml"
# The password kinds every stack has (DevStack's ADMIN_, DATABASE_ and
# SERVICE_PASSWORD); a spec adds a kind of its own (ServiceSpec.password).
BASE_PASSWORD_KEYS = ("admin", "database", "service")
PASSWORD_LENGTH = 32
# Letters and digits only for generated passwords: they survive every shell,
# URL and ini file untouched. Passwords users type may hold any printable.
_ALPHABET = string.ascii_letters + string.digits

DEFAULTS: dict = {
    "dest": None,                      # /opt/stack or $XDG_DATA_HOME/stacktui/stack
    "host_ip": None,                   # address of the default-route interface
    "service_ip_version": 4,
    "fixed_range": "10.0.0.0/22",      # DevStack IPV4_ADDRS_SAFE_TO_USE
    "floating_range": "172.24.4.0/24",
    "public_interface": "",
    "database": "sqlite",
    "profile": None,                   # minimal or devstack: the services, unless listed
    "enabled_services": list(catalog.PROFILES[catalog.DEFAULT_PROFILE]),
    "ports": {},
    "restart": {},                     # service (or all) -> never | on-failure | {policy, backoff}
    "sources": {},                     # project -> {git: URL, branch: REF}; default PyPI
    "region": "RegionOne",
    "virt_driver": "auto",             # auto, fake, qemu, kvm
    "image_urls": None,                # DevStack IMAGE_URLS; None = the guest built offline
    "workers": "auto",                 # API workers per service
    "volume_backing_file_size": "24G",
    "post_config": {},                 # file or $VAR -> {section: {option: value}}
    "passwords": {},
}
KEYS = tuple(DEFAULTS)
SOURCE_KEYS = ("git", "branch", "version")
VIRT_DRIVERS = ("auto", "fake", "qemu", "kvm")


@dataclass
class Answers:
    data: dict = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    path: Path | None = None            # the answers file, when there is one
    secrets_path: Path | None = None    # where generated passwords are saved
    generated: list[str] = field(default_factory=list)  # password keys made up here
    given: set = field(default_factory=set)             # keys the user wrote down

    # The answers keys, typed (validation has made them so; see DEFAULTS).
    @property
    def host_ip(self) -> str:
        return self.data["host_ip"]

    @property
    def service_ip_version(self) -> int:
        return int(self.data["service_ip_version"])

    @property
    def fixed_range(self) -> str:
        return self.data["fixed_range"]

    @property
    def floating_range(self) -> str:
        return self.data["floating_range"]

    @property
    def public_interface(self) -> str:
        return self.data["public_interface"]

    @property
    def database(self) -> str:
        return self.data["database"]

    @property
    def profile(self) -> str | None:
        return self.data.get("profile")

    @property
    def enabled_services(self) -> list[str]:
        return self.data["enabled_services"]

    @property
    def ports(self) -> dict[str, int]:
        return self.data["ports"]

    @property
    def restart(self) -> dict[str, dict]:
        """Checked restart policies: service (or ``all``) -> {policy, backoff}."""
        return self.data.get("restart") or {}

    def restart_for(self, pane: str) -> dict | None:
        """The pane's policy for panes.json, its own or ``all``'s; None: never."""
        r = self.restart
        return r.get(pane) or r.get("all")

    @property
    def sources(self) -> dict[str, dict]:
        return self.data["sources"]

    @property
    def region(self) -> str:
        return self.data["region"]

    @property
    def virt_driver(self) -> str:
        return self.data["virt_driver"]

    @property
    def workers(self) -> int | str:
        return self.data["workers"]

    @property
    def volume_backing_file_size(self) -> str:
        return self.data["volume_backing_file_size"]

    @property
    def post_config(self) -> dict[str, dict]:
        return self.data["post_config"]

    @property
    def passwords(self) -> dict[str, str]:
        return self.data["passwords"]

    @property
    def dest(self) -> Path:
        return Path(self.data["dest"])

    @property
    def services(self) -> list[str]:
        return catalog.ordered(self.enabled_services)

    def port(self, service: str) -> int:
        return int(self.ports.get(service) or catalog.get(service).port)

    def password(self, key: str) -> str:
        return self.passwords[key]

    @property
    def secret_values(self) -> list[str]:
        return [v for v in self.passwords.values() if v]

    @property
    def bind_host(self) -> str:
        """The address services listen on: HOST_IP, never a wildcard, so a
        host with IPv6 does not end up with services on IPv6 only."""
        return self.host_ip

    def url_host(self) -> str:
        ip = self.host_ip
        return f"[{ip}]" if ":" in ip else ip

    def public_dict(self) -> dict:
        """The answers without passwords: what goes to stacktui.yaml and state."""
        d = copy.deepcopy(self.data)
        d.pop("passwords", None)
        if d.get("profile") is None:
            d.pop("profile", None)
        if not d.get("restart"):
            d.pop("restart", None)      # unset: files and fingerprints as before the key existed
        return d

    def to_yaml(self) -> str:
        import yaml
        return yaml.safe_dump(self.public_dict(), sort_keys=False, default_flow_style=False)

    def secrets_yaml(self) -> str:
        import yaml
        return yaml.safe_dump({"passwords": dict(self.data["passwords"])}, sort_keys=False,
                              allow_unicode=True, default_style=None)


# ---------------------------------------------------------------- defaults

def default_dest() -> Path:
    from .destdir import choose
    return choose()[0]


def spec_passwords():
    """The password kinds the service specs add (stacktui.service.Password)."""
    from . import registry
    registry.load_plugins()
    return [s.password for s in registry.specs().values() if s.password]


def password_kinds() -> tuple[str, ...]:
    """The passwords a person chooses, in the order DevStack's sample
    local.conf lists them: admin, database, the specs' own, service."""
    own = tuple(p.key for p in spec_passwords())
    return BASE_PASSWORD_KEYS[:2] + own + BASE_PASSWORD_KEYS[2:]


def generate_password() -> str:
    import secrets
    rng = secrets.SystemRandom()
    return "".join(rng.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))


# ---------------------------------------------------------------- loading

class _Marks:
    """Line and column of each key in a YAML document, from its node tree."""

    def __init__(self, text: str):
        import yaml
        self.marks: dict[tuple, tuple[int, int]] = {}
        try:
            node = yaml.compose(text)
        except yaml.YAMLError:
            return
        self._walk(node, ())

    def _walk(self, node, path):
        import yaml
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = path + (k.value,)
                self.marks[key] = (k.start_mark.line + 1, k.start_mark.column + 1)
                self._walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self.marks[path + (i,)] = (v.start_mark.line + 1, v.start_mark.column + 1)
                self._walk(v, path + (i,))

    def at(self, *path) -> tuple[int | None, int | None]:
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return (None, None)


def _read_yaml(path: Path) -> tuple[dict, _Marks]:
    import yaml
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(Problem("file not found", file=str(path),
                                fix="give an existing answers file, or run "
                                    "`stacktui answers --template -o stacktui.yaml`")) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(Problem(f"cannot read: {e}", file=str(path))) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        what = getattr(e, "problem", None) or str(e)
        raise UserError(Problem(f"YAML syntax error: {what}", file=str(path),
                                line=mark.line + 1 if mark else None,
                                column=mark.column + 1 if mark else None,
                                fix="check indentation and quoting; quote values holding ':' or '#'"))\
            from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(Problem("the file must be a mapping of keys to values", file=str(path),
                                line=1, fix="start it with `dest: /opt/stack` style lines"))
    return data, _Marks(text)


def _refuse_control_characters(data: dict, bad) -> None:
    """Every answer ends up in a config file, a shell-free command line or
    a YAML file; a newline or carriage return in a section, option, region
    or path would start a line of its own there (an injected
    `[database] connection`). Keys and values alike must be printable:
    str.isprintable() refuses C0/C1 controls, line and paragraph
    separators and format characters (bidi overrides). Passwords are
    checked where they are read."""
    def walk(v, path: tuple) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str) and not k.isprintable():
                    bad(path + (k,), f"the name {k!r} holds a control character or line separator",
                        "use printable characters only")
                    continue
                walk(x, path + (k,))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, path + (i,))
        elif isinstance(v, str) and not v.isprintable():
            bad(path, f"{v!r} holds a control character or line separator",
                "use printable characters only")

    for k, v in data.items():
        if k != "passwords":
            walk(v, (k,))


def load(path: str | Path | None = None, *, dest: str | Path | None = None,
         overrides: dict | None = None) -> Answers:
    """Answers from ``path`` (and secrets.yaml beside it), or the defaults.

    Raises UserError listing every problem; nothing is written here.
    """
    import difflib
    data: dict = {}
    marks = _Marks("")
    secrets: dict = {}
    secrets_marks = _Marks("")
    ans_path = Path(path).resolve() if path else None
    if ans_path:
        data, marks = _read_yaml(ans_path)
        sp = ans_path.parent / SECRETS_NAME
        if sp.exists():
            secrets, secrets_marks = _read_yaml(sp)
    if overrides:
        data.update(overrides)
    if dest is not None:
        data["dest"] = str(dest)
    problems: list[Problem] = []
    where = str(ans_path) if ans_path else None

    def bad(key_path: tuple, message: str, fix: str | None = None, file=None, m=None):
        line, col = (m or marks).at(*key_path)
        problems.append(Problem(message, file=file or where, line=line, column=col,
                                key=".".join(str(k) for k in key_path), fix=fix))

    for k in data:
        if k not in DEFAULTS:
            close = difflib.get_close_matches(str(k), KEYS, n=1)
            bad((k,), "unknown key",
                f"did you mean `{close[0]}`?" if close else f"valid keys: {', '.join(KEYS)}")

    _refuse_control_characters(data, bad)

    out = copy.deepcopy(DEFAULTS)
    for k, v in data.items():
        if k in DEFAULTS and v is not None:
            out[k] = v

    # passwords: answers file first, secrets.yaml fills the rest
    pw = out.get("passwords") or {}
    if not isinstance(pw, dict):
        bad(("passwords",), "must be a mapping", "e.g. `passwords: {admin: ...}`")
        pw = {}
    spw = secrets.get("passwords", secrets) if isinstance(secrets, dict) else {}
    if not isinstance(spw, dict):
        spw = {}
    merged: dict = {}
    chosen_at: dict = {}          # password kind -> where it was set
    keys = password_keys()
    for src, src_marks, src_file in ((spw, secrets_marks, str(ans_path.parent / SECRETS_NAME)
                                      if ans_path else None), (pw, marks, where)):
        for k, v in src.items():
            kp = ("passwords", k) if src is pw or "passwords" in secrets else (k,)
            if k not in keys:
                close = difflib.get_close_matches(str(k), keys, n=1)
                bad(kp, "unknown password key",
                    f"did you mean `{close[0]}`?" if close else f"use {', '.join(keys)}",
                    file=src_file, m=src_marks)
                continue
            if v is None or v == "":
                continue
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                bad(kp, "must be a string", "quote it", file=src_file, m=src_marks)
                continue
            v = str(v)
            if not v.isprintable():
                bad(kp, "holds a control character (tab, newline, ...)",
                    "use printable characters only", file=src_file, m=src_marks)
                continue
            merged[k] = v
            chosen_at[k] = (kp, src_file, src_marks)
    out["passwords"] = merged

    _validate(out, bad, given=set(data))
    for p in spec_passwords():
        why = p.problem and p.problem(merged.get(p.key, ""), out.get("enabled_services") or ())
        if why and p.key in chosen_at:
            kp, src_file, src_marks = chosen_at[p.key]
            bad(kp, why, p.fix, file=src_file, m=src_marks)
    if problems:
        raise UserError(problems)

    ans = Answers(out, path=ans_path, given=set(data))
    ans.secrets_path = (ans_path.parent / SECRETS_NAME) if ans_path else None
    for k in password_keys(ans.services):
        if k not in out["passwords"]:
            out["passwords"][k] = generate_password()
            ans.generated.append(k)
    return ans


def _validate(out: dict, bad, given: set = frozenset()) -> None:
    import difflib
    import ipaddress

    from . import registry
    registry.load_plugins()     # their services are names the answers may use

    # dest
    if out["dest"] in (None, ""):
        out["dest"] = str(default_dest())
    elif not isinstance(out["dest"], str) or not os.path.isabs(os.path.expanduser(out["dest"])):
        bad(("dest",), f"must be an absolute path, got {out['dest']!r}", "e.g. /opt/stack")
    else:
        out["dest"] = os.path.expanduser(out["dest"])
        from .destdir import problem
        why = problem(out["dest"])
        if why:
            bad(("dest",), *why)

    v = out["service_ip_version"]
    if v not in (4, 6, "4", "6"):
        bad(("service_ip_version",), f"must be 4 or 6, got {v!r}")
    else:
        out["service_ip_version"] = int(v)

    # host_ip
    local = hostinfo.local_addresses()
    if out["host_ip"] in (None, ""):
        out["host_ip"] = hostinfo.default_host_ip(out["service_ip_version"]
                                                  if isinstance(out["service_ip_version"], int) else 4)
    else:
        try:
            ip = ipaddress.ip_address(str(out["host_ip"]))
            out["host_ip"] = str(ip)
            if str(ip) not in local:
                bad(("host_ip",), f"{ip} is not an address of this machine",
                    f"use one of {', '.join(sorted(local))}")
            elif isinstance(out["service_ip_version"], int) and ip.version != out["service_ip_version"]:
                bad(("host_ip",), f"{ip} is IPv{ip.version} but service_ip_version is "
                                  f"{out['service_ip_version']}",
                    "make them agree")
        except ValueError:
            bad(("host_ip",), f"not an IP address: {out['host_ip']!r}", "e.g. 192.168.1.10")

    nets = {}
    for key in ("fixed_range", "floating_range"):
        try:
            nets[key] = ipaddress.ip_network(str(out[key]), strict=True)
            out[key] = str(nets[key])
        except ValueError as e:
            bad((key,), f"not a valid CIDR: {out[key]!r} ({e})", "e.g. 10.0.0.0/22")
    for key, net in list(nets.items()):
        # Ranges neutron could not use: an IPv6 range (DevStack's FIXED_RANGE
        # and FLOATING_RANGE are IPv4; IPv6 has its own), addresses no guest
        # or router may hold, and nets too small for a gateway, DHCP and a port.
        if net.version != 4:
            bad((key,), f"{net} is an IPv6 range; {key} is IPv4", "e.g. 10.0.0.0/22")
        elif net.is_loopback or net.is_multicast or net.is_link_local or net.is_unspecified \
                or net.is_reserved:
            kind = ("loopback" if net.is_loopback else "multicast" if net.is_multicast else
                    "link-local" if net.is_link_local else "reserved")
            bad((key,), f"{net} is a {kind} range: no guest or router can use its addresses",
                "e.g. 10.0.0.0/22 or 172.24.4.0/24")
        elif net.prefixlen > 29:
            bad((key,), f"{net} is too small: a /{net.prefixlen} leaves "
                        f"{max(0, net.num_addresses - 2)} usable addresses, and neutron needs a "
                        "gateway, DHCP and ports", "use a /29 or larger, e.g. a /24")
        else:
            continue
        del nets[key]
    if len(nets) == 2 and nets["fixed_range"].version == nets["floating_range"].version \
            and nets["fixed_range"].overlaps(nets["floating_range"]):
        bad(("floating_range",), f"{nets['floating_range']} overlaps fixed_range {nets['fixed_range']}",
            "choose ranges that do not share addresses")
    for key, net in nets.items():
        for hn in hostinfo.local_networks():
            if hn.version == net.version and net.overlaps(hn) and not hn.is_loopback:
                bad((key,), f"{net} overlaps this host's network {hn}",
                    "choose a range the host does not use")

    if not isinstance(out["public_interface"], str):
        bad(("public_interface",), "must be an interface name or empty")
    elif out["public_interface"] and out["public_interface"] not in hostinfo.interfaces():
        bad(("public_interface",), f"no interface {out['public_interface']!r} on this machine",
            f"use one of {', '.join(hostinfo.interfaces())} or leave it empty")

    kinds = ("sqlite", *(s.database_type for s in registry.specs().values() if s.database_type))
    if out["database"] not in kinds:
        bad(("database",), f"must be {' or '.join(kinds)}, got {out['database']!r}")

    prof = out["profile"]
    if prof is not None:
        if prof not in catalog.PROFILES:
            bad(("profile",), f"unknown profile {prof!r}", f"one of {', '.join(catalog.PROFILES)}")
        elif "enabled_services" not in given:
            keep, _left_out = catalog.profile_services(prof)
            out["enabled_services"] = keep
            if prof == "devstack" and "database" not in given:
                out["database"] = kinds[-1]     # DevStack's own: MySQL
    svcs = out["enabled_services"]
    if isinstance(svcs, str):
        svcs = [s.strip() for s in svcs.split(",") if s.strip()]
    if not isinstance(svcs, list) or not all(isinstance(s, str) for s in svcs):
        bad(("enabled_services",), "must be a list of DevStack short names", "e.g. [key, g-api]")
        svcs = []
    names = []
    for i, s in enumerate(svcs):
        if s in catalog.RETIRED:
            bad(("enabled_services", i), f"{s}: {catalog.RETIRED[s]}", "remove it")
        elif s not in catalog.SERVICES and s not in catalog.GROUPS:
            close = difflib.get_close_matches(s, list(catalog.SERVICES) + list(catalog.GROUPS), n=1)
            bad(("enabled_services", i), f"unknown service {s!r}",
                f"did you mean `{close[0]}`?" if close else "see `stacktui services`")
        else:
            names.extend(catalog.expand([s]))
    db = registry.database_service(out["database"])
    if db and db not in names:
        names.append(db)
    if out["virt_driver"] in VIRT_DRIVERS:
        for spec in registry.specs().values():
            if spec.adjust_services:
                names = spec.adjust_services(names, out)
    # Names that wire services together rather than run anything
    # (placement-client): accepted, and nothing to deploy.
    names = [n for n in names if n not in catalog.WIRING]
    for n in names:
        svc = catalog.get(n)
        if not svc.implemented:
            bad(("enabled_services",), f"{n} ({svc.title}) is not deployable by this stacktui "
                                       "version yet", "remove it from enabled_services")
    for n, miss in catalog.missing_needs(names).items():
        bad(("enabled_services",), f"{n} needs {', '.join(miss)}",
            f"add {', '.join(miss)} to enabled_services")
    out["enabled_services"] = catalog.ordered(dict.fromkeys(names))

    ports = out["ports"]
    if not isinstance(ports, dict):
        bad(("ports",), "must be a mapping of service name to port", "e.g. {key: 5000}")
        ports = {}
    used: dict[int, str] = {}
    for n, p in ports.items():
        if n not in catalog.SERVICES or catalog.get(n).port is None:
            close = difflib.get_close_matches(str(n), [s for s, v in catalog.SERVICES.items() if v.port],
                                              n=1)
            bad(("ports", n), "not a service with a port",
                f"did you mean `{close[0]}`?" if close else None)
        elif isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
            bad(("ports", n), f"must be a port number 1-65535, got {p!r}")
    merged = {n: ports.get(n) or catalog.get(n).port for n in out["enabled_services"]
              if catalog.get(n).port}
    for n, p in merged.items():
        if isinstance(p, int) and p in used:
            bad(("ports", n), f"port {p} is also used by {used[p]}", "give each service its own port")
        used[p] = n
    out["ports"] = {**{k: v for k, v in ports.items() if k in catalog.SERVICES}, **merged}

    _validate_restart(out, bad)

    src = out["sources"]
    if not isinstance(src, dict):
        bad(("sources",), "must map a project to {git: URL, branch: REF}")
    else:
        projects = {s.package for s in catalog.SERVICES.values() if s.package} | {"python-openstackclient"}
        for proj, spec in src.items():
            if proj not in projects:
                close = difflib.get_close_matches(str(proj), sorted(projects), n=1)
                bad(("sources", proj), "unknown project",
                    f"did you mean `{close[0]}`?" if close else f"one of {', '.join(sorted(projects))}")
            elif not isinstance(spec, dict) or not set(spec) <= set(SOURCE_KEYS) or \
                    not (spec.get("git") or spec.get("version")):
                bad(("sources", proj), "must be {git: URL, branch: REF} or {version: X.Y.Z}")

    if out["virt_driver"] not in VIRT_DRIVERS:
        bad(("virt_driver",), f"must be auto, fake, qemu or kvm, got {out['virt_driver']!r}")
    urls = out["image_urls"]
    if urls is not None:
        if isinstance(urls, str):
            urls = out["image_urls"] = [u.strip() for u in urls.split(",") if u.strip()]
        if not isinstance(urls, list):
            bad(("image_urls",), "must be a list of image URLs", "e.g. [https://host/image.qcow2]")
        else:
            for i, u in enumerate(urls):
                if not isinstance(u, str) or not re.match(r"^(https?|file)://\S+$", u):
                    bad(("image_urls", i), f"not an http(s) or file URL: {u!r}",
                        "e.g. https://download.cirros-cloud.net/0.6.3/cirros-0.6.3-x86_64-disk.img")
    w = out["workers"]
    if w != "auto" and (isinstance(w, bool) or not isinstance(w, int) or w < 1):
        bad(("workers",), f"must be auto or a positive number, got {w!r}")
    if not isinstance(out["post_config"], dict):
        bad(("post_config",), "must map a config file to {section: {option: value}}")
    if not isinstance(out["region"], str) or not out["region"]:
        bad(("region",), "must be a region name", "e.g. RegionOne")


def _validate_restart(out: dict, bad) -> None:
    """restart: {SERVICE|all: never | on-failure | {policy: on-failure, backoff: SECONDS}},
    normalised to {name: {"policy", "backoff"}}."""
    import difflib

    from .panetypes import DEFAULT_RESTART_BACKOFF, RESTART_BACKOFF_RANGE, RESTART_POLICIES
    raw = out.get("restart")
    if not isinstance(raw, dict):
        bad(("restart",), "must map a service (or all) to never or on-failure",
            "e.g. `restart: {n-cpu: on-failure}` or `restart: {all: on-failure}`")
        out["restart"] = {}
        return
    names = sorted(catalog.SERVICES)
    lo, hi = RESTART_BACKOFF_RANGE
    checked: dict[str, dict] = {}
    for n, v in raw.items():
        if n != "all" and n not in catalog.SERVICES:
            close = difflib.get_close_matches(str(n), names + ["all"], n=1)
            bad(("restart", n), "not a service",
                f"did you mean `{close[0]}`?" if close else "use a service name or `all`")
            continue
        if isinstance(v, str):
            v = {"policy": v}
        if not isinstance(v, dict) or not set(v) <= {"policy", "backoff"}:
            bad(("restart", n), "must be never, on-failure or {policy: on-failure, backoff: SECONDS}",
                f"e.g. `{n}: on-failure`")
            continue
        policy = v.get("policy", "on-failure")
        if policy not in RESTART_POLICIES:
            close = difflib.get_close_matches(str(policy), RESTART_POLICIES, n=1)
            bad(("restart", n) + (("policy",) if "policy" in v and isinstance(raw[n], dict) else ()),
                f"unknown restart policy {policy!r}",
                f"did you mean `{close[0]}`?" if close else "use never or on-failure")
            continue
        backoff = v.get("backoff", DEFAULT_RESTART_BACKOFF)
        if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or \
                not lo <= backoff <= hi:
            bad(("restart", n, "backoff"), f"must be {lo:g} to {hi:g} seconds, got {backoff!r}",
                "the first wait after a failure; it doubles for each failure in a row, up to 60 s")
            continue
        checked[n] = {"policy": policy, "backoff": float(backoff)}
    out["restart"] = checked


# ---------------------------------------------------------------- saving

def save(ans: Answers, path: Path, *, with_secrets: bool = True) -> None:
    """Write stacktui.yaml and (0600) secrets.yaml beside it, atomically."""
    path = Path(path)
    atomic_write(path, ans.to_yaml(), mode=0o644)
    if with_secrets:
        atomic_write(path.parent / SECRETS_NAME, ans.secrets_yaml(), mode=0o600)


def password_keys(services=None) -> tuple[str, ...]:
    """The passwords every stack has, then the secrets the specs declare
    (those of the enabled services' specs when ``services`` is given)."""
    from . import registry
    registry.load_plugins()
    specs = registry.specs().values() if services is None else registry.for_services(services)
    kinds = password_kinds()
    extra = [k for spec in specs for k in spec.secrets if k not in kinds]
    return kinds + tuple(dict.fromkeys(extra))


def save_generated(ans: Answers) -> None:
    """Keep passwords made up for this answers file in secrets.yaml beside it,
    so a rerun uses the same ones (and never rewrites the user's own file)."""
    if not ans.generated or not ans.secrets_path:
        return
    import yaml
    existing = {}
    if ans.secrets_path.exists():
        existing = yaml.safe_load(ans.secrets_path.read_text()) or {}
        existing = existing.get("passwords", existing)
    existing.update({k: ans.password(k) for k in ans.generated})
    atomic_write(ans.secrets_path, yaml.safe_dump({"passwords": existing}, allow_unicode=True),
                 mode=0o600)
