"""Verify, for real: a token, the catalog, an image round trip through
Glance, Placement's resource providers. What DevStack's service_check only
hopes for, proven with API calls."""

from __future__ import annotations

import hashlib
import os

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from stacktui.context import GlobalStep
from stacktui.errors import StackError


def admin_session(ctx) -> ks_session.Session:
    auth = v3.Password(auth_url=ctx.endpoint("key") + "/v3", username="admin",
                       password=ctx.answers.password("admin"), project_name="admin",
                       user_domain_id="default", project_domain_id="default")
    return ks_session.Session(auth=auth)


def check_image_roundtrip(sess, region: str) -> str:
    data = os.urandom(256 * 1024)
    want = hashlib.md5(data).hexdigest()
    g = dict(service_type="image", region_name=region, raise_exc=True)
    img = sess.post("/v2/images", endpoint_filter=g,
                    json={"name": "stacktui-verify", "disk_format": "raw",
                          "container_format": "bare", "visibility": "private"}).json()
    try:
        sess.put(f"/v2/images/{img['id']}/file", endpoint_filter=g, data=data,
                 headers={"Content-Type": "application/octet-stream"})
        got = sess.get(f"/v2/images/{img['id']}/file", endpoint_filter=g).content
        if hashlib.md5(got).hexdigest() != want:
            raise StackError("glance returned different bytes than were uploaded")
    finally:
        sess.delete(f"/v2/images/{img['id']}", endpoint_filter=g, raise_exc=False)
    return want


def run(ctx):
    """Each enabled service's ``verify`` (stacktui.service), in the order
    stack.sh starts them, with one admin session when keystone runs."""
    specs = ctx.specs
    sess = admin_session(ctx) if any(s.identity for s in specs) else None
    for spec in specs:
        if spec.verify:
            spec.verify(ctx, sess)


def check_keystone(ctx, sess) -> None:
    if not sess.get_token():
        raise StackError("keystone issued no token")
    ctx.say("keystone: token issued")
    types = _catalog_types(sess)
    ctx.say(f"keystone: catalog lists {', '.join(sorted(types))}")


def _catalog_types(sess) -> set[str]:
    return {e["type"] for e in sess.auth.get_access(sess).service_catalog.catalog}


def _require_type(sess, kind: str) -> None:
    if kind not in _catalog_types(sess):
        raise StackError(f"the catalog lacks {kind}")


def check_glance(ctx, sess) -> None:
    _require_type(sess, "image")
    md5 = check_image_roundtrip(sess, ctx.answers.region)
    ctx.say(f"glance: image uploaded and downloaded, same checksum {md5}")


def check_placement(ctx, sess) -> None:
    _require_type(sess, "placement")
    rps = sess.get("/resource_providers", endpoint_filter={"service_type": "placement",
                   "region_name": ctx.answers.region},
                   headers={"OpenStack-API-Version": "placement latest"},
                   raise_exc=True).json()["resource_providers"]
    ctx.say(f"placement: {len(rps)} resource providers listed")


def check_cinder(ctx, sess) -> None:
    ctx.say(check_volumes(sess, ctx.answers.region, with_volume="c-vol" in ctx.answers.services))


def check_volumes(sess, region: str, with_volume: bool = True, timeout: float = 180) -> str:
    """Cinder's services report up and a 1 GB volume reaches `available`,
    then is deleted and gone: the path `openstack volume create` takes."""
    import time
    ep = {"service_type": "block-storage", "region_name": region}
    deadline = time.monotonic() + timeout
    while True:
        svcs = sess.get("/os-services", endpoint_filter=ep, raise_exc=True).json()["services"]
        up = {s["binary"] for s in svcs if s["state"] == "up" and s["status"] == "enabled"}
        want = {"cinder-scheduler"} | ({"cinder-volume"} if with_volume else set())
        if not with_volume or want <= up:
            break
        if time.monotonic() > deadline:
            raise StackError(f"cinder services not up: {', '.join(sorted(want - up))} "
                             "(see `stacktui logs c-sch`, `stacktui logs c-vol`)")
        time.sleep(1)
    if not with_volume:
        return f"cinder: {', '.join(sorted(up)) or 'no service'} up; no c-vol, no volume made"
    # A scheduler that has not yet heard c-vol's capabilities (they come by
    # RPC a little after both report up) puts the first volume in error with
    # "no valid backend": that is the cloud still starting, so try again
    # until the deadline; an error then is a real one.
    t0 = time.monotonic()
    tries = 0
    while True:
        tries += 1
        vol = sess.post("/volumes", endpoint_filter=ep, raise_exc=True,
                        json={"volume": {"size": 1, "name": "stacktui-verify"}}).json()["volume"]
        status = _wait_volume(sess, ep, vol["id"], t0 + timeout)
        if status == "available":
            made = time.monotonic() - t0
            sess.delete(f"/volumes/{vol['id']}", endpoint_filter=ep, raise_exc=False)
            break
        sess.delete(f"/volumes/{vol['id']}", endpoint_filter=ep, raise_exc=False)
        if status != "error" or time.monotonic() > t0 + timeout:
            raise StackError(f"volume {vol['id']} is {status}, not available after {tries} tries "
                             "(see `stacktui logs c-sch`, `stacktui logs c-vol`)")
        time.sleep(3)
    while sess.get(f"/volumes/{vol['id']}", endpoint_filter=ep, raise_exc=False).status_code != 404:
        if time.monotonic() - t0 > 2 * timeout:
            raise StackError(f"volume {vol['id']} was not deleted")
        time.sleep(0.5)
    return (f"cinder: {', '.join(sorted(up))} up; a 1 GB volume was available in {made:.1f} s "
            "and deleted")


def _wait_volume(sess, ep, vol_id: str, deadline: float) -> str:
    import time
    while True:
        status = sess.get(f"/volumes/{vol_id}", endpoint_filter=ep,
                          raise_exc=True).json()["volume"]["status"]
        if status in ("available", "error") or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


NOVA_BINARIES = {"n-cond": "nova-conductor", "n-sch": "nova-scheduler", "n-cpu": "nova-compute"}


def check_nova(ctx, sess) -> None:
    """Every enabled nova service reports up, and the flavors are there."""
    import time
    ep = {"service_type": "compute", "region_name": ctx.answers.region}
    want = {b for s, b in NOVA_BINARIES.items() if s in ctx.answers.services}
    deadline = time.monotonic() + 60
    while True:
        svcs = sess.get("/os-services", endpoint_filter=ep, raise_exc=True).json()["services"]
        up = {s["binary"] for s in svcs if s["state"] == "up" and s["status"] == "enabled"}
        if want <= up:
            break
        if time.monotonic() > deadline:
            raise StackError(f"nova services not up: {', '.join(sorted(want - up))} "
                             "(see `stacktui logs` of n-cond, n-sch, n-cpu)")
        time.sleep(1)
    flavors = sess.get("/flavors", endpoint_filter=ep, raise_exc=True).json()["flavors"]
    ctx.say(f"nova: {', '.join(sorted(up))} up; {len(flavors)} flavors")


def check_neutron(ctx, sess) -> None:
    """The initial networks and router exist, a port on `private` gets an
    address, and the OVN controller reports alive (phases/neutron.py)."""
    from stacktui.phases import neutron
    ctx.say(neutron.check(sess, ctx.answers))


STEP = GlobalStep(run)
