"""`stacktui check`: the host fitness checks on their own."""

from __future__ import annotations

import json
import sys

from . import answers as answers_mod
from . import checks, stacks


def register(sub) -> None:
    p = sub.add_parser("check", help="check this machine can run the chosen services",
                       description="Check memory, CPU, disk, network, kernel and permissions "
                                   "against the services in the answers. Exit 0 when nothing "
                                   "fails, 1 otherwise.")
    p.add_argument("--answers", metavar="FILE",
                   help="answers file (default: ./stacktui.yaml, else the default services)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    path = stacks.find_answers_file(args)
    dest = getattr(args, "dest", None)
    ans = answers_mod.load(path, dest=dest) if dest else answers_mod.load(path)
    results = checks.run_checks(ans)
    if args.json:
        json.dump({"ok": not checks.any_fail(results),
                   "checks": [c.to_dict() for c in results]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(checks.render(results))
    return 1 if checks.any_fail(results) else 0
