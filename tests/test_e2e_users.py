"""End to end as DevStack is run: ordinary users with sudo, not root.

Two users are made here and removed at the end: `a` with passwordless sudo
and `b` whose sudo asks a password. Each runs stacktui from a tool venv on
the system Python (root's pyenv sits in a 0700 home) with a login shell's
environment, as `sudo -i` leaves it: no SSL_CERT_FILE, no PIP_* variables,
an empty uv cache. On this machine uv's bundled roots cannot reach the
index (UnknownIssuer, the issue's failure); /etc/pip.conf names the CA
bundle, so the installs also prove pip's configuration reaches uv.

In order: b installs keystone, glance, placement, nova (fake driver) and
neutron on OVN (MariaDB, RabbitMQ) into /opt/stack, which does not exist.
`check` first names the sudoers drop-in install will write (neutron's
switch and namespaces need root at every start, with no one to type b's
password) and what it gives away. stacktui asks b's sudo password once
(typed into the PTY), makes /opt/stack with sudo and gives it to b, and
writes the drop-in: root's, 0440, visudo-clean, in the session's own
/etc/sudoers.d (a tmpfs over the host's, in the session's mount namespace;
the users' own rules go there too). The password is then in no log, no file
of the stack or of /etc/sudoers.d and no command line. A server on b's
`private` goes ACTIVE; its port, plugged by iface-id, goes ACTIVE and the
OVN agent starts the network's metadata haproxy through `sudo -n`. Meanwhile a
installs the minimal cloud (the README's first command: keystone, glance,
placement on SQLite), gets a token, unstacks and cleans it; then a installs DevStack's default cloud
(`profile: devstack`: neutron on OVN, nova on its fake driver, cinder,
horizon, tempest; MariaDB administered over a's own unix_socket account: as
root's it failed with ERROR 1698); /opt/stack being b's, a's DEST is the XDG
folder and `check` says why. Root runs only what must be root (the stack's
network namespace and links, the switch's datapath, the metadata agent's
namespaces and helpers); every service process is a's. A server with a port
on `private` goes ACTIVE, a volume attaches, Horizon's login page loads.
With both running, each user's status and stop reach only their own panes,
and neither can reach the other's supervisor. b's dashboard, in tmux run by
b, restarts b's switch (root starts it, through the drop-in); after a
simulated reboot `stacktui up` brings b's stack, its namespace and link back
without asking; `unstack --all` and `clean` leave nothing of either, no
link, no namespace and no drop-in. (useradd and userdel do write the host's
/etc/passwd and /etc/shadow: the users exist there while the module runs.)
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import yaml

from stacktui.phases.install import uv
from tests.conftest import FRESH_HOST
from stacktui import catalog
from tests.stackfix import (DEVSTACK_PASSWORDS, DEVSTACK_PORTED, cloud_env, host_links, kill_stack,
                            make_root, osc, osc_json, stack_ports, unrouted_range, wait_for)
from tests.test_e2e_horizon import _check_assets
from bench.tmuxterm import Term

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parent.parent
OPT = Path("/opt/stack")
SUDOERS_D = Path("/etc/sudoers.d")
SYSTEM_PYTHON = "/usr/bin/python3"

if os.geteuid() != 0 or not shutil.which("sudo") or not os.path.exists(SYSTEM_PYTHON):
    pytest.skip("needs root (to make the users), sudo and the system python3",
                allow_module_level=True)
if FRESH_HOST["why"] != "private mount namespace":
    # The homes' tmpfs must vanish with the session, not stay on the host.
    pytest.skip("needs the session's private mount namespace (tests/freshhost.py)",
                allow_module_level=True)


@dataclass
class User:
    name: str
    home: Path
    tool: Path
    password: str | None = None

    def env(self, **extra) -> dict:
        """A login shell's environment (sudo -i)."""
        return {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
                "SHELL": "/bin/bash", "LANG": "C.UTF-8", "TERM": "xterm",
                "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", **extra}

    def argv(self, *args, **env) -> list[str]:
        return ["runuser", "-u", self.name, "--", "env", "-i",
                *(f"{k}={v}" for k, v in self.env(**env).items()), str(self.tool),
                *map(str, args)]

    def stacktui(self, *args, check=True, timeout=900) -> subprocess.CompletedProcess:
        r = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd=self.home)
        if check and r.returncode != 0:
            raise AssertionError(f"{self.name}: stacktui {' '.join(map(str, args))} exited "
                                 f"{r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def write(self, rel: str, text: str) -> Path:
        path = self.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        shutil.chown(path, self.name, self.name)
        return path

    def processes(self) -> list[psutil.Process]:
        uid = pwd.getpwnam(self.name).pw_uid
        return [p for p in psutil.process_iter(["uids"]) if p.info["uids"]
                and p.info["uids"].real == uid]


def make_user(tool: Path, sudo: str, homes: Path) -> User:
    name = "stk" + secrets.token_hex(3)
    subprocess.run(["useradd", "-m", "-d", str(homes / name), "-s", "/bin/bash", name],
                   check=True)
    password = None
    if sudo == "password":
        # Letters and digits: it goes through sudo's prompt, not a shell.
        password = secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        rule = f"{name} ALL=(ALL) ALL\n"
    else:
        rule = f"{name} ALL=(ALL) NOPASSWD: ALL\n"
    sudoers = SUDOERS_D / f"stacktui-test-{name}"
    sudoers.write_text(rule)
    sudoers.chmod(0o440)
    return User(name, Path(pwd.getpwnam(name).pw_dir), tool, password)


def remove_user(u: User) -> None:
    # The user's processes, and root's working for the user's stack (sudo,
    # the namespaces' makers, privsep helpers) when a test failed halfway.
    home = str(u.home)
    theirs = u.processes() + [p for p in psutil.process_iter(["cmdline"])
                              if home in " ".join(p.info["cmdline"] or [])]
    for p in theirs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(theirs, timeout=10)
    # The stack's namespace file stays mounted if its unstack did not run.
    for line in reversed(Path("/proc/self/mounts").read_text().splitlines()):
        if line.split()[1].startswith(home + "/"):
            subprocess.run(["umount", "-l", line.split()[1]], check=False)
    (SUDOERS_D / f"stacktui-test-{u.name}").unlink(missing_ok=True)
    subprocess.run(["userdel", "-r", u.name], capture_output=True)
    shutil.rmtree(u.home, ignore_errors=True)


@pytest.fixture(scope="module")
def world():
    if OPT.exists():
        pytest.skip(f"{OPT} exists on this machine: the test makes and removes its own")
    root = make_root("stk-users-")
    # The users' homes (their uv caches, a's DEST) on a tmpfs of the test's
    # own mount namespace: deleting a gigabyte of venv and cache took this
    # disk minutes (each freed extent is discarded), a tmpfs none.
    homes = root / "home"
    homes.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=6g", "stk-homes", homes],
                   check=True)
    # /etc/sudoers.d of the session's namespace on a tmpfs holding a copy of
    # the host's: the users' rules and the drop-in b's install writes land
    # there, never in the host's folder, and vanish with the module.
    shutil.copytree(SUDOERS_D, root / "sudoers.d", symlinks=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=1m", "stk-sudoers", SUDOERS_D],
                   check=True)
    subprocess.run(["cp", "-a", f"{root / 'sudoers.d'}/.", SUDOERS_D], check=True)
    tun = Path("/dev/net/tun")
    if not tun.exists() or tun.stat().st_mode & 0o666 != 0o666:
        # a's ovs-vswitchd runs as a and opens /dev/net/tun, mode 0666 on
        # Debian and Ubuntu but 0600 on this VM: the same device, 0666, over
        # it in the session's own mount namespace (the host's stays as it is).
        node = root / "tun"
        subprocess.run(["mknod", "-m", "666", node, "c", "10", "200"], check=True)
        subprocess.run(["mount", "--bind", node, tun], check=True)
    venv = root / "tool"
    # The tool venv on the system Python, built by root from uv's warm cache.
    subprocess.run([uv(), "venv", "-q", "--python", SYSTEM_PYTHON, venv], check=True)
    # --refresh-package: uv keys a local project's build on pyproject.toml
    # alone and would hand back an earlier build of changed sources.
    subprocess.run([uv(), "pip", "install", "-q", "--python", venv / "bin" / "python",
                    "--no-progress", "--refresh-package", "stacktui", REPO],
                   check=True, capture_output=True)
    users = []
    try:
        a = make_user(venv / "bin" / "stacktui", "nopasswd", homes)
        users.append(a)
        b = make_user(venv / "bin" / "stacktui", "password", homes)
        users.append(b)
        yield {"a": a, "b": b, "root": root, "stacks": {}}
    finally:
        for u in users:
            u.stacktui("unstack", "--all", check=False, timeout=180)
            u.stacktui("clean", "--yes", check=False, timeout=180)
            remove_user(u)
        if OPT.exists():
            shutil.rmtree(OPT)
        subprocess.run(["umount", "-l", homes], check=False)
        subprocess.run(["umount", "-l", SUDOERS_D], check=False)
        if (root / "tun").exists():
            subprocess.run(["umount", tun], check=False)
        shutil.rmtree(root, ignore_errors=True)


def ps_watch(stop: threading.Event, seen: list[str]) -> None:
    while not stop.is_set():
        for p in psutil.process_iter(["cmdline"]):
            seen.append(" ".join(p.info["cmdline"] or []))
        time.sleep(0.2)


def paste_secret(t: "UserTerm", secret: str) -> None:
    """Into the TUI's focused field as a bracketed paste, through a tmux
    buffer loaded from stdin: `send-keys` would put it on a command line,
    where the ps watcher (rightly) looks for it."""
    subprocess.run(t.command(["tmux", "-L", t.sock, "-f", "/dev/null", "load-buffer", "-b", "s",
                              "-"]), input=secret, text=True, check=True, cwd=t.cwd, timeout=30)
    t.tmux("paste-buffer", "-p", "-d", "-b", "s", "-t", "t")


# b's cloud: the nova set (nova on its fake driver: a runs DevStack's whole
# profile) with neutron on OVN, whose switch and agent need root at every
# start. MariaDB and RabbitMQ because nova and neutron need them (the
# catalog offers SQLite to keystone, glance and placement only); both run as
# b, in b's panes.
B_SERVICES = ["rabbit", "key", "g-api", "placement-api", "n-api", "n-cond", "n-sch", "n-cpu", "q-svc",
              "q-ovn-agent", "ovn-northd", "ovn-controller", "ovsdb-server", "ovs-vswitchd"]
B_PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "n-api", "q-svc", "ovn-northd"]
# Neither a's nor the session's DevStack-profile stack's ranges.
# Floating ranges of their own (the bench and other modules' stacks take
# 172.29.91-107; a running one's route makes netns refuse the range).
B_FIXED, B_FLOATING = "10.94.0.0/22", unrouted_range("172.29.160.0/24")


def drop_ins(user: "User") -> list[Path]:
    return sorted(SUDOERS_D.glob(f"zz_stacktui_{user.name}_*"))


@pytest.fixture(scope="module")
def b_stack(world):
    """b's nova and neutron cloud in /opt/stack through the wizard, in tmux
    run by b: the install screen asks b's sudo password once in a masked
    field; with it install makes /opt/stack and writes b's sudoers drop-in."""
    b = world["b"]
    ports = stack_ports(B_PORTED)
    answers = b.write("stacktui.yaml", yaml.safe_dump(
        {"host_ip": "127.0.0.1", "ports": ports, "database": "mysql", "virt_driver": "fake",
         "enabled_services": B_SERVICES, "fixed_range": B_FIXED, "floating_range": B_FLOATING}))
    r = b.stacktui("check", "--answers", answers, "--json", check=False)
    got = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    # Without a terminal to ask on, b's default is the XDG folder.
    assert "sudo wants a password and there is no terminal" in got["dest"]["measured"], got
    # Before anything is done: which file, what it allows, that clean
    # removes it, and what it gives away.
    priv = got["privileges"]["measured"]
    assert got["privileges"]["status"] == "warn", got["privileges"]
    for said in (f"/etc/sudoers.d/zz_stacktui_{b.name}_", "written by install", "nsenter",
                 "privsep-helper", "`stacktui clean` removes it", "can then become root"):
        assert said in priv, (said, priv)
    assert not drop_ins(b)
    assert "/etc/pip.conf" in got["CA bundle"]["measured"], got["CA bundle"]
    assert "pypi.org" in got["package index"]["measured"], got["package index"]

    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=ps_watch, args=(stop, seen), daemon=True)
    watcher.start()
    screens = []
    t = UserTerm(b, "wiz")
    try:
        t0 = time.monotonic()
        t.start(str(b.tool), b.env())
        t.wait("Welcome to stacktui", timeout=60)
        t.type(str(answers))
        t.keys("Enter")
        t.wait("✓ loaded")
        # With the wizard able to ask, b's default DEST is /opt/stack.
        screens.append(t.wait(str(OPT), timeout=10))
        t.keys("C-n")
        t.wait("Host check")
        t.wait(" ok", timeout=60)
        deadline = time.monotonic() + 60
        while "failed" not in t.screen() and time.monotonic() < deadline:
            time.sleep(0.2)
        screens.append(t.screen())
        if " 0 failed" not in screens[-1]:
            t.keys("o")                       # the explicit override of a failed check
        for expect in ("Passwords", "HOST_IP", "RAM ", "stacktui.yaml"):
            t.keys("C-n")
            screens.append(t.wait(expect))
        t.keys("C-n")
        screens.append(t.wait(f"[sudo] password for {b.name}", timeout=60))
        # a installs beside b from here (once /opt/stack is b's): the module's time.
        start_a_install(world, ports)
        paste_secret(t, b.password)
        time.sleep(0.5)
        screens.append(t.screen())
        assert "•" * 8 in screens[-1], screens[-1]          # masked, one dot a character
        t.keys("Enter")
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline:
            screens.append(t.screen())
            if "stacktui completed" in screens[-1] or "install failed" in screens[-1]:
                break
            # asked once: the field never comes back
            assert "sudo refused" not in screens[-1], screens[-1]
            time.sleep(1)
        assert "stacktui completed" in screens[-1], screens[-1]
        install_seconds = time.monotonic() - t0
        screens.append(t.tmux("capture-pane", "-p", "-S", "-", "-t", "t"))   # the scrollback too
        t.keys("q")
        t.wait("STACKTUI-EXITED 0", timeout=30)
    finally:
        t.kill()
        stop.set()
        watcher.join()
    assert OPT.is_dir() and OPT.stat().st_uid == pwd.getpwnam(b.name).pw_uid
    assert oct(OPT.stat().st_mode & 0o777) == "0o755"
    world["stacks"]["b"] = {"dest": OPT, "ports": ports, "install_seconds": install_seconds,
                            "output": "\n".join(screens), "ps": seen, "env": cloud_env(OPT),
                            "root": world["root"]}
    return world["stacks"]["b"]


def test_b_password_asked_once_and_kept_nowhere(world, b_stack):
    b = world["b"]
    pw = b.password
    assert pw not in b_stack["output"]
    assert not [line for line in b_stack["ps"] if pw in line]
    leaks = []
    for base in (OPT, b.home, SUDOERS_D):
        for dirpath, dirnames, files in os.walk(base):
            if Path(dirpath) == OPT / "venv":
                dirnames.clear()
                continue
            for f in files:
                p = Path(dirpath) / f
                try:
                    if p.is_file() and pw.encode() in p.read_bytes():
                        leaks.append(p)
                except OSError:
                    pass
    assert not leaks
    # b's processes are b's, not root's.
    panes = json.loads(b.stacktui("status", "--json").stdout)["panes"]
    assert {p["name"] for p in panes} >= set(B_SERVICES)
    for p in panes:
        assert psutil.Process(p["pid"]).uids().real == pwd.getpwnam(b.name).pw_uid


def test_b_sudoers_drop_in_names_only_the_stacks_root_commands(world, b_stack):
    """Written with the password typed once: root's, 0440, accepted by
    visudo, in the session's own /etc/sudoers.d (a tmpfs over the host's),
    one rule for b naming commands by absolute path, no ALL."""
    b = world["b"]
    got = drop_ins(b)
    assert len(got) == 1, got
    st = got[0].stat()
    assert st.st_uid == 0 and st.st_gid == 0 and oct(st.st_mode & 0o777) == "0o440"
    assert st.st_dev != Path("/etc").stat().st_dev      # the namespace's tmpfs
    assert not list(SUDOERS_D.glob(".*"))                # nothing pending left
    r = subprocess.run(["visudo", "-cf", got[0]], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    rules = [line for line in got[0].read_text().splitlines() if line and not line.startswith("#")]
    assert len(rules) == 1 and rules[0].startswith(f"{b.name} ALL=(root) NOPASSWD: "), rules
    cmds = rules[0].split("NOPASSWD: ", 1)[1].split(", ")
    assert all(c.startswith("/") for c in cmds) and "ALL" not in " ".join(cmds), cmds
    assert str(OPT / "venv" / "bin" / "privsep-helper") in cmds
    assert cmds[-1].endswith(f"-f {got[0]}")            # clean's own rm, exactly
    b_stack["drop_in"] = [Path(c.split()[0]).name for c in cmds]
    # b's sudo still asks a password for anything else.
    r = subprocess.run(b.argv()[:-1] + ["sudo", "-n", "true"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0 and "password is required" in r.stderr, r.stderr


def test_b_server_port_active_and_metadata_through_sudo(world, b_stack):
    """A server on b's `private` network goes ACTIVE (nova's fake driver),
    its port is plugged into b's br-int by its iface-id, as a guest's tap
    would be, and goes ACTIVE; the OVN agent then starts the network's
    metadata haproxy in its namespace (root's work, through `sudo -n` and
    the drop-in, with no one to type a password), which then runs as b."""
    from stacktui.paths import Layout
    from stacktui.phases import ovn
    b = world["b"]
    port = osc_json(b_stack, "port", "create", "--network", "private", "b-port")
    images = [i["Name"] for i in osc_json(b_stack, "image", "list")]
    assert images, "b's install uploaded no image"
    osc(b_stack, "server", "create", "--flavor", "m1.tiny", "--image", images[0],
        "--nic", f"port-id={port['id']}", "--wait", "b-1", timeout=600)
    server = osc_json(b_stack, "server", "show", "b-1")
    assert server["status"] == "ACTIVE", server
    tap = "stkb" + port["id"][:8]
    subprocess.run(["ovs-vsctl", f"--db=unix:{ovn.ovs_db_sock(Layout(OPT))}", "--timeout=30",
                    "add-port", "br-int", tap, "--", "set", "Interface", tap, "type=internal",
                    f"external_ids:iface-id={port['id']}"], check=True, capture_output=True)
    wait_for("b's port ACTIVE", lambda: osc_json(b_stack, "port", "show", port["id"])["status"]
             == "ACTIVE", 120)
    # The network's metadata haproxy: started in its ovnmeta namespace by
    # `sudo -n ip netns exec` (entering a namespace takes root), then, as
    # neutron does (metadata_proxy_user empty: the agent's user), b's.
    def proxies() -> list:
        return [q for q in psutil.process_iter(["name", "cmdline"]) if q.info["name"] == "haproxy"
                and str(OPT) in " ".join(q.info["cmdline"] or [])]
    found = wait_for("the metadata haproxy of b's network", proxies, 120)
    stack_ns = f"net:[{(OPT / 'run' / 'netns' / 'stack').stat().st_ino}]"
    for q in found:
        ns = os.readlink(f"/proc/{q.pid}/ns/net")
        assert ns not in (os.readlink("/proc/self/ns/net"), stack_ns), ns
        assert q.uids().effective == pwd.getpwnam(b.name).pw_uid, q.uids()


RUNNER_SUDO = """
import sys
from pathlib import Path
from stacktui.apt import SUDO_PROMPT
from stacktui.masking import Masker
from stacktui.runner import Runner
pw = sys.stdin.readline().rstrip("\\n")
log = Path(sys.argv[1])
status, _ = Runner(log, Masker([pw])).run(["sudo", "-k", "id", "-u"], prompts={SUDO_PROMPT: pw},
                                           timeout=60)
print(status)
"""


def test_b_runner_answers_sudos_prompt_in_its_pty(world):
    """The engine's PTY runner (what runs apt for a user whose sudo wants a
    password) answers sudo's own prompt; the password, given on stdin, is in
    neither its log nor its output."""
    b = world["b"]
    log = b.home / "runner.log"
    argv = b.argv()[:-1] + [str(b.tool.parent / "python"), "-c", RUNNER_SUDO, str(log)]
    r = subprocess.run(argv, input=b.password + "\n", capture_output=True, text=True,
                       timeout=120, cwd=b.home)
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stdout + r.stderr
    text = log.read_text()
    assert "[sudo] password for" in text and "\n0\n" in text   # asked, answered, root's uid
    assert b.password not in text + r.stdout + r.stderr


class UserTerm(Term):
    """tmux (its own server) run by the user."""
    env_command = "env -i"      # the tmux server would inherit root's test environment

    def __init__(self, user: User, name: str):
        super().__init__(name)
        self.user = user
        self.cwd = user.home

    def command(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.user.name, "--", *argv]


def test_b_dashboard_in_tmux_restarts_its_pane(world, b_stack):
    """The switch's pane: root starts it (through `sudo -n` and the drop-in)
    at the restart too, with no one to type b's password."""
    b = world["b"]
    now = _dashboard_restart(b, "ovs-vswitchd")
    # sudo keeps b's real uid; the switch itself is b's again.
    assert psutil.Process(now["pid"]).uids().real == pwd.getpwnam(b.name).pw_uid
    wait_for("b's switch running as b", lambda: [
        q for q in b.processes() if q.name() == "ovs-vswitchd"
        and q.uids().effective == pwd.getpwnam(b.name).pw_uid], 30)


def _dashboard_restart(u: User, pane: str) -> dict:
    """`stacktui` (the dashboard) in tmux, run by ``u``: C-a and the pane's
    digit, then r; returns the pane's status once a new process runs it."""
    status = lambda: {p["name"]: p for p in  # noqa: E731
                      json.loads(u.stacktui("status", "--json").stdout)["panes"]}
    before = status()
    names = list(before)
    assert names.index(pane) < 10, names            # C-a and one digit
    t = UserTerm(u, f"dash-{u.name}")
    try:
        t.start(str(u.tool), u.env())
        t.wait("FOLLOW", timeout=60)
        t.keys("C-a", str(names.index(pane)))
        t.wait(f" {pane} ", timeout=10)
        t.keys("r")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            now = status()[pane]
            if now["pid"] not in (None, before[pane]["pid"]) and now["state"] == "running":
                break
            time.sleep(1)
        else:
            raise AssertionError(f"{pane} did not restart: {status()[pane]}\n{t.screen()}")
        t.keys("q")
        t.wait("STACKTUI-EXITED 0", timeout=20)
        return now
    finally:
        t.kill()


def _reboot_and_up(u: User, stack: dict, timeout: float) -> subprocess.CompletedProcess:
    """A simulated reboot of ``u``'s stack (every process killed, /run's
    contents lost), then `stacktui up` as ``u``; its time in stack["up_seconds"]."""
    assert kill_stack(stack["dest"])
    shutil.rmtree(stack["dest"] / "run")
    t0 = time.monotonic()
    r = u.stacktui("up", timeout=timeout)
    stack["up_seconds"] = time.monotonic() - t0
    assert "is up" in r.stdout, r.stdout
    return r


def test_b_up_after_simulated_reboot(world, b_stack):
    b = world["b"]
    r = _reboot_and_up(b, b_stack, timeout=600)
    # Not asked: nothing could have typed it (stdin is /dev/null).
    assert "[sudo] password" not in r.stdout + r.stderr, r.stdout + r.stderr
    for name in B_SERVICES:
        assert f"{name}: running" in r.stdout, r.stdout
    # The namespace and its links came back through the drop-in.
    from stacktui import netns
    from stacktui.paths import Layout
    assert netns.host_link(Layout(OPT)) in host_links()


# Not the ranges of the session's DevStack-profile stack, which may be up.
A_FIXED, A_FLOATING = "10.93.0.0/22", unrouted_range("172.29.140.0/24")
# What runs as root in an ordinary user's stack, by pane (stacktui/privileged.py;
# the README lists each): sudo and what it starts before the service drops
# to the user, the agent's privsep helpers, and the haproxy they start.
ROOT_IN_PANE = {"ovs-vswitchd": {"sudo"},
                "q-ovn-agent": {"sudo", "unshare", "privsep-helper", "haproxy"}}


def _proc_name(p: psutil.Process) -> str:
    cmd = p.cmdline()
    # privsep-helper is a python script: its name is in argv[1].
    for a in cmd[:2]:
        if Path(a).name in ("privsep-helper",):
            return Path(a).name
    return p.name()


def a_install(world, b_ports: dict) -> dict:
    """a's DevStack cloud (neutron, nova on the fake driver, cinder,
    horizon), DEST by default, once b holds /opt/stack. Run in a thread
    beside b's install and tests (the module's time); a_stack waits for it."""
    a, b = world["a"], world["b"]
    world["a_install"]["minimal"] = a_minimal_cloud(a)
    deadline = time.monotonic() + 900
    while not (OPT.is_dir() and OPT.stat().st_uid == pwd.getpwnam(b.name).pw_uid):
        if time.monotonic() > deadline:
            raise AssertionError(f"{OPT} never became {b.name}'s")
        time.sleep(0.5)
    taken = set(b_ports.values()) | {b_ports["ovn-northd"] + 1}
    ports = stack_ports(DEVSTACK_PORTED)
    while (set(ports.values()) | {ports["ovn-northd"] + 1}) & taken:   # b's may not listen yet
        ports = stack_ports(DEVSTACK_PORTED)
    answers = a.write("stacktui.yaml", yaml.safe_dump(
        {"host_ip": "127.0.0.1", "ports": ports, "database": "mysql", "profile": "devstack",
         "passwords": DEVSTACK_PASSWORDS, "virt_driver": "fake", "fixed_range": A_FIXED,
         "floating_range": A_FLOATING}, allow_unicode=True))
    r = a.stacktui("check", "--answers", answers, "--json", check=False)
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    t0 = time.monotonic()
    r = a.stacktui("install", "--answers", answers, "--yes", check=False, timeout=1500)
    dest = a.home / ".local" / "share" / "stacktui" / "stack"
    return {"dest": dest, "ports": ports, "install_seconds": time.monotonic() - t0,
            "returncode": r.returncode, "output": r.stdout + r.stderr, "env": cloud_env(dest),
            "root": world["root"], "checks": checks}


def a_minimal_cloud(a: User) -> dict:
    """The README's first command as a: the minimal cloud (keystone, glance,
    placement on SQLite: no services, database or passwords given), then
    `unstack --all` and `clean`. Beside b's install; before a's DevStack one."""
    dest = a.home / "minimal"
    answers = a.write("minimal.yaml", yaml.safe_dump(
        {"dest": str(dest), "host_ip": "127.0.0.1",
         "ports": stack_ports(["key", "g-api", "placement-api"])}))
    t0 = time.monotonic()
    r = a.stacktui("install", "--answers", answers, "--yes", check=False, timeout=900)
    out = {"returncode": r.returncode, "output": r.stdout + r.stderr,
           "seconds": time.monotonic() - t0, "dest": dest}
    if r.returncode != 0:
        return out
    stack = {"dest": dest, "env": cloud_env(dest)}
    out["token"] = osc_json(stack, "token", "issue")
    out["endpoints"] = {e["Service Type"] for e in osc_json(stack, "endpoint", "list")}
    out["panes"] = {p["name"]: p["state"]
                    for p in json.loads(a.stacktui("status", "--json").stdout)["panes"]}
    out["database"] = sorted(p.name for p in (dest / "data").glob("*/*.sqlite"))
    a.stacktui("--dest", dest, "unstack", "--all", timeout=180)
    a.stacktui("--dest", dest, "clean", "--yes", timeout=180)
    deadline = time.monotonic() + 30     # as after b's unstack: the last exits take a moment
    while a.processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    out["left"] = [(p.pid, p.name()) for p in a.processes()]
    out["venv_left"] = (dest / "venv").exists()
    return out


def start_a_install(world, b_ports: dict) -> None:
    box = world["a_install"] = {}

    def run():
        try:
            box["stack"] = a_install(world, b_ports)
        except BaseException as e:  # noqa: BLE001 - raised again by a_stack
            box["error"] = e

    box["thread"] = threading.Thread(target=run, daemon=True)
    box["thread"].start()


@pytest.fixture(scope="module")
def a_stack(world, b_stack):
    box = world["a_install"]
    box["thread"].join(timeout=1500)
    if "error" in box:
        raise box["error"]
    stack = box["stack"]
    got = stack["checks"]
    assert stack["returncode"] == 0, stack["output"][-3000:]
    assert f"{OPT} belongs to another user ({world['b'].name})" in got["dest"]["measured"], got
    assert got["privileges"]["status"] == "ok", got["privileges"]
    assert (stack["dest"] / "stacktui-state.json").exists()
    world["stacks"]["a"] = stack
    return stack


def test_a_minimal_cloud_default_then_clean(world, a_stack):
    """a's minimal cloud, as the README's first command makes it: every
    pane a's, a token and the three services' endpoints, SQLite files under
    DEST; unstack and clean leave no process and no venv."""
    m = world["a_install"]["minimal"]
    assert m["returncode"] == 0, m["output"][-3000:]
    assert m["token"]["project_id"], m["token"]
    assert {"identity", "image", "placement"} <= m["endpoints"], m["endpoints"]
    assert m["panes"] == {"key": "running", "g-api": "running", "placement-api": "running"}, \
        m["panes"]
    assert {"keystone.sqlite", "glance.sqlite", "placement.sqlite"} <= set(m["database"]), m["database"]
    assert not m["left"] and not m["venv_left"], m


def test_a_devstack_profile_as_an_ordinary_user(world, a_stack):
    a = world["a"]
    log = (a_stack["dest"] / "logs" / "stack.log").read_text()
    assert "MariaDB: databases" in log
    assert "neutron: public, private, router1 present" in log, log[-3000:]
    assert "OVN controller agent(s) alive" in log
    for pw in DEVSTACK_PASSWORDS.values():
        assert pw not in log + a_stack["output"]
    keep, _ = catalog.profile_services("devstack")
    panes = json.loads(a.stacktui("status", "--json").stdout)["panes"]
    assert {s for s in keep if s != "tempest"} <= {p["name"] for p in panes}
    uid = pwd.getpwnam(a.name).pw_uid
    as_root = {}
    for p in panes:
        assert p["state"] == "running", p
        leader = psutil.Process(p["pid"])
        tree = [leader, *leader.children(recursive=True)]
        root_names = {_proc_name(q) for q in tree if q.uids().effective == 0}
        assert root_names <= ROOT_IN_PANE.get(p["name"], set()), (p["name"], root_names)
        if root_names:
            as_root[p["name"]] = sorted(root_names)
        # The service itself is a's, whoever made its namespaces.
        assert [q for q in tree if q.uids().effective == uid], p
    assert set(as_root) == set(ROOT_IN_PANE), as_root
    daemons = {q.name(): q.uids().effective for q in a.processes()}
    assert daemons.get("ovs-vswitchd") == uid, daemons
    assert [q for q in a.processes() if q.uids().effective == uid
            and " ".join(q.cmdline()).startswith("neutron-ovn-agent")]
    a_stack["as_root"] = as_root


def test_a_server_on_private_active_volume_and_dashboard(world, a_stack):
    port = osc_json(a_stack, "port", "create", "--network", "private", "user-port")
    osc(a_stack, "server", "create", "--flavor", "m1.tiny", "--image", "stacktui-guest",
        "--nic", f"port-id={port['id']}", "--wait", "user-1", timeout=600)
    server = osc_json(a_stack, "server", "show", "user-1")
    assert server["status"] == "ACTIVE", server
    assert "private" in json.dumps(server["addresses"])
    vol = osc_json(a_stack, "volume", "create", "--size", "1", "user-vol")
    wait_for("volume available", lambda: osc_json(a_stack, "volume", "show", vol["id"])["status"]
             == "available", 120)
    osc(a_stack, "server", "add", "volume", "user-1", vol["id"])
    wait_for("volume in-use", lambda: osc_json(a_stack, "volume", "show", vol["id"])["status"]
             == "in-use", 120)
    assert _check_assets(f"http://127.0.0.1:{a_stack['ports']['horizon']}")


def test_a_dashboard_restart_and_up_after_simulated_reboot(world, a_stack):
    """a's DevStack-profile stack: the dashboard restarts a's keystone as a;
    after a simulated reboot (every process gone, /run's contents lost)
    `up` brings back every pane and the namespace, and the cloud serves:
    the server made before it is still listed and a network is made."""
    a = world["a"]
    now = _dashboard_restart(a, "key")
    assert psutil.Process(now["pid"]).uids().effective == pwd.getpwnam(a.name).pw_uid
    dest = a_stack["dest"]
    r = _reboot_and_up(a, a_stack, timeout=900)
    keep, _ = catalog.profile_services("devstack")
    for name in keep:
        if name != "tempest":
            assert f"{name}: running" in r.stdout, r.stdout
    from stacktui import netns
    from stacktui.paths import Layout
    assert netns.host_link(Layout(dest)) in host_links()
    assert osc_json(a_stack, "server", "show", "user-1")["name"] == "user-1"
    net = osc_json(a_stack, "network", "create", "after-up")
    assert net["status"] == "ACTIVE", net


def test_two_users_each_reach_only_their_own(world, a_stack, b_stack):
    a, b = world["a"], world["b"]
    a_pids = {p["name"]: p["pid"] for p in json.loads(a.stacktui("status", "--json").stdout)["panes"]}
    b_pids = {p["name"]: p["pid"] for p in json.loads(b.stacktui("status", "--json").stdout)["panes"]}
    assert not set(a_pids.values()) & set(b_pids.values())
    # Neither reaches the other's supervisor, even when naming its DEST.
    for u, other in ((a, b_stack), (b, a_stack)):
        r = u.stacktui("--dest", other["dest"], "status", check=False)
        assert r.returncode != 0, r.stdout
        r = u.stacktui("--dest", other["dest"], "stop", "key", check=False)
        assert r.returncode != 0, r.stdout
    # a stops its keystone: b's keeps running.
    a.stacktui("stop", "key")
    assert psutil.Process(b_pids["key"]).is_running()
    b_now = {p["name"]: p for p in json.loads(b.stacktui("status", "--json").stdout)["panes"]}
    assert b_now["key"]["state"] == "running" and b_now["key"]["pid"] == b_pids["key"]
    a_now = {p["name"]: p for p in json.loads(a.stacktui("status", "--json").stdout)["panes"]}
    assert a_now["key"]["state"] != "running"
    a.stacktui("start", "key")


def test_unstack_all_and_clean_leave_nothing(world, a_stack, b_stack):
    for key in ("a", "b"):
        u, stack = world[key], world["stacks"][key]
        u.stacktui("unstack", "--all", timeout=180)
        deadline = time.monotonic() + 30
        while u.processes() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not u.processes(), [(p.pid, p.name()) for p in u.processes()]
        r = u.stacktui("clean", "--yes", timeout=180)
        assert not drop_ins(u), r.stdout + r.stderr
        assert not (stack["dest"] / "venv").exists()
        assert not (stack["dest"] / "stacktui-state.json").exists()
    # a's namespace and its host link went with the stack (the kernel frees
    # them once the last process in the namespace is gone). By name: other
    # stacks on this machine come and go meanwhile.
    from stacktui import netns
    from stacktui.paths import Layout
    link = netns.host_link(Layout(a_stack["dest"]))
    assert str(a_stack["dest"]) not in Path("/proc/self/mounts").read_text()
    wait_for(f"a's link {link} gone", lambda: link not in host_links(), 60)
    print(f"a minimal install {world['a_install']['minimal']['seconds']:.1f}s, "
          f"b install {b_stack['install_seconds']:.1f}s, "
          f"a devstack-profile install {a_stack['install_seconds']:.1f}s, "
          f"b up after reboot {b_stack.get('up_seconds', 0):.1f}s, "
          f"a up after reboot {a_stack.get('up_seconds', 0):.1f}s; "
          f"b's drop-in: {b_stack.get('drop_in')}; "
          f"as root in a's stack: {a_stack.get('as_root')}")
