"""Commands that speak other tools' formats: DevStack's local.conf in and
out, a Packstack-style answers template, and a Kolla-Ansible export."""

from __future__ import annotations

import copy
import os
import re
import sys
import tempfile
from pathlib import Path

import yaml

from . import answers, catalog, hostinfo, localconf, paths
from .errors import Problem, UserError
from .fsutil import atomic_write

# Problems that describe this machine or this stacktui version rather than
# the choices themselves: a translation still works with them.
_LENIENT = ("not deployable by this stacktui version", "is not an address of this machine",
            "no interface", "overlaps this host's network", " needs ")


def register(sub) -> None:
    p = sub.add_parser("import-localconf", help="translate a DevStack local.conf into answers",
                       description="Read a DevStack local.conf (or bare localrc) and write "
                                   "stacktui answers plus secrets.yaml (0600) beside them.")
    p.add_argument("file", help="the local.conf or localrc")
    p.add_argument("-o", "--output", default=answers.ANSWERS_NAME,
                   help="answers file to write (default: ./stacktui.yaml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing answers file")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export-localconf", help="write the answers as a DevStack local.conf")
    p.add_argument("--answers", help="answers file (default: ./stacktui.yaml, else the last stack's)")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("answers", help="write a commented answers template (Packstack's "
                                       "--gen-answer-file)")
    p.add_argument("--template", action="store_true", required=True,
                   help="every key with its default; passwords generated into secrets.yaml")
    p.add_argument("-o", "--output", default=answers.ANSWERS_NAME,
                   help="file to write (default: ./stacktui.yaml)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_template)

    p = sub.add_parser("export-kolla", help="write Kolla-Ansible globals.yml, passwords.yml and "
                                            "an all-in-one inventory for the same choices")
    p.add_argument("dir", help="folder to write into (e.g. /etc/kolla)")
    p.add_argument("--answers", help="answers file (default: ./stacktui.yaml, else the last stack's)")
    p.add_argument("--kolla", help="kolla-ansible share folder or source tree (default: found)")
    p.add_argument("--target-distro", choices=sorted(set(("debian", "ubuntu", "rocky", "centos"))),
                   help="distribution of the hosts Kolla deploys to (kolla_base_distro; "
                        "default: this machine's when host_ip is here)")
    p.add_argument("--network-interface", metavar="NAME",
                   help="interface holding host_ip on the target (default: found here when "
                        "host_ip is here)")
    p.set_defaults(func=cmd_export_kolla)


def _say(msg: str) -> None:
    print(f"stacktui: {msg}", file=sys.stderr)


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UserError(Problem("already exists", file=str(path),
                                fix="give another -o, or --force to overwrite"))


# ---------------------------------------------------------------- import

def _output_path(given: str) -> Path:
    out = Path(given)
    if out.is_dir():
        raise UserError(Problem("is a folder", file=str(out),
                                fix=f"give a file name, e.g. -o {out / answers.ANSWERS_NAME}"))
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(Problem("is a file, not a folder", file=str(parent),
                                        fix="give -o a path in a folder"))
            if not os.access(parent, os.W_OK):
                raise UserError(Problem("folder is not writable", file=str(parent)))
            break
    return out


def _check_answers(data: dict, pw: dict, text: str, src: Path) -> None:
    """Refuse (exit 2, nothing written) an import whose answers every other
    command would reject; problems that only describe this machine are
    notes, since a local.conf often comes from another one."""
    with tempfile.TemporaryDirectory() as d:
        try:
            answers.load(None, dest=data.get("dest") or os.path.join(d, "stack"),
                         overrides={**data, "passwords": pw})
            return
        except UserError as e:
            problems = e.problems
    hard = []
    remote = _remote_controller(text)
    if remote and any(" needs " in p.message for p in problems):
        raise UserError(Problem(
            f"describes a node that joins the cloud whose controller is SERVICE_HOST={remote}; "
            "stacktui installs a whole cloud on one machine and does not join another",
            file=str(src), line=localconf.line_of(text, "service_host"),
            fix="import the controller's local.conf instead, or delete ENABLED_SERVICES and "
                "SERVICE_HOST here for a cloud of its own; `stacktui export-kolla` adds "
                "compute hosts to a Kolla inventory"))
    for p in problems:
        if any(s in p.message for s in _LENIENT if s != " needs "):
            _say(f"note: {p.key + ': ' if p.key else ''}{p.message}"
                 + (f" (on this machine; {p.fix})" if p.fix else " (on this machine)"))
            continue
        key = (p.key or "").split(".")[-1]
        var = next(iter(localconf.key_vars(key)), None)
        line = localconf.line_of(text, key)
        hard.append(Problem((f"{var}: " if var and line else "") + p.message, file=str(src),
                            line=line, fix=p.fix))
    if hard:
        raise UserError(hard)


def _remote_controller(text: str) -> str | None:
    """SERVICE_HOST when it names another machine than HOST_IP: the file
    is a compute (or other extra) node of DevStack's multi-node guides."""
    def last(var):
        vals = re.findall(rf"^\s*(?:export\s+)?{var}=[\"']?([^\s\"'#]+)", text, re.M)
        return vals[-1] if vals else None
    sh, hi = last("SERVICE_HOST"), last("HOST_IP")
    if sh and "$" not in sh and sh != hi:
        return sh
    return None


def cmd_import(args) -> int:
    src = Path(args.file)
    try:
        raw = src.read_bytes()
    except FileNotFoundError:
        raise UserError(Problem("file not found", file=str(src))) from None
    except IsADirectoryError:
        raise UserError(Problem("is a folder", file=str(src),
                                fix="give the local.conf file itself")) from None
    except OSError as e:
        raise UserError(Problem(f"cannot read: {e.strerror or e}", file=str(src))) from None
    out = _output_path(args.output)
    data, warnings = localconf.import_localconf(raw, str(src))
    text, _ = localconf.decode(raw, str(src))
    for w in warnings:
        _say(f"warning: {w}")

    secrets_path = out.parent / answers.SECRETS_NAME
    _refuse_overwrite(out, args.force)
    pw = data.pop("passwords", {})
    kept = {}
    if secrets_path.exists():
        if not args.force:
            raise UserError(Problem("already exists and holds the passwords of the answers in "
                                    "that folder", file=str(secrets_path),
                                    fix="give -o in another folder, or --force to write the "
                                        "answers and keep those passwords"))
        try:
            old = yaml.safe_load(secrets_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise UserError(Problem(f"cannot read: {e}", file=str(secrets_path))) from None
        old = old.get("passwords", old) if isinstance(old, dict) else {}
        kept = {k: str(v) for k, v in (old or {}).items() if v not in (None, "")}
        for k, v in kept.items():
            if k in pw and pw[k] != v:
                _say(f"note: {secrets_path} already holds a different {k} password; kept it "
                     f"(a stack set up from that folder uses it), the local.conf's is not used")
        pw = {**pw, **kept}
    generated = [k for k in answers.password_kinds() if k not in pw]
    for k in generated:
        pw[k] = answers.generate_password()
    _check_answers(data, pw, text, src)

    header = (f"# stacktui answers imported from {src} by `stacktui import-localconf`.\n"
              "# Passwords are in secrets.yaml beside this file (mode 0600).\n")
    try:
        atomic_write(out, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                     0o644)
        atomic_write(secrets_path, yaml.safe_dump({"passwords": pw}, sort_keys=False,
                                                  allow_unicode=True), 0o600)
    except OSError as e:
        raise UserError(Problem(f"cannot write: {e.strerror or e}",
                                file=str(e.filename or out))) from None
    print(f"wrote {out} and {secrets_path}")
    if generated:
        _say(f"note: {src} sets no {', '.join(k.upper() + '_PASSWORD' for k in generated)}; "
             f"generated into {secrets_path}")
    return 0


# ---------------------------------------------------------------- loading answers

def _default_answers_path(given: str | None) -> Path:
    if given:
        return Path(given)
    here = Path(answers.ANSWERS_NAME)
    if here.exists():
        return here
    last = paths.last_dest()
    if last and paths.Layout(last).answers_file.exists():
        return paths.Layout(last).answers_file
    raise UserError(Problem("no answers file", file=str(here),
                            fix="give --answers FILE, or create one with "
                                "`stacktui answers --template` or `stacktui import-localconf`"))


def load_for_export(given: str | None) -> answers.Answers:
    """Answers for a translation: choices this machine or this stacktui
    version cannot deploy are fine (another machine, or Kolla, will); any
    other problem is an error. Only passwords from the files are kept."""
    path = _default_answers_path(given)
    try:
        ans = answers.load(path)
        for k in ans.generated:
            ans.passwords.pop(k, None)
        # Values the file leaves to "auto" stay auto in the translation
        # (DevStack computes them the same way), not this machine's values.
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for k in ("dest", "host_ip"):
            if raw.get(k) in (None, ""):
                ans.data[k] = None
        return ans
    except UserError as e:
        hard = [p for p in e.problems if not any(s in p.message for s in _LENIENT)]
        if hard:
            raise UserError(hard) from None
        for p in e.problems:
            if "not deployable by this stacktui version" not in p.message:
                _say(f"note: {p}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data = copy.deepcopy(answers.DEFAULTS)
    data.update({k: v for k, v in raw.items() if v is not None})
    sp = path.parent / answers.SECRETS_NAME
    pw = dict(data.get("passwords") or {})
    if sp.exists():
        s = yaml.safe_load(sp.read_text(encoding="utf-8")) or {}
        s = s.get("passwords", s) if isinstance(s, dict) else {}
        pw = {**{k: str(v) for k, v in s.items() if v not in (None, "")}, **pw}
    data["passwords"] = pw
    data["enabled_services"] = catalog.ordered(catalog.expand(data["enabled_services"]))
    return answers.Answers(data, path=path.resolve())


# ---------------------------------------------------------------- export

def cmd_export(args) -> int:
    ans = load_for_export(args.answers)
    text = localconf.export_localconf(ans)
    if args.output:
        # it holds the passwords, like DevStack's local.conf
        atomic_write(args.output, text, 0o600)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _kolla_services(ans) -> list[str]:
    """The services to export: a profile means its whole list (Kolla deploys
    what this stacktui cannot yet), whatever this machine is."""
    raw = {}
    if ans.path and Path(ans.path).exists():
        raw = yaml.safe_load(Path(ans.path).read_text(encoding="utf-8")) or {}
    prof = raw.get("profile") if isinstance(raw, dict) else None
    if prof in catalog.PROFILES and not raw.get("enabled_services"):
        return [n for n in catalog.PROFILES[prof] if n not in catalog.LEFT_OUT]
    return list(ans.data["enabled_services"])


def cmd_export_kolla(args) -> int:
    ans = load_for_export(args.answers)
    if not ans.data.get("host_ip"):
        ans.data["host_ip"] = hostinfo.default_host_ip(int(ans.data.get("service_ip_version") or 4))
    missing = [k for k in answers.password_kinds() if not ans.passwords.get(k)]
    if missing:
        _say(f"note: the answers have no {', '.join(missing)} password; passwords.yml keeps what "
             "an earlier export wrote there, else Kolla-style new ones")
    from . import kolla
    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        raise UserError(Problem("is a file, not a folder", file=str(out)))
    try:
        files, warnings = kolla.export_kolla(
            ans, out, kolla_path=Path(args.kolla) if args.kolla else None,
            base_distro=args.target_distro, interface=args.network_interface,
            services=_kolla_services(ans))
    except OSError as e:
        raise UserError(Problem(f"cannot write: {e.strerror or e}",
                                file=str(e.filename or out))) from None
    for w in warnings:
        _say(f"warning: {w}")
    for name, p in files.items():
        print(f"wrote {p}")
    print(f"next: read {files['README.md']} (kolla-ansible release, install-deps, "
          "bootstrap-servers, prechecks, deploy, post-deploy)")
    return 0


# ---------------------------------------------------------------- template

_EXPLAIN = {
    "dest": "where everything is installed (DevStack DEST); empty = /opt/stack when writable, "
            "else ~/.local/share/stacktui/stack",
    "host_ip": "address services listen on (DevStack HOST_IP); empty = the default-route "
               "interface's address",
    "service_ip_version": "4 or 6 (DevStack SERVICE_IP_VERSION)",
    "fixed_range": "private network for instances (DevStack IPV4_ADDRS_SAFE_TO_USE)",
    "floating_range": "public / floating IP range (DevStack FLOATING_RANGE)",
    "public_interface": "interface bridged to the public network; empty = none "
                        "(DevStack PUBLIC_INTERFACE)",
    "database": "sqlite or mysql (MariaDB)",
    "enabled_services": "DevStack short names or group names (nova = n-*); see `stacktui services`",
    "ports": "per-service port overrides, e.g. {key: 5001}",
    "restart": "what the supervisor does when a service exits by itself: never (the default) or "
               "on-failure, per service or for all, e.g. {all: on-failure, n-cpu: {policy: "
               "on-failure, backoff: 5}} (the wait doubles for each failure in a row, up to 60 s)",
    "sources": "install a project from git instead of PyPI: {keystone: {git: URL, branch: REF}}, "
               "or pin {version: X.Y.Z}",
    "region": "region name (DevStack REGION_NAME)",
    "virt_driver": "auto, fake, qemu or kvm (auto = kvm when /dev/kvm works, else qemu)",
    "image_urls": "images to download and register, as DevStack's IMAGE_URLS; unset = the "
                  "default guest built offline from Debian packages (stacktui-guest); [] = none",
    "workers": "API workers per service: auto or a number (DevStack API_WORKERS)",
    "volume_backing_file_size": "size of cinder's loop-backed volume file "
                                "(DevStack VOLUME_BACKING_FILE_SIZE)",
    "post_config": "extra config options: {FILE_OR_$VAR: {section: {option: value}}}, e.g. "
                   "{$KEYSTONE_CONF: {token: {expiration: 7200}}} (local.conf's "
                   "[[post-config|...]]); ${SERVICE_PASSWORD} and friends are filled in",
    "passwords": "kept in secrets.yaml beside this file (mode 0600); put them here only if "
                 "you must",
}


def template_text() -> str:
    lines = ["# stacktui answers: every key with its default (stacktui answers --template).",
             "# Edit, then: stacktui install --answers THIS_FILE",
             "# Passwords were generated into secrets.yaml beside this file (mode 0600).", ""]
    auto = {}
    try:
        auto["host_ip"] = hostinfo.default_host_ip(4)
    except Exception:   # a template must not fail on an odd network
        pass
    auto["dest"] = str(answers.default_dest())
    for key, default in answers.DEFAULTS.items():
        if key == "passwords":
            lines.append(f"# {key}: {_EXPLAIN[key]}")
            lines.append("")
            continue
        lines.append(f"# {_EXPLAIN.get(key, key)}")
        if key in auto:
            lines.append(f"# (on this machine now: {auto[key]})")
        if key == "enabled_services":
            lines.append("# profiles: " + "; ".join(f"{n}: {', '.join(v)}"
                                                      for n, v in catalog.PROFILES.items()))
        lines.append(yaml.safe_dump({key: default}, sort_keys=False,
                                    default_flow_style=False).rstrip())
        lines.append("")
    return "\n".join(lines)


def cmd_template(args) -> int:
    out = Path(args.output)
    sp = out.parent / answers.SECRETS_NAME
    _refuse_overwrite(out, args.force)
    _refuse_overwrite(sp, args.force)
    atomic_write(out, template_text(), 0o644)
    pw = {k: answers.generate_password() for k in answers.password_kinds()}
    atomic_write(sp, yaml.safe_dump({"passwords": pw}, sort_keys=False), 0o600)
    print(f"wrote {out} and {sp}")
    return 0
