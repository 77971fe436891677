"""verify: prove the installed cloud works.

Without options, the API checks of the install's verify phase (a token, the
catalog, an image round trip, placement). With ``--tempest``, OpenStack's own
test suite: smoke (the default), full, or a regex, run with stestr in a
workspace under DEST; the counts, and every skip with its reason, at the end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from . import tempest_conf
from .errors import Problem, StackError, UserError
from .masking import Masker
from .stacks import installed

# DevStack's "full": the API and scenario tests, slow ones left out.
FULL_REGEX = r"^tempest\.(api|scenario)\."
SLOW_REGEX = r"\[.*\bslow\b.*\]"

# "{0} tempest.api.x.Test.test_y [0.5s] ... ok" and "{1} setUpClass (tempest.api.x.Test)
# ... SKIPPED: Nova is not available" (a whole class skipped at once).
_RESULT = re.compile(r"^\{\d+\}\s+(?P<test>.+?)(?:\s+\[[\d.]+s\])?\s+\.\.\.\s+"
                     r"(?P<status>ok|FAILED|SKIPPED)(?::\s*(?P<reason>.*))?\s*$")
_TOTAL = re.compile(r"^\s*-\s*(Passed|Skipped|Failed|Expected Fail|Unexpected Success):\s*(\d+)")
_RAN = re.compile(r"^Ran:\s*(\d+) tests? in ([\d.]+) sec")


def register(sub) -> None:
    p = sub.add_parser("verify", help="check the cloud's APIs; --tempest runs OpenStack's test suite")
    p.add_argument("--tempest", nargs="?", const="smoke", metavar="smoke|full|REGEX",
                   help="run tempest: smoke (default), full, or the tests matching REGEX")
    p.add_argument("--concurrency", type=int, default=0,
                   help="test workers (default: the number of CPUs)")
    p.add_argument("--exclude", metavar="REGEX", help="leave out the tests matching REGEX")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args) -> int:
    layout, ans = installed(args)
    if args.tempest is None:
        return _api_checks(layout, ans)
    return run_tempest(layout, ans, args.tempest, concurrency=args.concurrency,
                       exclude=args.exclude, as_json=args.json)


def _api_checks(layout, ans) -> int:
    from . import events
    from .engine import Context
    from .runner import Runner
    from .phases import verify
    runner = Runner(layout.logs / "verify.log", Masker(ans.secret_values))
    bus = events.Bus()
    bus.subscribe(lambda ev: print(ev.text) if isinstance(ev, events.Output) and ev.text else None)
    try:
        verify.run(Context(ans, layout, bus, runner))
    finally:
        runner.close()
    print("verify: all checks passed")
    return 0


def selection(which: str, exclude: str | None) -> list[str]:
    if which == "smoke":
        sel = ["--smoke"]
    elif which == "full":
        sel = ["--regex", FULL_REGEX, "--exclude-regex", SLOW_REGEX]
    else:
        try:
            re.compile(which)
        except re.error as e:
            raise UserError(Problem(f"--tempest {which!r} is not a regular expression: {e}",
                                    key="--tempest", fix="smoke, full, or a Python regex")) from None
        sel = ["--regex", which]
    if exclude:
        if "--exclude-regex" in sel:
            i = sel.index("--exclude-regex") + 1
            sel[i] = f"({sel[i]})|({exclude})"
        else:
            sel += ["--exclude-regex", exclude]
    return sel


def _run_plain(argv, env=None) -> None:
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       env={**os.environ, **(env or {})})
    if r.returncode != 0:
        raise StackError(f"{' '.join(map(str, argv[:3]))} failed: {(r.stderr or r.stdout)[-2000:]}")


def run_tempest(layout, ans, which: str = "smoke", *, concurrency: int = 0,
                exclude: str | None = None, as_json: bool = False) -> int:
    from .phases import tempest as phase
    if not phase.tempest_bin(layout).exists():
        # Not among the enabled services: build its venv now (seconds from
        # uv's cache) rather than send the user back to install.
        print(f"installing tempest into {tempest_conf.venv(layout)} ...", flush=True)
        phase.install(layout, _run_plain)
    ws = phase.make_workspace(layout)
    found = {}
    try:
        found = phase.discover(ans)
    except Exception as e:  # noqa: BLE001 - the conf without them still runs the rest
        print(f"verify: could not look up images, flavors or networks: {e}", file=sys.stderr)
    # Written again each run, so a changed stack never meets a stale conf.
    conf = tempest_conf.write(ans, layout, found)
    no_ssh = tempest_conf.validation_off_reason(ans, found)
    workers = concurrency or os.cpu_count() or 1
    skipped_here = left_out(ans)
    if skipped_here:
        exclude = "|".join(([f"({exclude})"] if exclude else [])
                           + [re.escape(name) + r"[.\[]" for name in skipped_here])
    argv = [str(phase.tempest_bin(layout)), "run", "--config-file", str(conf),
            "--concurrency", str(workers), *selection(which, exclude)]
    mask = Masker(ans.secret_values)
    print(f"tempest: {which} in {ws} ({workers} workers)", flush=True)
    print("tempest: SSH validation " + (f"off: {no_ssh}" if no_ssh else
          f"on: servers are checked over SSH through floating IPs as "
          f"{found.get('image_ssh_user')}"), flush=True)
    t0 = time.monotonic()
    lines: list[str] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("VIRTUAL_ENV", None)
    with subprocess.Popen(argv, cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True, errors="replace", env=env) as proc:
        for raw in proc.stdout:
            line = mask(raw.rstrip("\n"))
            lines.append(line)
            if not as_json:
                print(line, flush=True)
        rc = proc.wait()
    result = parse(lines)
    reasons = {reason_key(s["reason"]) for s in result["skips"]}
    result["explained"] = {k: explain(k, ans.services, no_ssh) for k in sorted(reasons)}
    result["validation"] = {"run_validation": no_ssh is None, "why_off": no_ssh}
    result["unexplained_skips"] = sorted(k for k, v in result["explained"].items() if not v)
    result["left_out"] = skipped_here
    result.update({"selection": which, "exit_code": rc, "seconds": round(time.monotonic() - t0, 1),
                   "config": str(conf), "workspace": str(ws)})
    out = tempest_conf.root(layout) / "last-result.json"
    out.write_text(json.dumps(result, indent=1))
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        print_result(result)
    if result["failed"] or result["ran"] == 0 or rc != 0:
        return 1
    return 0


def parse(lines: list[str]) -> dict:
    """Counts and per-test outcomes from tempest's (subunit-trace) output."""
    res = {"ran": 0, "passed": 0, "skipped": 0, "failed": 0, "expected_fail": 0,
           "unexpected_success": 0, "failures": [], "skips": []}
    tests: dict[str, tuple[str, str]] = {}
    for line in lines:
        m = _RESULT.match(line)
        if m:
            tests[m["test"]] = (m["status"], (m["reason"] or "").strip())
            continue
        m = _RAN.match(line.strip())
        if m:
            res["ran"] = int(m[1])
            continue
        m = _TOTAL.match(line)
        if m:
            res[m[1].lower().replace(" ", "_")] = int(m[2])
    for name, (status, reason) in sorted(tests.items()):
        if status == "FAILED":
            res["failures"].append(name)
        elif status == "SKIPPED":
            res["skips"].append({"test": name, "reason": reason})
    if not res["ran"] and tests:
        # The totals block is missing when the run was cut short: count ourselves.
        c = Counter(s for s, _ in tests.values())
        res.update(ran=len(tests), passed=c["ok"], skipped=c["SKIPPED"], failed=c["FAILED"])
    return res


# A skip is explained when it names something this stack does not run.
_WHY = ((re.compile(r"\bnova\b|compute service", re.I), "n-api"),
        (re.compile(r"\bneutron\b|network service", re.I), "q-svc"),
        (re.compile(r"\bcinder\b|volume service", re.I), "c-api"),
        (re.compile(r"\bswift\b", re.I), "s-proxy"),
        (re.compile(r"\bhorizon\b", re.I), "horizon"))
_MULTINODE = re.compile(r"compute nodes|multinode|multi-node", re.I)
# tempest.conf turns run_validation off where no guest can answer SSH
# (tempest_conf.validation_off_reason says why).
_VALIDATION = re.compile(r"validation (should|must) be enabled|run_validation"
                         r"|validation tests are disabled", re.I)
# Scenarios that ping or SSH into a guest through a floating IP whatever
# run_validation says: with nova's fake driver no guest exists, so each one
# would only time out (5 minutes apiece). Left out, and said so.
NEEDS_A_GUEST = {
    "tempest.scenario.test_network_basic_ops":
        "pings and SSHes into a guest over its floating IP; nova's fake driver runs no guest",
}


# Glance's import tests whose preconditions no stack here meets. tempest.conf
# turns the import workflow on (glance-direct works and is tested); DevStack's
# default leaves it off, which skips these with the rest.
GLANCE_IMPORT = {
    "tempest.api.image.v2.admin.test_images.ImportCopyImagesTest.test_image_copy_image_import":
        "copies an image to glance's other stores; this glance has one (fast), so the copy "
        "ends at once and the test waits out its timeout",
    "tempest.api.image.v2.test_images.ImportImagesTest.test_image_web_download_import":
        "glance downloads CirrOS from its site; with no internet glance's URI filter "
        "cannot resolve the host and refuses it",
}


def left_out(ans) -> dict[str, str]:
    """Tests left out of a run on this stack, each with why."""
    out = dict(GLANCE_IMPORT) if "g-api" in ans.services else {}
    if "n-api" not in ans.services:
        return out
    from .phases import nova
    try:
        driver, _ = nova.virt_choice(ans)
    except StackError:
        return out
    return {**out, **(NEEDS_A_GUEST if driver == nova.FAKE_DRIVER else {})}


def reason_key(reason: str) -> str:
    """'VolumesGetTest skipped as Cinder is not available' -> 'Cinder is not
    available', so one reason is counted once, not once per test class."""
    return re.sub(r"^\w+ skipped as ", "", reason or "(no reason given)")


def explain(reason: str, services, no_ssh: str | None = None) -> str | None:
    from . import catalog
    for rx, svc in _WHY:
        if rx.search(reason):
            if svc == "horizon" and "horizon" in services:
                return ("tempest's dashboard test looks for Nova's Overview panel and this "
                        "stack has no Nova (n-api); tests/test_e2e_horizon.py checks Horizon")
            if svc not in services:
                return f"this stack does not run {catalog.get(svc).title} ({svc})"
    if _MULTINODE.search(reason):
        return "a one-host cloud has a single compute node"
    if _VALIDATION.search(reason):
        return (f"tempest.conf sets run_validation false: {no_ssh or 'no guest answers SSH'}")
    return None


def print_result(r: dict) -> None:
    print()
    print(f"tempest {r['selection']}: {r['ran']} ran, {r['passed']} passed, {r['skipped']} skipped, "
          f"{r['failed']} failed in {r['seconds']:.0f}s")
    if r["skips"]:
        print("skipped, by reason:")
        for reason, n in Counter(reason_key(s["reason"]) for s in r["skips"]).most_common():
            why = r["explained"].get(reason)
            print(f"  {n:4}  {reason}" + (f"  ({why})" if why else "  (not explained by this stack)"))
    for name, why in (r.get("left_out") or {}).items():
        print(f"left out: {name}  ({why})")
    for name in r["failures"]:
        print(f"FAILED {name}")
    if r["ran"] == 0:
        print("no test ran: the selection matched nothing")
    print(f"details: stestr last (in {r['workspace']}), logs in "
          f"{Path(r['workspace']).parent / 'logs'}")
