"""Run by tests/test_config_paths.py with the stack venv's python (the
services' packages live there, not in the test venv): load one service's
config files the way the service does, with its own registered options, and
print every option whose effective value names a file or folder.

One service per process, as each service runs alone: importing several
projects' option lists into one interpreter makes their registrations on
oslo.config's global CONF collide.

    python config_paths_probe.py SPEC.json
        SPEC: {"project", "namespaces", "modules", "variants": {name: [files]}}
    python config_paths_probe.py --horizon PYTHONPATH

It only reports (JSON on stdout); the test decides what is outside DEST and
what is allowed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
import warnings
from importlib.metadata import entry_points

warnings.simplefilter("ignore")

# Option names that hold a file or folder even when their value is relative
# (oslo.config's find_file then looks in the config files' folders, then in
# ~/.<project>, ~, /etc/<project> and /etc).
PATH_NAME = re.compile(r"(_path|_paths|_dir|_dirs|_file|_files|_repository|_folder|_location|"
                       r"_root|_config|_conf|_datadir|_template|^tempdir|^bindir|^pybasedir)$")
SCHEMES = re.compile(r"^(file|sqlite[^:]*|unix):/*", re.I)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def candidates(name: str, value) -> list[dict]:
    """The path-like strings in one option's value."""
    out = []
    pathy = bool(PATH_NAME.search(name))
    for s in _strings(value):
        s = s.strip()
        if not s:
            continue
        m = SCHEMES.match(s)
        if m:
            # sqlite:////abs, file:///abs, unix:/abs: keep one leading slash.
            rest = s[m.end():]
            if s.lower().startswith("sqlite") and s[m.end() - 4:m.end()] != "////":
                # sqlite:///relative (three slashes) is relative to the cwd;
                # sqlite:// alone is in memory.
                if not rest or rest.startswith(":memory:"):
                    continue
                out.append({"value": s, "path": rest, "relative": True})
                continue
            out.append({"value": s, "path": "/" + rest.split("?")[0], "relative": False})
        elif s.startswith("/"):
            out.append({"value": s, "path": s, "relative": False})
        elif pathy and "://" not in s and not s.startswith("$") and (
                "/" in s or "." in s or s.endswith(".d")):
            out.append({"value": s, "path": s, "relative": True})
    return out


class _StubMeta(type):
    """Anything reached through a stub: a class that can be called,
    subclassed, used as a decorator, and has every attribute."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _StubMeta(name, (), {})

    def __call__(cls, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]
        return _StubMeta("instance", (), {})

    def __iter__(cls):
        return iter(())

    def __or__(cls, other):
        return cls


class _StubModule(types.ModuleType):
    __path__: list = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _StubMeta(name, (), {})


def _with_stubs(fn, stubbed: list):
    """Call ``fn``, standing in for modules that are not installed.

    cinder's option list imports every volume and backup driver, and some of
    them import client libraries of storage products (googleapiclient ...)
    that cinder does not require and the stack venv does not have. Only their
    option lists are wanted here, so a missing module gets an empty stand-in,
    as often as needed."""
    for _ in range(200):
        try:
            return fn()
        except ModuleNotFoundError as e:
            if not e.name or e.name in sys.modules:
                raise
            parts = e.name.split(".")
            for i in range(1, len(parts) + 1):
                name = ".".join(parts[:i])
                if name not in sys.modules:
                    sys.modules[name] = _StubModule(name)
                    if i > 1:
                        setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1],
                                sys.modules[name])
            stubbed.append(e.name)
    raise RuntimeError("too many missing modules")


def load_set(spec: dict) -> dict:
    """One service: its options gathered once, then each variant's files
    (``spec["variants"]``: name -> files) read into a ConfigOpts of its own."""
    missing, errors, stubbed = [], [], []
    # The service's modules first, as its processes import them (nova's
    # commands refuse to load once something else has imported eventlet).
    _import_modules(spec.get("modules", ()), stubbed, errors)
    listed = []
    for ns in spec["namespaces"]:
        eps = entry_points(group="oslo.config.opts", name=ns)
        if not eps:
            missing.append(ns)
        for ep in eps:
            try:
                # Lists, not the iterators some projects return: each variant
                # goes through them again.
                listed += [(g, list(o)) for g, o in _with_stubs(lambda: ep.load()(), stubbed)]
            except Exception as e:  # noqa: BLE001 - reported, the test fails on it
                errors.append(f"namespace {ns}: {type(e).__name__}: {e}")
    return {"missing_namespaces": missing, "stubbed": stubbed,
            "variants": {name: _audit(spec["project"], listed, files, list(errors))
                         for name, files in spec["variants"].items()}}


def _audit(project: str, listed, files: list[str], errors: list) -> dict:
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    registered = 0
    for group, opts in listed:
        # Some projects list their top-level options under "DEFAULT".
        if getattr(group, "name", group) in (None, "DEFAULT"):
            group = None
        for opt in opts:
            if opt.dest in ("config_file", "config_dir"):
                continue    # ConfigOpts makes these itself when called
            try:
                conf.register_opt(opt, group=group)
                registered += 1
            except cfg.DuplicateOptError:
                pass    # two namespaces list one option; the first is kept
    from_modules = _merge_module_opts(conf)
    # Required options of middleware a service does not load (an option
    # namespace lists every middleware of a library) are not this audit's concern.
    conf._check_required_opts = lambda namespace=None: None
    conf(args=[], project=project, default_config_files=files,
         default_config_dirs=[], use_env=False, validate_default_values=False)
    DYNAMIC.get(project, lambda c: None)(conf)
    paths = []
    for gname in [None] + sorted(conf._groups):
        opts = conf._opts if gname is None else conf._groups[gname]._opts
        for oname in sorted(opts):
            opt = opts[oname]["opt"]
            if isinstance(opt, cfg.SubCommandOpt):
                continue
            try:
                value = conf[oname] if gname is None else conf[gname][oname]
            except Exception as e:  # noqa: BLE001 - an unparsable value is a finding too
                errors.append(f"[{gname or 'DEFAULT'}] {oname}: {type(e).__name__}: {e}")
                continue
            for c in candidates(oname, value):
                c.update(group=gname or "DEFAULT", option=oname,
                         set=_is_set(conf, gname, oname), default=_text(opt.default))
                paths.append(c)
    return {"paths": paths, "errors": errors, "registered": registered,
            "from_modules": from_modules, "read": list(conf.config_file)}


def _import_modules(modules, stubbed: list, errors: list) -> None:
    import importlib
    for m in modules:
        try:
            _with_stubs(lambda: importlib.import_module(m), stubbed)
        except BaseException as e:  # noqa: BLE001 - SystemExit included: reported
            errors.append(f"module {m}: {type(e).__name__}: {e}")


def _merge_module_opts(conf) -> list[str]:
    """Options the service's own modules registered on oslo.config's global
    CONF when imported, beyond those its generator namespaces list (glance's
    metadata_source_path is one: glance-manage reads it, no namespace has it)."""
    from oslo_config import cfg
    added = []
    for gname, table in [(None, cfg.CONF._opts)] + [(g, grp._opts) for g, grp in
                                                     cfg.CONF._groups.items()]:
        mine = conf._opts if gname is None else (
            conf._groups[gname]._opts if gname in conf._groups else {})
        for name, entry in table.items():
            if name in mine or entry.get("cli") or isinstance(entry["opt"], cfg.SubCommandOpt):
                continue
            if entry["opt"].dest in ("config_file", "config_dir"):
                continue
            try:
                conf.register_opt(entry["opt"], group=gname)
                added.append(f"[{gname or 'DEFAULT'}] {name}")
            except cfg.DuplicateOptError:
                pass
    return added


def _glance_stores(conf) -> None:
    """glance-api registers each enabled store's options under the store's
    own name, and its reserved staging and tasks stores, once the config is
    read (glance.common.wsgi_app)."""
    import glance_store
    try:
        from glance.common.wsgi_app import RESERVED_STORES
    except ImportError:
        RESERVED_STORES = {"os_glance_staging_store": "file", "os_glance_tasks_store": "file"}
    glance_store.register_store_opts(conf, reserved_stores=RESERVED_STORES)


def _cinder_backends(conf) -> None:
    """cinder-volume reads each enabled backend's section with the options
    of [backend_defaults] (cinder.volume.configuration): a backend section
    falls back to them."""
    import copy
    shared = conf._groups.get("backend_defaults")
    for name in conf.enabled_backends or []:
        for entry in (shared._opts.values() if shared else ()):
            try:
                conf.register_opt(copy.deepcopy(entry["opt"]), group=name)
            except Exception:  # noqa: BLE001 - already there
                pass


DYNAMIC = {"glance": _glance_stores, "cinder": _cinder_backends}


def _is_set(conf, group, name) -> bool:
    """Whether a config file sets the option (else its value is the default)."""
    try:
        loc = conf.get_location(name, group)
    except Exception:  # noqa: BLE001
        return False
    from oslo_config import cfg
    return loc is not None and loc.location == cfg.Locations.user


def _text(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)


def horizon(spec: dict) -> dict:
    """Django's settings as horizon's uwsgi would have them: local_settings from
    DEST/etc/horizon on PYTHONPATH."""
    sys.path.insert(0, spec["pythonpath"])
    os.environ["DJANGO_SETTINGS_MODULE"] = "openstack_dashboard.settings"
    from django.conf import settings
    import django
    django.setup()
    paths = []
    for name in sorted(dir(settings)):
        if not name.isupper():
            continue
        value = getattr(settings, name)
        for s in _strings(value):
            if isinstance(s, str) and (s.startswith("/") or s.startswith("file:")):
                paths.append({"option": name, "value": s, "path": s, "relative": False})
        if value is None and name == "FILE_UPLOAD_TEMP_DIR":
            # Django then writes uploads over 2.5 MB to the system's temp folder.
            import tempfile
            paths.append({"option": name, "value": None, "path": tempfile.gettempdir(),
                          "relative": False})
        elif value is None and re.search(r"(_DIR|_ROOT|_PATH|_FILE)$", name):
            paths.append({"option": name, "value": None, "path": None, "relative": False})
    return {"paths": paths, "local_settings": sys.modules["local.local_settings"].__file__}


def swift(confs: list[str]) -> dict:
    """Each swift server's WSGI app built from its paste.deploy file as the
    server builds it (swift.common.wsgi.loadapp; nothing listens), then every
    absolute path held by the pipeline's objects: what the configs set and
    the defaults swift's code falls back to (/etc/swift, /srv/node,
    /var/cache/swift ...)."""
    from swift.common import utils, wsgi
    paths, seen = [], set()

    def walk(obj, where, depth):
        if id(obj) in seen or depth > 3:
            return
        seen.add(id(obj))
        for k, v in (vars(obj).items() if hasattr(obj, "__dict__") else ()):
            if k in ("app", "_app"):
                continue
            if isinstance(v, str):
                if v.startswith("/"):
                    paths.append({"option": f"{where}.{k}", "value": v, "path": v,
                                  "relative": False})
            elif isinstance(v, dict):
                for dk, dv in v.items():
                    if isinstance(dv, str) and dv.startswith("/"):
                        paths.append({"option": f"{where}.{k}[{dk}]", "value": dv, "path": dv,
                                      "relative": False})
            elif type(v).__module__.startswith(("swift.", "keystonemiddleware.")):
                walk(v, f"{where}.{k}", depth + 1)

    apps = {}
    for conf in confs:
        # As the server's start (wsgi._initrp): swift.conf from swift_dir, and
        # the log hook stacktui writes beside the configs importable.
        swift_dir = wsgi.appconfig(conf).get("swift_dir")
        utils.set_swift_dir(swift_dir)
        sys.path.insert(0, swift_dir)
        app = wsgi.loadapp(conf, allow_modify_pipeline=False)
        # Each middleware of the pipeline, then the server's own app.
        chain = [app]
        # keystonemiddleware keeps the next app as _app.
        while (getattr(chain[-1], "app", None) or getattr(chain[-1], "_app", None)) is not None:
            chain.append(getattr(chain[-1], "app", None) or chain[-1]._app)
        apps[conf] = type(chain[-1]).__module__
        for obj in chain:
            walk(obj, f"{os.path.basename(conf)}:{type(obj).__name__}", 0)
        # What the server itself reads beside its app (the [DEFAULT] and app section).
        for k, v in wsgi.appconfig(conf).items():
            if isinstance(v, str) and v.startswith("/") and k not in ("__file__", "here"):
                paths.append({"option": f"{os.path.basename(conf)}:{k}", "value": v, "path": v,
                              "relative": False})
    paths.append({"option": "swift.conf", "value": utils.SWIFT_CONF_FILE,
                  "path": utils.SWIFT_CONF_FILE, "relative": False})
    return {"paths": paths, "apps": apps}


def main() -> None:
    if sys.argv[1] == "--horizon":
        out = horizon({"pythonpath": sys.argv[2]})
    elif sys.argv[1] == "--swift":
        out = swift(sys.argv[2:])
    else:
        out = load_set(json.loads(open(sys.argv[1]).read()))
    out["python"] = sys.executable
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
