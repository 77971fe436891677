"""A failed step says why in one line: the cause picked from its output.

The samples are shaped like what the services print (oslo.log lines,
Python tracebacks, alembic and deprecation chatter), taken from this
project's own failed runs.
"""

from stacktui.errors import cause_line, failure_summary

KEYSTONE_FERNET = [
    "/venv/lib/python3.11/site-packages/eventlet/support/greenlets.py:6: DeprecationWarning: ...",
    "INFO  [alembic.runtime.migration] Context impl SQLiteImpl.",
    "INFO  [alembic.runtime.migration] Will assume non-transactional DDL.",
    "2026-12-01 10:39:12.101 4711 WARNING keystone.common.fernet_utils [-] key_repository is world readable",
    "2026-12-01 10:39:12.105 4711 ERROR keystone [-] /etc/keystone/fernet-keys/ does not exist",
    "/venv/lib/python3.11/site-packages/oslo_policy/policy.py:809: UserWarning: Policy is deprecated",
    "  warnings.warn(deprecated_msg)",
]

TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/venv/bin/glance-manage", line 10, in <module>',
    "    sys.exit(main())",
    "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) unable to open database file",
    "DeprecationWarning: datetime.utcnow() is deprecated",
]


def test_the_error_line_wins_over_later_warnings():
    assert cause_line(KEYSTONE_FERNET).endswith("ERROR keystone [-] /etc/keystone/fernet-keys/ does not exist")


def test_a_traceback_gives_its_exception_line():
    assert cause_line(TRACEBACK).startswith("sqlalchemy.exc.OperationalError: (sqlite3.OperationalError)")


def test_without_an_error_line_the_last_line_that_is_not_a_warning():
    assert cause_line(["starting", "port 5000 in use", "DeprecationWarning: x"]) == "port 5000 in use"
    assert cause_line([]) is None


def test_the_summary_is_one_line_with_what_failed():
    line = failure_summary("python failed with exit code 1", KEYSTONE_FERNET)
    assert "\n" not in line
    assert line.endswith("does not exist (python failed with exit code 1)")
    assert failure_summary("no such file", []) == "no such file"
