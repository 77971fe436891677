"""End to end: the compute cloud on MariaDB and RabbitMQ, for real.

One install (keystone, glance, placement, nova with the fake driver,
MariaDB, RabbitMQ, memcached) on free loopback ports with passwords made of
every character that breaks naive quoting; then, in order: a server boots
ACTIVE from a Glance image, every nova service reports up, nova-status
passes, n-cpu restarted from the CLI reports up again, and after a simulated
reboot (every process of the stack killed, DEST/run emptied) `stacktui up`
brings it all back: the server is still listed and a new one boots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import yaml

from tests.conftest import NASTY, free_ports, stack_processes, stacktui, teardown_stack

SERVICES = ["mysql", "rabbit", "memcached", "key", "g-api", "placement-api", "n-api",
            "n-api-meta", "n-cond", "n-sch", "n-cpu"]
PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "memcached", "n-api",
          "n-api-meta", "q-svc"]
# oslo.messaging cannot carry a `/` in the rabbit password (phases/rabbit.py);
# everything else of the shared nasty set stays, plus spaces at both ends.
PASSWORDS = {**NASTY, "rabbit": " " + NASTY["rabbit"].replace("/", "") + " % "}

pytestmark = pytest.mark.timeout(1500) if hasattr(pytest.mark, "timeout") else []


@pytest.fixture(scope="module")
def nova_stack():
    yield from make_nova_stack("e2e-nova-", virt_driver="fake")


def make_nova_stack(prefix: str, **extra):
    """Install this module's compute cloud (plus ``extra`` answers), yield
    what the tests need, then tear it down: the body of a module fixture,
    shared with tests/test_e2e_libvirt.py."""
    # Not under pytest's 0700 tmp: the host check wants every parent of DEST
    # traversable.
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)
    dest = root / "dest"
    ports = dict(zip(PORTED, free_ports(len(PORTED))))
    answers = root / "stacktui.yaml"
    answers.write_text(yaml.safe_dump({
        "dest": str(dest), "host_ip": "127.0.0.1", "database": "mysql",
        "enabled_services": SERVICES, "ports": ports, "passwords": PASSWORDS, **extra,
    }, allow_unicode=True))
    t0 = time.monotonic()
    try:
        r = stacktui("install", "--answers", answers, "--yes", "-v", timeout=1200)
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(dest / "clouds.yaml"),
               "OS_CLOUD": "devstack-admin"}
        yield {"dest": dest, "root": root, "ports": ports, "env": env, "answers": answers,
               "install_seconds": time.monotonic() - t0, "output": r.stdout + r.stderr}
    finally:
        teardown_stack(dest)
        stacktui("--dest", dest, "clean", "--yes", check=False)
        shutil.rmtree(root, ignore_errors=True)


def osc(stack, *args, check=True, timeout=300) -> subprocess.CompletedProcess:
    exe = stack["dest"] / "venv" / "bin" / "openstack"
    r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                       env=stack["env"], timeout=timeout, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"openstack {' '.join(map(str, args))} exited {r.returncode}\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


def osc_json(stack, *args):
    return json.loads(osc(stack, *args, "-f", "json").stdout)


def compute_services(stack) -> dict[str, dict]:
    return {s["Binary"]: s for s in osc_json(stack, "compute", "service", "list")}


def wait_services_up(stack, binaries, after: str | None = None, timeout=120) -> dict:
    """Until each binary reports up (and, with ``after``, has reported since)."""
    deadline = time.monotonic() + timeout
    while True:
        svcs = compute_services(stack)
        ok = all(b in svcs and svcs[b]["State"] == "up" and
                 (after is None or (svcs[b]["Updated At"] or "") > after) for b in binaries)
        if ok:
            return svcs
        if time.monotonic() > deadline:
            raise AssertionError(f"not up in {timeout} s: {svcs}")
        time.sleep(3)


def boot(stack, name: str) -> dict:
    osc(stack, "server", "create", "--flavor", "m1.tiny", "--image", "e2e-image", "--nic", "none",
        "--wait", name, timeout=300)
    return osc_json(stack, "server", "show", name)


def test_install_says_which_driver_and_passes_verify(nova_stack):
    out = nova_stack["output"]
    assert "nova-compute driver: stacktui_fakevirt.StableFakeDriver" in out
    assert "virt_driver is fake" in out
    assert "nova: nova-compute, nova-conductor, nova-scheduler up" in out
    for pw in PASSWORDS.values():
        assert pw.strip() not in out


def test_server_boots_active_from_glance_image(nova_stack):
    img = nova_stack["root"] / "image.raw"
    img.write_bytes(os.urandom(1 << 20))
    osc(nova_stack, "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--file", img, "e2e-image")
    flavors = {f["Name"] for f in osc_json(nova_stack, "flavor", "list")}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "cirros256"} <= flavors
    server = boot(nova_stack, "e2e-1")
    assert server["status"] == "ACTIVE", server


def test_every_nova_service_up(nova_stack):
    svcs = wait_services_up(nova_stack, ["nova-conductor", "nova-scheduler", "nova-compute"])
    assert all(s["Status"] == "enabled" for s in svcs.values())


def test_nova_status_upgrade_check_passes(nova_stack):
    dest = nova_stack["dest"]
    r = subprocess.run([str(dest / "venv" / "bin" / "nova-status"), "--config-file",
                        str(dest / "etc" / "nova" / "nova.conf"), "upgrade", "check"],
                       capture_output=True, text=True, timeout=300)
    # 0 is all success, 1 warnings. The one warning allowed is nova's own
    # "can be ignored if your environment does not contain libvirt based
    # compute hosts": servers of the fake driver carry no machine type.
    assert r.returncode in (0, 1), r.stdout + r.stderr
    checks = re.findall(r"Check: (.+?)\s*\|\s*\n\|\s*Result: (\w+)", r.stdout)
    assert len(checks) >= 5, r.stdout
    assert {"Cells v2", "Placement API", "Service User Token Configuration"} <= \
        {c for c, _ in checks}, r.stdout
    bad = [(c, res) for c, res in checks if res != "Success"
           and not (c == "hw_machine_type unset" and res == "Warning")]
    assert not bad, r.stdout


def test_restart_n_cpu_from_cli_reports_up_again(nova_stack):
    before = compute_services(nova_stack)["nova-compute"]["Updated At"]
    pid_before = _pane(nova_stack, "n-cpu")["pid"]
    stacktui("--dest", nova_stack["dest"], "restart", "n-cpu")
    pane = _pane(nova_stack, "n-cpu")
    assert pane["state"] == "running" and pane["pid"] != pid_before
    # nova-compute stopped by itself within the pane's grace period
    # (graceful_shutdown_timeout), not by the supervisor's SIGKILL.
    log = (nova_stack["dest"] / "logs" / "n-cpu.log").read_text(errors="replace")
    assert "sending SIGKILL" not in log
    wait_services_up(nova_stack, ["nova-compute"], after=before)


def _pane(stack, name) -> dict:
    r = stacktui("--dest", stack["dest"], "status", "--json")
    return {p["name"]: p for p in json.loads(r.stdout)["panes"]}[name]


def test_simulated_reboot_then_up(nova_stack):
    dest = nova_stack["dest"]
    procs = stack_processes(dest)
    assert procs
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)
    assert not stack_processes(dest)
    shutil.rmtree(dest / "run")
    t0 = time.monotonic()
    r = stacktui("--dest", dest, "up", timeout=600)
    up_seconds = time.monotonic() - t0
    assert "is up" in r.stdout
    for name in SERVICES:
        assert f"{name}: running" in r.stdout
    before = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    wait_services_up(nova_stack, ["nova-conductor", "nova-scheduler", "nova-compute"], after=before)
    names = {s["Name"]: s["Status"] for s in osc_json(nova_stack, "server", "list")}
    assert names.get("e2e-1") == "ACTIVE"
    assert boot(nova_stack, "e2e-2")["status"] == "ACTIVE"
    print(f"up after simulated reboot: {up_seconds:.1f}s")


def test_service_databases_take_the_nasty_password(nova_stack):
    """Every service's MariaDB user, over TCP, with the password as typed."""
    dest = nova_stack["dest"]
    script = ("import os, pymysql\n"
              "for db, user in [('keystone','keystone'),('glance','glance'),"
              "('placement','placement'),('nova_api','nova_api'),('nova','nova'),"
              "('nova_cell0','nova')]:\n"
              "    c = pymysql.connect(host='127.0.0.1', port=int(os.environ['P']), user=user,\n"
              "                        password=os.environ['PW'], database=db)\n"
              "    c.cursor().execute('SELECT 1'); c.close()\n"
              "print('ok')\n")
    r = subprocess.run([str(dest / "venv" / "bin" / "python"), "-c", script], text=True,
                       capture_output=True, env={**os.environ, "PW": PASSWORDS["database"],
                                                 "P": str(nova_stack["ports"]["mysql"])})
    assert r.stdout.strip() == "ok", r.stderr


def test_no_secret_in_any_command_line(nova_stack):
    for p in stack_processes(nova_stack["dest"]):
        try:
            line = " ".join(p.cmdline())
        except psutil.Error:
            continue
        for pw in PASSWORDS.values():
            assert pw.strip() not in line, (p.pid, line[:200])
