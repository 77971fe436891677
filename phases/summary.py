"""Summary: credentials where DevStack leaves them, and what to do next."""

from __future__ import annotations

from stacktui import catalog


def inputs(answers):
    return answers.public_dict()


def run(ctx):
    a = ctx.answers
    files = {}
    try:
        from stacktui import credentials
        files = credentials.write_credentials(a, ctx.layout)
    except ImportError:
        pass
    suffix = {"key": "/v3", "horizon": "/dashboard/"}
    urls = {s: ctx.endpoint(s) + suffix.get(s, "") for s in a.services
            if catalog.get(s).port and not catalog.get(s).infra}
    summary = {
        "dest": str(ctx.layout.dest), "host_ip": a.data["host_ip"], "urls": urls,
        "admin_user": "admin", "passwords_file": str(ctx.layout.secrets_file),
        "openrc": str(files.get("openrc", ctx.layout.dest / "openrc")),
        "clouds_yaml": str(files.get("clouds.yaml", ctx.layout.dest / "clouds.yaml")),
        "log": str(ctx.layout.stack_log),
    }
    return summary
