"""The service contract: what a module that deploys an OpenStack service
hands stacktui, written once.

DevStack's equivalent is ``devstack/plugin.sh``, sourced once per phase
(``stack install``, ``stack post-config``, ``stack extra``, ``unstack``,
``clean``). Here a service is a Python module that fills in one
:class:`ServiceSpec`; the engine calls its verbs at the matching step and
every other part of stacktui (the database, the queue, local.conf import and
export, Kolla export, post-config, tempest.conf, verify, the lock) reads the
spec's data instead of a table of its own. A built-in service is a module in
``stacktui.phases`` with a module-level ``SPEC``; a plugin is any installed
package that names its spec under the ``stacktui.services`` entry point::

    # pyproject.toml of the plugin package
    [project.entry-points."stacktui.services"]
    barbican = "stacktui_barbican:SPEC"

Nothing in stacktui changes for a plugin: ``stacktui.registry`` finds both
kinds. A plugin imports only this module (and its own dependencies).

The verbs, in the order a stack runs them (each is optional; ``ctx`` is the
phase API's :class:`Context` (stacktui/context.py), below):

``configure(ctx)``   write the service's config files under ``layout.etc``
                     (DevStack's ``stack post-config``); post-config is
                     merged into them right after
``init(ctx)``        database sync, key repositories: what must exist
                     before the first start
``panes(ctx)``       the processes that are the service, as pane specs
                     (:func:`pane_spec`); the engine starts them, waits for
                     their ``ready`` probe, and restarts them when the specs
                     change (DevStack's ``stack extra`` start)
``accounts(ctx)``    keystone users, services and endpoints
``after_start(ctx)`` what needs the service's own API up (flavors, networks)
``verify(ctx, sess)`` prove the service works with real API calls, ``sess``
                     an admin keystoneauth session
``before_up(answers, layout)`` host state lost on reboot (loop devices,
                     namespaces), put back before ``stacktui up``
``serving(ctx) -> str | None`` after ``up``'s panes answer, wait until the
                     service really serves (a compute node reported); says
                     what it saw
``cleanup(ctx)``     remove what the service left under DEST (``clean``)
``inputs(answers, phase) -> dict`` what the steps' fingerprints cover; the
                     default (:func:`default_inputs`) is the service's ports,
                     network, database, passwords and sources

Everything else is data. The step runs again only when its inputs change, so
a verb must be safe to run twice.

What ``ctx`` gives a verb:

``ctx.answers``, ``ctx.layout``   the answers (``.services``, ``.port(svc)``,
                     ``.password(key)``, ``.region``) and DEST's folders
``ctx.run(argv, env=, cwd=)``, ``ctx.say(text)``, ``ctx.venv_bin(name)``
``ctx.keystone()``   one keystone admin client per run (users, roles, endpoints)
``ctx.endpoint(svc)``   ``http://HOST:PORT`` of a catalog service
``ctx.identity_url()``  keystone's URL (no ``/v3``)
``ctx.db_url(name)``    SQLAlchemy URL of database ``name`` on the answers'
                     database (SQLite under DEST/data, or MariaDB)
``ctx.transport_url()``  oslo.messaging's URL, None when no queue runs
``ctx.authtoken_section(user)``  ``[keystone_authtoken]`` for a service user
``ctx.service_auth(user)``  a keystoneauth password section ([service_auth],
                     [neutron], ...) for a service user
``ctx.uwsgi_argv(svc, app, *extra)``  uwsgi serving ``app`` (``"module:callable"``
                     or the Path of a WSGI file) on the service's port
``ctx.provided(key)``   a value another enabled spec publishes in its
                     ``provides`` (``"ovn_nb"``, ``"ovn_sb"``: OVN's
                     northbound and southbound connections); None if none
``ctx.write_ini(path, sections, mode)``  an oslo.config file: values read back
                     exactly as given (``$`` and quotes escaped), written
                     atomically, never through a symlink planted at ``path``
``ctx.write_file(path, text, mode)``  the same for any file
``ctx.secret(key)``  a generated secret the spec declares in ``secrets``
                     (kept in secrets.yaml, 0600, masked in logs)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import Service
from .context import Context, default_inputs, pane_spec

if TYPE_CHECKING:
    from .answers import Answers
    from .paths import Layout

Verb = Callable[["Context"], Any]

# Catalog names a plugin's rows may list in ``needs``: the identity API and
# the message queue (their modules are built in; the names are DevStack's).
IDENTITY_SERVICE = "key"
MESSAGING_SERVICE = "rabbit"


@dataclass(frozen=True)
class ConfigFile:
    """A config file a ``[[post-config|$VAR]]`` block can name."""
    var: str                     # DevStack's variable: "$GLANCE_API_CONF"
    project: str                 # its directory under DEST/etc
    name: str | None = None      # file name there; None means <project>.conf
    devstack_path: str | None = None   # where DevStack puts it: /etc/glance/glance-api.conf
    kolla: str | None = None     # its override under Kolla's node_custom_config
    # Whose reader the merged values are written for: "oslo" (oslo.config:
    # `$` substitutes), or "paste" (Python's ConfigParser as swift and
    # paste.deploy read it: `%` interpolates in a value that holds `%(`).
    syntax: str = "oslo"


@dataclass(frozen=True)
class Password:
    """A password kind of a service's own beside admin, database and service
    (DevStack's <KIND>_PASSWORD): the user may choose it in the wizard, a
    local.conf or Kolla's passwords.yml, or have one made."""
    key: str                      # its key under the answers' passwords ("rabbit")
    devstack_var: str             # DevStack's variable ("RABBIT_PASSWORD")
    kolla_key: str | None = None  # Kolla's passwords.yml key ("rabbitmq_password")
    # (password, enabled services) -> why a chosen value cannot work, or None
    problem: Callable[[str, Any], str | None] | None = None
    fix: str = ""                 # what to choose instead, said with the problem


@dataclass(frozen=True)
class ServiceSpec:
    """One deployable unit: the services of one module and how to run them."""

    name: str                    # the module name catalog rows point at ("glance")
    services: tuple[str, ...] = ()   # its catalog names (DevStack's short names)
    # Catalog rows it adds: built-in rows live in stacktui/catalog.py, a
    # plugin brings its own (name, group, title, port, needs, RAM ...).
    rows: tuple[Service, ...] = ()

    # --- verbs (see the module docstring)
    configure: Verb | None = None
    init: Verb | None = None
    panes: Callable[["Context"], list[dict]] | None = None
    accounts: Verb | None = None
    after_start: Verb | None = None
    verify: Callable[["Context", Any], Any] | None = None
    before_up: Callable[["Answers", "Layout"], Any] | None = None
    serving: Callable[["Context"], str | None] | None = None
    cleanup: Verb | None = None
    inputs: Callable[["Answers", str], dict] | None = None

    # --- how the engine runs it
    identity: bool = False       # the identity API (keystone): others' accounts wait for it
    used_by_all: bool = False    # every service's config points at it when it runs (memcached)
    start_early: bool = False    # infrastructure (database, queue): up right after its init
    ready_timeout: float = 120   # seconds for its panes to answer their ready probe
    start_after: frozenset[str] = frozenset()   # modules to start first when both run

    # --- how the answers choose it
    database_type: str | None = None   # it is the answers' `database:` of this name (mysql)
    # With database_type: the SQLAlchemy URL of database ``name``, whose user
    # is ``name`` too, on this server (answers, name) -> URL.
    db_url: Callable[["Answers", str], str] | None = None
    # Never chosen by hand nor written to a local.conf: another service's
    # choice brings it (libvirt's daemons come with n-cpu on libvirt).
    hidden: bool = False
    # Given the chosen names and the answers, the names with this module's
    # brought-along services put in or taken out.
    adjust_services: Callable[[list[str], dict], list[str]] | None = None
    # Retired DevStack names, enabled, stand for these of its services.
    replaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    # --- what it needs from the rest of the stack
    password: Password | None = None     # a password kind of its own (the queue's)
    # Secrets of its own: generated once per answers file into secrets.yaml
    # (0600) beside the passwords, masked in logs, read with ctx.secret(key).
    secrets: tuple[str, ...] = ()
    # Options it sets in other services' files when both run, merged like a
    # [[post-config|$VAR]] block (the answers' own post-config wins):
    # ctx -> {ConfigFile var: {section: {option: value}}}, values as the
    # service should read them (no oslo.config escaping needed).
    config_for: Callable[["Context"], dict[str, dict[str, dict]]] | None = None
    # Values other specs read with ctx.provided(key) while this one runs:
    # key -> f(answers) (rabbit's transport_url, OVN's connections).
    provides: Mapping[str, Callable[["Answers"], Any]] = field(default_factory=dict)
    # Ports it listens on beside its catalog port, derived from it (so a
    # moved port moves them along): answers -> {what: port}. `check` wants
    # them free like the catalog's (rabbit's distribution and epmd ports),
    # and tells the user to move the module's ported service.
    ports_beside: Callable[["Answers"], dict[str, int]] | None = None
    databases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # db -> users
    messaging: bool = False      # reaches RabbitMQ through oslo.messaging
    packages: tuple[str, ...] = ()       # distro packages (Debian names)
    pip_packages: tuple[str, ...] = ()   # into the services' venv beyond the rows' packages
    # A plugin's pins: a requirements file compiled against stacktui's own
    # lock (`uv pip compile --constraint stacktui/data/locks/full.txt`),
    # installed into the venv after it with --no-deps.
    lock: Path | None = None

    # --- DevStack and Kolla vocabulary
    config_files: tuple[ConfigFile, ...] = ()
    source_prefix: Mapping[str, str] = field(default_factory=dict)  # project -> <PREFIX>_REPO
    repo_names: Mapping[str, str] = field(default_factory=dict)     # project -> git repo name
    port_vars: Mapping[str, str] = field(default_factory=dict)      # service -> DevStack port var
    refused: Mapping[str, str] = field(default_factory=dict)   # DevStack names it will not run: why
    devstack_plugins: tuple[str, ...] = ()   # the `enable_plugin NAME`s this spec stands for
    kolla_flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # service -> enable_*
    kolla_notes: Mapping[str, str] = field(default_factory=dict)  # service -> why Kolla lacks it
    # globals.yml values Kolla needs when one of its kolla_flags is on
    # (neutron: the OVN agent); an enable_* flag among them is turned on.
    kolla_globals: Mapping[str, str] = field(default_factory=dict)
    # Values of DevStack's own variables that mean this service: libvirt is
    # what VIRT_DRIVER=libvirt runs ({"VIRT_DRIVER": "libvirt"}).
    devstack_values: Mapping[str, str] = field(default_factory=dict)
    api_paths: Mapping[str, str] = field(default_factory=dict)  # service -> path its API answers at
    # tempest: [service_available] name -> service, [enforce_scope] name -> service
    tempest_available: Mapping[str, str] = field(default_factory=dict)
    tempest_scoped: Mapping[str, str] = field(default_factory=dict)
    # tempest.conf sections (and options of shared ones) when it runs; given
    # the answers and what install found (image, flavors, networks)
    tempest: Callable[["Answers", dict], dict[str, dict]] | None = None

    def has(self, phase: str) -> bool:
        """Whether the engine has a step ``phase`` for this module."""
        return getattr(self, "panes" if phase == "start" else phase) is not None

    def ram_mb(self) -> int:
        return sum(r.ram_mb for r in self.rows)


__all__ = ["IDENTITY_SERVICE", "MESSAGING_SERVICE", "ConfigFile", "Context", "Password", "Service", "ServiceSpec", "default_inputs", "pane_spec"]
