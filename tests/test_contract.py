"""The service contract (stacktui/service.py): built-in modules fill it in,
core modules name no service, and a separate package's entry point adds a
service with nothing changed in stacktui."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from stacktui import catalog, localconf, registry
from stacktui.service import ServiceSpec

from .conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
ECHO = ROOT / "tests" / "data" / "plugin_echo"
CORE = ("answers", "engine", "supervisor", "localconf", "kolla", "postconfig")

def _builtin_names() -> set[str]:
    names = set()
    for spec in registry.specs().values():
        if registry.plugin_dist(spec.name):
            continue
        names.add(spec.name)
        for s in spec.services:
            row = catalog.get(s)
            names |= {row.name, row.group} | ({row.package} if row.package else set())
    return names


def test_core_modules_name_no_builtin_service():
    """No string in the core modules' code is a built-in service's name,
    module, group or package (docstrings, comments and prose in messages may
    mention them)."""
    names = _builtin_names()
    assert {"key", "g-api", "nova", "mysql", "openstack-placement"} <= names
    found = []
    for mod in CORE:
        path = ROOT / "stacktui" / f"{mod}.py"
        src = path.read_text()
        docstrings = {id(n.body[0].value) for n in ast.walk(ast.parse(src))
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
                      and n.body and isinstance(n.body[0], ast.Expr)
                      and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docstrings and node.value in names:
                found.append(f"stacktui/{mod}.py:{node.lineno}: {node.value!r}")
    assert not found, "core modules name built-in services:\n" + "\n".join(sorted(set(found)))


def test_every_builtin_spec_is_filled_in_consistently():
    specs = registry.specs()
    deployable = {s.module for s in catalog.SERVICES.values() if s.implemented and s.module}
    assert deployable <= set(specs)
    for name, spec in specs.items():
        assert isinstance(spec, ServiceSpec)
        for s in spec.services:
            assert catalog.get(s).module == name, (name, s)
        for svc in list(spec.kolla_flags) + list(spec.port_vars):
            assert catalog.get(svc).module == name, (name, svc)
    files = registry.config_files()
    assert files["$NOVA_CPU_CONF"].name == "nova-cpu.conf"
    assert registry.database_service("mysql") == "mysql"
    assert registry.get("nova").start_after == {"neutron"}


def _plugin_files() -> list[Path]:
    out = sorted(ECHO.rglob("*.py"))
    plugins = ROOT / "plugins"
    if plugins.is_dir():
        out += sorted(p for p in plugins.rglob("*.py") if "test" not in p.name)
    return out


def test_plugin_packages_import_only_the_contract():
    files = _plugin_files()
    assert files
    bad = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            bad += [f"{f.relative_to(ROOT)}: {m}" for m in mods
                    if m.split(".")[0] == "stacktui" and m != "stacktui.service"]
    assert not bad, bad


def test_enable_plugin_without_the_plugin_names_its_package():
    text = ("[[local|localrc]]\nenable_plugin barbican https://opendev.org/openstack/barbican\n"
            "enable_plugin octavia https://opendev.org/openstack/octavia\n"
            "enable_plugin heat https://opendev.org/openstack/heat\n")
    _, warnings = localconf.import_localconf(text, "p.conf")
    joined = "\n".join(warnings)
    assert "p.conf:2: enable_plugin barbican: no stacktui plugin for it is installed; " \
           "`pip install stacktui-barbican`" in joined
    assert "`pip install stacktui-octavia`" in joined
    assert "p.conf:4: enable_plugin heat: DevStack plugins are not supported; Heat" in joined


def _uv() -> str:
    from stacktui.phases.install import uv
    return uv()


@pytest.fixture()
def plugin_venv(tmp_path):
    """A fresh venv holding stacktui (from this tree) and the echo plugin,
    each installed as a package, the way a user would."""
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "-q", "--python", sys.executable, venv], check=True)
    subprocess.run([_uv(), "pip", "install", "-q", "--python", venv / "bin" / "python",
                    "-e", ROOT, ECHO], check=True, timeout=600)
    return venv


def test_a_plugin_package_adds_a_service_with_nothing_changed_in_stacktui(plugin_venv, tmp_path):
    """local.conf's enable_plugin maps to the installed plugin, the install
    configures, starts and verifies its service, post-config reaches its
    file, the wizard's catalog lists it with its RAM, and clean removes it."""
    dest = tmp_path / "dest"
    port = free_port()
    # conftest's isolated user dirs (XDG_*) reach the commands through os.environ
    env = {**os.environ, "PATH": f"{plugin_venv}/bin:{os.environ['PATH']}"}
    stacktui = [str(plugin_venv / "bin" / "stacktui")]
    conf = tmp_path / "local.conf"
    conf.write_text(f"[[local|localrc]]\nDEST={dest}\nHOST_IP=127.0.0.1\nADMIN_PASSWORD=pw\n"
                    "disable_all_services\nenable_plugin echo https://example.invalid/echo\n"
                    f"ECHO_PORT={port}\n\n[[post-config|$ECHO_CONF]]\n[DEFAULT]\ngreeting = hi\n")
    answers = tmp_path / "stacktui.yaml"
    r = subprocess.run([*stacktui, "import-localconf", conf, "-o", answers], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "enable_plugin echo: provided by the stacktui plugin stacktui-echo (echo-api)" in r.stderr
    data = yaml.safe_load(answers.read_text())
    assert data["enabled_services"] == ["echo-api"] and data["ports"] == {"echo-api": port}
    try:
        r = subprocess.run([*stacktui, "install", "--answers", answers], env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert "start:echo" in r.stdout and "verify" in r.stdout
        log = (dest / "logs" / "stack.log").read_text()
        assert f"echo: http://127.0.0.1:{port}/index.html answers 'echo from RegionOne'" in log
        assert "greeting = hi" in (dest / "etc" / "echo" / "echo.conf").read_text()
        # The plugin's project comes from its own lock, over stacktui's minimal one.
        assert "installing a plugin's locked packages (" in log and "stacktui_echo/lock.txt)" in log
        assert "minimal.txt" in log and "full.txt" not in log
        assert list((dest / "venv").glob("lib/python3*/site-packages/pymemcache-4.0.0.dist-info"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as resp:
            assert resp.read().startswith(b"echo from")
        r = subprocess.run([*stacktui, "status", "--dest", dest], env=env, capture_output=True,
                           text=True, timeout=60)
        assert "echo-api" in r.stdout and "running" in r.stdout
        r = subprocess.run([str(plugin_venv / "bin" / "python"), "-c",
                            "from stacktui import registry, catalog; registry.load_plugins();"
                            "from stacktui.screens.services import ram_text;"
                            "print(catalog.get('echo-api').ram_mb, ram_text(['echo-api'], None)[0].plain)"],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.stdout.startswith("12 RAM 12 MB for 1 services"), r.stdout + r.stderr
        r = subprocess.run([*stacktui, "export-localconf", "--dest", dest, "-o", tmp_path / "out.conf"],
                           env=env, capture_output=True, text=True, timeout=60)
    finally:
        r = subprocess.run([*stacktui, "clean", "--yes", "--dest", dest], env=env,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not (dest / "etc" / "echo").exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2)


def test_readme_shows_the_contract_in_under_40_lines_and_its_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text.split("### A service, and how to write a plugin", 1)[1].split("\n## ", 1)[0]
    assert len(section.strip("\n").splitlines()) + 1 < 40
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)   # noqa: S102 - our own README
    spec = scope["SPEC"]
    assert isinstance(spec, ServiceSpec)
    assert [r.name for r in spec.rows] == list(spec.services) == ["echo-api"]
    assert all(spec.has(p) for p in ("configure", "start", "verify"))
    assert spec.rows[0].module == spec.name and spec.ram_mb() == 12
