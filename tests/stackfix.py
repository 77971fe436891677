"""A real stack for the end-to-end tests and the benches: a temporary DEST
with free loopback ports and answers, the install, the stack's own
`openstack` CLI, waits for services and volumes, a simulated reboot, and a
teardown that leaves no process behind.

The minimal session stack and the lower-level pieces (``stacktui``,
``free_ports``, ``stack_processes``, ``teardown_stack``) stay in conftest.py.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import yaml

from tests.conftest import NASTY, free_ports, stack_processes, stacktui, teardown_stack

CLOUD = "devstack-admin"


# ------------------------------------------------------------ making a stack

def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def stack_ports(names) -> dict:
    """A free loopback port for each short name, and free ports for what
    listens beside them (each spec's ports_beside: OVN's southbound
    database, etcd's peer port, rabbit's distribution and epmd ports)."""
    from stacktui import registry

    class Picked:      # what ports_beside reads of the answers
        services = list(names)

        def port(self, name):
            return ports[name]

    while True:
        ports = dict(zip(names, free_ports(len(names))))
        beside = [p for spec in registry.for_services(names) if spec.ports_beside
                  for p in spec.ports_beside(Picked()).values()]
        if all(p not in ports.values() and port_free(p) for p in beside) and \
                len(set(beside)) == len(beside):
            return ports


def make_root(prefix: str, under: str = "/tmp") -> Path:
    """A work folder outside pytest's 0700 tmp: the host check wants every
    parent of DEST traversable (and reachable by the service users when a
    web dashboard runs)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=under))
    root.chmod(0o755)
    return root


def cloud_env(dest: Path) -> dict:
    """The environment the stack's own `openstack` CLI runs in: its
    clouds.yaml, admin."""
    return {**os.environ, "OS_CLIENT_CONFIG_FILE": str(dest / "clouds.yaml"), "OS_CLOUD": CLOUD}


def stack_answers(root: Path, ports: dict, **answers) -> Path:
    """root/stacktui.yaml for a stack in root/dest on loopback."""
    path = root / "stacktui.yaml"
    path.write_text(yaml.safe_dump({"dest": str(root / "dest"), "host_ip": "127.0.0.1",
                                    "ports": ports, **answers}, allow_unicode=True))
    return path


@contextmanager
def installed_stack(prefix: str, answers: dict, *, under: str = "/tmp", timeout: float = 1200,
                    ports: dict | None = None, **info):
    """Install a stack from ``answers`` (dest and host_ip filled in) in a new
    root, give what the tests need, then tear it down: no process left,
    ``clean``, the root removed. ``info`` goes into the dict given, which
    already holds dest, root, ports, answers and env; install_seconds and
    output are added once the install is done."""
    root = make_root(prefix, under)
    dest = root / "dest"
    ports = ports if ports is not None else {}
    path = stack_answers(root, ports, **answers)
    stack = {"dest": dest, "root": root, "ports": ports, "answers": path, "env": cloud_env(dest),
             **info}
    t0 = time.monotonic()
    try:
        r = stacktui("install", "--answers", path, "--yes", "-v", timeout=timeout)
        stack.update(install_seconds=time.monotonic() - t0, output=r.stdout + r.stderr)
        yield stack
    finally:
        try:
            teardown_stack(dest)
        finally:
            # A process left behind fails the test, and the gigabyte goes anyway.
            stacktui("--dest", dest, "clean", "--yes", check=False)
            shutil.rmtree(root, ignore_errors=True)


# DevStack's default cloud (`profile: devstack`), shared by the session.
DEVSTACK_PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "n-api", "n-api-meta",
                   "c-api", "q-svc", "ovn-northd", "horizon", "n-novnc", "etcd3",
                   "memcached", "s-proxy", "s-object", "s-container", "s-account", "s-rsync"]
# Not in DevStack's default list, but the e2e wants them: swift (with
# the memcached its proxy needs) and c-bak backing up to it, added to the
# profile's services here so `profile: devstack` stays DevStack's list.
DEVSTACK_EXTRA = ["memcached", "s-proxy", "s-object", "s-container", "s-account", "c-bak"]


def devstack_services() -> list[str]:
    from stacktui import catalog
    return catalog.profile_services("devstack")[0] + DEVSTACK_EXTRA


# Real guests (libvirt; qemu here) on the DevStack profile, as DevStack runs
# them; STACKTUI_REAL_GUESTS=0 runs nova's fake driver instead.
REAL_GUESTS = os.environ.get("STACKTUI_REAL_GUESTS", "1") != "0"
# oslo.messaging cannot carry a `/` in the rabbit password (phases/rabbit.py).
DEVSTACK_PASSWORDS = {**NASTY, "rabbit": NASTY["rabbit"].replace("/", "")}
# Not DevStack's defaults: a host running another stack keeps its ranges.
DEVSTACK_FIXED, DEVSTACK_FLOATING = "10.92.0.0/22", "172.29.92.0/24"


def unrouted_range(default: str = DEVSTACK_FLOATING) -> str:
    """``default``, or the next /24 after it that no route on the host names:
    the host reaches a stack's floating range by one route (stacktui/netns.py),
    and another stack on this host with the same range would take it over."""
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    a, b, c, _ = default.split("/")[0].split(".")
    for n in range(int(c), int(c) + 16):
        if f"{a}.{b}.{n}.0/24 " not in routes:
            return f"{a}.{b}.{n}.0/24"
    return default


@contextmanager
def devstack_profile_stack():
    """The DevStack-profile stack: one install (minutes, 3 GB of panes) that
    tests/test_e2e_devstack.py and tests/test_chaos.py share through the
    session fixture ``devstack_stack`` (conftest.py). Torn down with no
    process and no link of its own left on the host."""
    links = host_links()
    floating = unrouted_range()
    try:
        # Outside pytest's 0700 tmp: the host check wants DEST reachable by the
        # service users when a web dashboard runs.
        with installed_stack("e2e-devstack-", {"database": "mysql", "profile": "devstack",
                                               "enabled_services": devstack_services(),
                                               "passwords": DEVSTACK_PASSWORDS,
                                               "fixed_range": DEVSTACK_FIXED,
                                               "floating_range": floating,
                                               **({} if REAL_GUESTS else {"virt_driver": "fake"})},
                             under="/var/tmp", ports=stack_ports(DEVSTACK_PORTED),
                             links=links, floating=floating) as stack:
            print(f"devstack profile installed in {stack['install_seconds']:.0f}s")
            yield stack
    finally:
        left = {n for n in host_links() - links if n.startswith(("br-", "ovs-", "genev", "tap"))}
        assert not left, f"links left on the host: {left}"


# ------------------------------------------------------------ using it

def osc(stack, *args, check=True, timeout=300) -> subprocess.CompletedProcess:
    """The stack's own `openstack` CLI, as admin (OS_CLOUD in stack["env"])."""
    exe = stack["dest"] / "venv" / "bin" / "openstack"
    r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                       env=stack["env"], timeout=timeout, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"openstack {' '.join(map(str, args))} exited {r.returncode}\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


def osc_json(stack, *args):
    return json.loads(osc(stack, *args, "-f", "json").stdout)


def upload_image(stack, name: str, timeout=300) -> Path:
    """1 MiB of random bytes as a raw Glance image; returns the file."""
    img = stack["root"] / "image.raw"
    img.write_bytes(os.urandom(1 << 20))
    osc(stack, "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--file", img, name, timeout=timeout)
    return img


def panes(stack) -> dict[str, dict]:
    """`stacktui status --json`, by pane name."""
    r = stacktui("--dest", stack["dest"], "status", "--json")
    return {p["name"]: p for p in json.loads(r.stdout)["panes"]}


def mysql_logins_work(stack, password: str, logins, sql: str = "SELECT 1") -> None:
    """Each (database, user) of ``logins`` logs in to the stack's MariaDB
    over TCP with ``password`` as typed and runs ``sql`` (pymysql from the
    stack's venv)."""
    script = ("import json, os, pymysql\n"
              "for db, user in json.loads(os.environ['LOGINS']):\n"
              "    c = pymysql.connect(host='127.0.0.1', port=int(os.environ['P']), user=user,\n"
              "                        password=os.environ['PW'], database=db)\n"
              "    c.cursor().execute(os.environ['SQL']); c.close()\n"
              "print('ok')\n")
    r = subprocess.run([str(stack["dest"] / "venv" / "bin" / "python"), "-c", script], text=True,
                       capture_output=True, env={**os.environ, "PW": password, "SQL": sql,
                                                 "LOGINS": json.dumps(list(logins)),
                                                 "P": str(stack["ports"]["mysql"])})
    assert r.stdout.strip() == "ok", r.stderr


def wait_for(what: str, probe, timeout: float, every: float = 2):
    """``probe()`` until it returns something true, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


def utc_now() -> str:
    """A second ago, as the services' "Updated At" is written."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))


def wait_services_up(stack, kind: str, binaries, after: str | None = None, timeout=120,
                     every: float = 3, enabled: bool = False) -> dict:
    """Until each binary of `openstack <kind> service list` reports up (with
    ``enabled``, and is enabled; with ``after``, has reported since then: a
    dead service stays `up` until service_down_time passes)."""
    deadline = time.monotonic() + timeout
    while True:
        svcs = {s["Binary"]: s for s in osc_json(stack, kind, "service", "list")}
        if all(b in svcs and svcs[b]["State"] == "up"
               and (not enabled or svcs[b]["Status"] == "enabled")
               and (after is None or (svcs[b]["Updated At"] or "") > after) for b in binaries):
            return svcs
        if time.monotonic() > deadline:
            raise AssertionError(f"not up in {timeout} s: {svcs}")
        time.sleep(every)


# ------------------------------------------------------------ stopping it

def kill_stack(dest: Path) -> list[psutil.Process]:
    """What a power cut does: SIGKILL to every process of the stack, then
    none may be left. Returns the processes that were killed."""
    procs = stack_processes(dest)
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)
    assert not stack_processes(dest)
    # A power cut takes the stack's network namespace (and the host end of
    # its link pair) too; here its bind mount under DEST/run keeps it alive.
    from stacktui import netns
    from stacktui.paths import Layout
    netns.remove(Layout(dest))
    return procs


def up_after_reboot(stack, services) -> float:
    """What a reboot leaves once the processes are gone: DEST/run emptied.
    `stacktui up` must bring every one of ``services`` back; returns how
    long it took."""
    dest = stack["dest"]
    shutil.rmtree(dest / "run")
    t0 = time.monotonic()
    r = stacktui("--dest", dest, "up", timeout=600)
    seconds = time.monotonic() - t0
    stack["up_output"] = r.stdout
    assert "is up" in r.stdout, r.stdout
    for name in services:
        assert f"{name}: running" in r.stdout, r.stdout
    return seconds


def unstack_all(dest: Path, grace: float = 30, timeout=180) -> None:
    """`unstack --all` must succeed and leave no process of the stack
    within ``grace`` seconds."""
    stacktui("--dest", dest, "unstack", "--all", timeout=timeout)
    deadline = time.monotonic() + grace
    while stack_processes(dest) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not stack_processes(dest)


def host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line}


def host_netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


# ------------------------------------------------------------ benches

def bench_root(prefix: str, under: str, given: str | None = None) -> Path:
    """The bench's work folder (``given``, else a new one), with its own XDG
    dirs so that the user's last stack and clouds.yaml are left alone."""
    root = Path(given or tempfile.mkdtemp(prefix=prefix, dir=under))
    root.chmod(0o755)      # the host check wants every parent of DEST traversable
    os.environ["XDG_STATE_HOME"] = str(root / "state")
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    return root


def host_facts() -> dict:
    """What a result needs to say about the machine it was measured on."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(),
            "mem_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
            "load_before": os.getloadavg()[0]}


def step_seconds(dest: Path) -> dict:
    """How long each install step took, from the state file."""
    state = json.loads((dest / "stacktui-state.json").read_text())
    return {k: v.get("seconds") for k, v in state["steps"].items() if v.get("seconds") is not None}


def timed_install(stack, answers: Path, result: dict, timeout: float = 1800) -> float:
    """A bench's `stacktui install` and a first image: install_seconds and
    each step's seconds into ``result``; returns when the install started."""
    t0 = time.monotonic()
    stacktui("install", "--answers", answers, "--yes", timeout=timeout)
    result["install_seconds"] = round(time.monotonic() - t0, 1)
    result["steps"] = step_seconds(stack["dest"])
    upload_image(stack, "bench-image", timeout=600)
    return t0


def pane_rss_mb(stack) -> dict:
    return {n: round((p.get("rss") or 0) / 2**20) for n, p in panes(stack).items()}


@contextmanager
def bench_stack(root: Path):
    """Around a bench's work on the stack in root/dest: a failed command
    ends the bench with its output rather than a traceback, and whatever
    happened, everything is stopped and removed (a failure to stop or
    remove is ignored, never measured)."""
    try:
        yield
    except AssertionError as e:
        raise SystemExit(str(e))
    finally:
        for cmd in (("unstack", "--all"), ("clean", "--yes")):
            stacktui("--dest", root / "dest", *cmd, check=False, timeout=300)
        shutil.rmtree(root, ignore_errors=True)


def write_result(result: dict, out: str) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(json.dumps(result, indent=1, sort_keys=True))
