"""The PTY runner: real commands, prompts answered, secrets masked."""

from __future__ import annotations

import sys

import pytest

from stacktui.errors import StackError
from stacktui.masking import Masker
from stacktui.runner import Runner
from stacktui.apt import SUDO_PROMPT

SECRET = "s3cr€t 'q' $x %2F"

# A stand-in for sudo: asks on the terminal with echo off, as sudo does.
# (Real sudo cannot be exercised here: the tests run as root.)
ASKER = r'''
import getpass, sys
pw = getpass.getpass("[sudo] password for tester: ")
print("progress 50%")
print("got it" if pw == sys.argv[1] else "wrong: " + repr(pw))
print("echo of the secret: " + pw)
sys.exit(0 if pw == sys.argv[1] else 3)
'''


def make(tmp_path, lines):
    return Runner(tmp_path / "stack.log", Masker([SECRET]),
                  on_line=lambda line, tag: lines.append((tag, line)))


def test_prompt_is_answered_and_secret_masked(tmp_path):
    lines = []
    r = make(tmp_path, lines)
    # The expected password goes by a file here only to check the answer; the
    # engine never puts a secret on a command line.
    (tmp_path / "asker.py").write_text(ASKER.replace("sys.argv[1]", "open(%r).read()"
                                                     % str(tmp_path / "pw")))
    (tmp_path / "pw").write_text(SECRET)
    status, tail = r.run([sys.executable, str(tmp_path / "asker.py")], prompts={SUDO_PROMPT: SECRET},
                         tag="prerequisites")
    r.close()
    assert status == 0
    texts = [t for _, t in lines]
    assert "got it" in texts and "progress 50%" in texts
    assert all(tag == "prerequisites" for tag, _ in lines)
    log = (tmp_path / "stack.log").read_text()
    assert SECRET not in log and "echo of the secret: ****" in log
    assert (tmp_path / "stack.log").stat().st_mode & 0o777 == 0o640


def test_failure_carries_exit_code_and_tail(tmp_path):
    r = make(tmp_path, [])
    with pytest.raises(StackError) as e:
        r.run([sys.executable, "-c", "print('first'); print('last words'); raise SystemExit(4)"])
    assert "exit code 4" in str(e.value)
    assert e.value.tail[-1] == "last words"
    r.close()


def test_missing_program_is_a_clear_error(tmp_path):
    r = make(tmp_path, [])
    with pytest.raises(StackError, match="cannot run /nonexistent/tool"):
        r.run(["/nonexistent/tool"])
    r.close()
