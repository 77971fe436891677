"""The one loader of services: the built-in modules in ``stacktui.phases``
and every installed package's ``stacktui.services`` entry point (see
``stacktui.service`` for the contract both fill in)."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from importlib.metadata import entry_points

from . import catalog
from .errors import StackError
from .service import ConfigFile, ServiceSpec

ENTRY_POINT_GROUP = "stacktui.services"

_lock = threading.RLock()
_plugins: dict[str, ServiceSpec] | None = None
_plugin_dists: dict[str, str] = {}
_specs: dict[str, ServiceSpec] | None = None


def load_plugins() -> dict[str, ServiceSpec]:
    """Plugin specs by module name, their catalog rows registered. Cheap to
    call again; the views call it before they read the catalog."""
    global _plugins
    with _lock:
        if _plugins is not None:
            return _plugins
        found: dict[str, ServiceSpec] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                spec = ep.load()
            except Exception as e:  # noqa: BLE001 - a broken plugin must not hide the others
                raise StackError(f"the stacktui plugin {ep.value} ({ep.dist.name if ep.dist else '?'}) "
                                 f"does not load: {e}; fix or uninstall it") from e
            if callable(spec) and not isinstance(spec, ServiceSpec):
                spec = spec()
            if not isinstance(spec, ServiceSpec):
                raise StackError(f"the stacktui plugin {ep.value} gives a {type(spec).__name__}, "
                                 "not a stacktui.service.ServiceSpec")
            for row in spec.rows:
                if row.module != spec.name:
                    raise StackError(f"plugin {spec.name}: its row {row.name} names module "
                                     f"{row.module!r}; set module={spec.name!r}")
            catalog.register(spec.rows, api_paths=spec.api_paths)
            found[spec.name] = spec
            _plugin_dists[spec.name] = ep.dist.name if ep.dist else ep.value
        _plugins = found
        return found


def specs() -> dict[str, ServiceSpec]:
    """Every service spec, built-in first, by module name."""
    global _specs
    with _lock:
        if _specs is not None:
            return _specs
        from . import phases
        out: dict[str, ServiceSpec] = {}
        for info in pkgutil.iter_modules(phases.__path__):
            spec = getattr(importlib.import_module(f"{phases.__name__}.{info.name}"), "SPEC", None)
            if isinstance(spec, ServiceSpec):
                out[spec.name] = spec
        for name, spec in load_plugins().items():
            if name in out:
                raise StackError(f"the plugin {_plugin_dists[name]} names its service {name!r}, "
                                 "which is built in; rename it")
            out[name] = spec
        _specs = out
        return out


def get(module: str) -> ServiceSpec:
    try:
        return specs()[module]
    except KeyError:
        raise StackError(f"no service module {module!r}: not built in and no installed plugin "
                         "provides it") from None


def for_services(names) -> list[ServiceSpec]:
    """The specs that deploy ``names``, in the order given, once each."""
    out: list[ServiceSpec] = []
    for s in names:
        m = catalog.get(s).module if s in catalog.SERVICES else None
        if m and all(x.name != m for x in out):
            out.append(get(m))
    return out


def plugin_dist(module: str) -> str | None:
    """The distribution a plugin spec came from; None for a built-in."""
    load_plugins()
    return _plugin_dists.get(module)


def by_devstack_plugin(name: str) -> ServiceSpec | None:
    """The installed spec that stands for DevStack's ``enable_plugin NAME``."""
    for spec in specs().values():
        if name in spec.devstack_plugins:
            return spec
    return None


def database_service(kind: str) -> str | None:
    """The service that is the answers' ``database: KIND``; None for SQLite."""
    spec = database_spec(kind)
    return spec.services[0] if spec else None


def database_spec(kind: str) -> ServiceSpec | None:
    """The spec that is the answers' ``database: KIND`` server; None for SQLite."""
    return next((s for s in specs().values() if s.database_type == kind), None)


def server_database() -> str:
    """The answers' name of the one database server a spec provides (DevStack's
    DATABASE_TYPE)."""
    return next(s.database_type for s in specs().values() if s.database_type)


def devstack_value(var: str) -> str | None:
    """The value of DevStack's variable ``var`` that a spec stands for."""
    return next((s.devstack_values[var] for s in specs().values() if var in s.devstack_values),
                None)


def hidden_services() -> set[str]:
    return {n for s in specs().values() if s.hidden for n in s.services}


def table(field: str) -> dict:
    """One mapping field of every spec merged (``port_vars``, ``kolla_flags``
    ...): what a central table held before the contract."""
    out: dict = {}
    for spec in specs().values():
        out.update(getattr(spec, field))
    return out


def config_files() -> dict[str, ConfigFile]:
    """Every config file a post-config block can name, by its $VARIABLE."""
    return {cf.var: cf for spec in specs().values() for cf in spec.config_files}


def reset() -> None:
    """Forget what was loaded (tests that install a plugin mid-run)."""
    global _plugins, _specs
    with _lock:
        _plugins = _specs = None
