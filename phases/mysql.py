"""MariaDB (`mysql`): the database every service uses with `database: mysql`.

The data directory lives under DEST (so `clean` really cleans and two stacks
never share one) and mariadbd runs in the foreground in a pane as the user
who owns DEST: a DEST below a 0700 folder (pytest's tmp, a home directory)
would be out of reach for the `mysql` system user.

The administrator is reached over the Unix socket by the unix_socket plugin:
mariadb-install-db makes an all-powerful account named after the OS user
running stacktui (--auth-root-socket-user), beside 'root'@'localhost' which
only OS root may use; the client logs in as that account, so an ordinary
user's stack is administered without sudo and no step needs a password on a
command line or in a file. The database password is what root and each
service's user use over TCP. SQL goes to the `mariadb` client on stdin.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from urllib.parse import quote

from stacktui.errors import StackError
from stacktui.fsutil import atomic_write, make_dirs
from stacktui.service import ServiceSpec, pane_spec

SERVICES = ("mysql",)
PACKAGES = ("mariadb-server", "mariadb-client")
# keystone's init (db_sync) runs before any pane would start: the database
# has to be up by then, so the engine starts this module right after its init.
START_EARLY = True
READY_TIMEOUT = 90



def _etc(layout):
    return layout.etc / "mysql"


def _cnf(layout):
    return _etc(layout) / "my.cnf"


def _datadir(layout):
    return layout.data / "mysql"


def _sock(layout):
    return layout.run / "mysqld.sock"


def _user() -> str:
    return getpass.getuser()


def _server_bin() -> str:
    for name in ("mariadbd", "mysqld"):
        for d in ("/usr/sbin", "/usr/libexec", "/usr/bin"):
            if os.path.exists(os.path.join(d, name)):
                return os.path.join(d, name)
    exe = shutil.which("mariadbd") or shutil.which("mysqld")
    if not exe:
        raise StackError("mariadbd not found: the prerequisites step installs mariadb-server")
    return exe


def _client_bin() -> str:
    exe = shutil.which("mariadb") or shutil.which("mysql")
    if not exe:
        raise StackError("the mariadb client is not installed (package mariadb-client)")
    return exe


def my_cnf(answers, layout) -> str:
    """The server's and the client's options. Memory is trimmed the way
    DevStack's MYSQL_REDUCE_MEMORY does (small buffers and caches, no
    performance schema): a dev cloud's databases are tiny."""
    lines = [
        "[client-server]",
        f"socket = {_sock(layout)}",
        f"port = {answers.port('mysql')}",
        "",
        "[mysqld]",
        f"user = {_user()}",
        f"datadir = {_datadir(layout)}",
        f"pid-file = {layout.run / 'mysqld.pid'}",
        f"bind-address = {answers.bind_host}",
        f"tmpdir = {layout.data / 'mysql-tmp'}",
        "skip-name-resolve",
        "skip-log-bin",
        "character-set-server = utf8mb3",
        "collation-server = utf8mb3_general_ci",
        "sql_mode = TRADITIONAL",
        "default-storage-engine = InnoDB",
        "max_connections = 1024",
        "performance_schema = OFF",
        "innodb_buffer_pool_size = 32M",
        "innodb_log_file_size = 32M",
        "innodb_log_buffer_size = 4M",
        # A commit reaches the OS, not the disk: survives a killed mariadbd,
        # and makes nova's few hundred schema migrations several times faster.
        "innodb_flush_log_at_trx_commit = 2",
        "key_buffer_size = 1M",
        "aria_pagecache_buffer_size = 8M",
        "query_cache_size = 0",
        "query_cache_type = 0",
        "thread_cache_size = 8",
        "thread_stack = 256K",
        "table_open_cache = 400",
        "table_definition_cache = 400",
        "tmp_table_size = 8M",
        "max_heap_table_size = 8M",
        "sort_buffer_size = 256K",
        "read_buffer_size = 64K",
        "read_rnd_buffer_size = 128K",
        "join_buffer_size = 256K",
        "max_allowed_packet = 16M",
        "",
    ]
    return "\n".join(lines)


def db_url(answers, name: str) -> str:
    # Percent-encoding makes any password safe inside the URL.
    pw = quote(answers.password("database"), safe="")
    host = f"{answers.url_host()}:{answers.port(SERVICES[0])}"
    return f"mysql+pymysql://{name}:{pw}@{host}/{name}?charset=utf8"


def inputs(answers, phase):
    return {"port": answers.port("mysql"), "host_ip": answers.host_ip,
            "password": answers.password("database") if phase == "accounts" else None,
            "databases": databases(answers) if phase == "accounts" else None}


def configure(ctx):
    L = ctx.layout
    for d in (_etc(L), _datadir(L), L.data / "mysql-tmp"):
        make_dirs(d, mode=0o750)
    atomic_write(_cnf(L), my_cnf(ctx.answers, L), mode=0o640)


def init(ctx):
    """The data directory, made once: a rerun keeps every database in it."""
    L = ctx.layout
    if (_datadir(L) / "mysql").is_dir():
        ctx.say(f"MariaDB data directory {_datadir(L)} already initialised")
        return
    exe = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not exe:
        raise StackError("mariadb-install-db not found: the prerequisites step installs mariadb-server")
    ctx.run([exe, f"--defaults-file={_cnf(L)}", "--auth-root-authentication-method=socket",
             f"--auth-root-socket-user={_user()}", "--skip-test-db", "--skip-name-resolve"],
            timeout=300)


def before_up(answers, layout):
    # After a reboot DEST/run is empty; mariadbd wants the folder of its socket.
    layout.run.mkdir(parents=True, exist_ok=True, mode=0o700)
    (layout.data / "mysql-tmp").mkdir(parents=True, exist_ok=True)


def panes(ctx) -> list[dict]:
    before_up(ctx.answers, ctx.layout)
    a = ctx.answers
    return [pane_spec(ctx, "mysql", [_server_bin(), f"--defaults-file={_cnf(ctx.layout)}"],
                      ready={"tcp": [a.bind_host, a.port("mysql")]}, port=a.port("mysql"),
                      infra=True, stop_timeout=60)]


# ------------------------------------------------------------ databases

def sql_string(value: str) -> str:
    """A MariaDB string literal for any text (sql_mode without
    NO_BACKSLASH_ESCAPES, which the session below makes sure of)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def databases(answers) -> dict[str, list[str]]:
    """Every database the enabled services use, with the users that reach it."""
    from stacktui.engine import service_specs
    out: dict[str, list[str]] = {}
    for spec in service_specs(answers):
        for db, users in spec.databases.items():
            out.setdefault(db, [])
            out[db] += [u for u in users if u not in out[db]]
    return out


def root_hosts(answers) -> list[str]:
    """Where root may log in with the database password from: this host's
    own addresses, which is where every service and the CLI connect from
    (MariaDB runs with --skip-name-resolve, so these are addresses). Not
    '%': DevStack's root@'%' with GRANT takes the password from anywhere
    that reaches HOST_IP."""
    hosts = ["127.0.0.1", "::1", answers.data.get("host_ip") or "127.0.0.1"]
    return sorted(set(h.strip("[]") for h in hosts))


def setup_sql(password: str, dbs: dict[str, list[str]],
              hosts: list[str] | tuple[str, ...] = ("127.0.0.1", "::1")) -> str:
    pw = sql_string(password)
    roots = []
    for h in hosts:
        roots += [f"CREATE USER IF NOT EXISTS 'root'@{sql_string(h)} IDENTIFIED BY {pw};",
                  f"ALTER USER 'root'@{sql_string(h)} IDENTIFIED BY {pw};",
                  f"GRANT ALL PRIVILEGES ON *.* TO 'root'@{sql_string(h)} WITH GRANT OPTION;"]
    out = ["SET SESSION sql_mode = 'TRADITIONAL';",
           # Anonymous users would shadow 'svc'@'%' for local connections.
           "DELETE FROM mysql.global_priv WHERE User = '';",
           "FLUSH PRIVILEGES;",
           f"ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR "
           f"mysql_native_password USING PASSWORD({pw});",
           *roots,
           # Stacks made before root was limited had root@'%'.
           "DROP USER IF EXISTS 'root'@'%';"]
    users = sorted({u for us in dbs.values() for u in us})
    for u in users:
        out += [f"CREATE USER IF NOT EXISTS {sql_string(u)}@'%' IDENTIFIED BY {pw};",
                f"ALTER USER {sql_string(u)}@'%' IDENTIFIED BY {pw};"]
    for db, us in dbs.items():
        out.append(f"CREATE DATABASE IF NOT EXISTS {_ident(db)} CHARACTER SET utf8mb3;")
        for u in us:
            out.append(f"GRANT ALL PRIVILEGES ON {_ident(db)}.* TO {sql_string(u)}@'%';")
    out.append("FLUSH PRIVILEGES;")
    return "\n".join(out) + "\n"


def run_sql(ctx, sql: str, what: str) -> str:
    """SQL as the administrator over the socket (the account named after
    this OS user; 'root' only for root, ERROR 1698 for anyone else), on
    stdin: nothing secret on a command line."""
    argv = [_client_bin(), f"--defaults-file={_cnf(ctx.layout)}", "--protocol=socket",
            f"--user={_user()}",
            "--batch", "--default-character-set=utf8mb4"]
    ctx.runner.note("$ " + " ".join(argv) + f"  < ({what})")
    r = subprocess.run(argv, input=sql.encode(), capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    for line in out.splitlines():
        ctx.runner.note(line)
    if r.returncode != 0:
        raise StackError(f"MariaDB refused {what}: {ctx.runner.masker(out.strip()[-400:])}")
    return r.stdout.decode(errors="replace")


def accounts(ctx):
    """Root's password, then a database and a user per service; run again it
    changes nothing (or the passwords, when the answers changed them)."""
    dbs = databases(ctx.answers)
    run_sql(ctx, setup_sql(ctx.answers.password("database"), dbs, root_hosts(ctx.answers)),
            "users and databases")
    ctx.say(f"MariaDB: databases {', '.join(dbs) or '(none yet)'} ready on "
            f"{ctx.answers.bind_host}:{ctx.answers.port('mysql')}")


def cleanup(ctx):
    for d in (_etc(ctx.layout), _datadir(ctx.layout), ctx.layout.data / "mysql-tmp"):
        shutil.rmtree(d, ignore_errors=True)


SPEC = ServiceSpec(
    "mysql", SERVICES, configure=configure, init=init, panes=panes, accounts=accounts,
    before_up=before_up, cleanup=cleanup, inputs=inputs,
    start_early=START_EARLY, ready_timeout=READY_TIMEOUT, packages=PACKAGES,
    database_type="mysql", db_url=db_url, kolla_flags={"mysql": ("enable_mariadb",)})
