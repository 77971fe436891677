"""Summary: credentials where DevStack leaves them, and what to do next."""

from __future__ import annotations

from stacktui import catalog
from stacktui.context import GlobalStep


def inputs(answers):
    return answers.public_dict()


def run(ctx):
    a = ctx.answers
    from stacktui import credentials
    files = credentials.write_credentials(a, ctx.layout)
    from stacktui.client_link import link_client
    link, link_note = link_client(ctx.layout)
    urls = {s: ctx.endpoint(s) + catalog.API_PATHS[s] for s in a.services if s in catalog.API_PATHS}
    summary = {
        "dest": str(ctx.layout.dest), "host_ip": a.host_ip, "urls": urls,
        "admin_user": "admin", "passwords_file": str(ctx.layout.secrets_file),
        "openrc": str(files.get("openrc", ctx.layout.dest / "openrc")),
        "clouds_yaml": str(files.get("clouds.yaml", ctx.layout.dest / "clouds.yaml")),
        "log": str(ctx.layout.stack_log),
        "client": str(link or ctx.layout.bin / "openstack"),
    }
    if link_note:
        summary["client_note"] = link_note
    if "n-cpu" in a.services:
        from stacktui import virt
        choice = virt.for_answers(a)
        summary["nova_compute"] = f"{choice.label} ({choice.why})"
    return summary


STEP = GlobalStep(run, inputs)
