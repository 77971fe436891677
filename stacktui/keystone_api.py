"""Users, projects, services and endpoints created in-process over Keystone's
REST API with keystoneauth1: one session for all of them, instead of one
`openstack` process (3 s of start-up each) per call as DevStack does.
Every call is idempotent. Projects and users are created first and looked up
only on a conflict, and ids seen once are kept: on a new cloud that halves
the requests, each of which costs Keystone tens of milliseconds of CPU.
"""

from __future__ import annotations

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3


class KeystoneAdmin:
    def __init__(self, auth_url: str, password: str, region: str):
        auth = v3.Password(auth_url=auth_url, username="admin", password=password,
                           project_name="admin", user_domain_id="default",
                           project_domain_id="default")
        self.s = ks_session.Session(auth=auth)
        self.url = auth_url.rstrip("/")
        self.region = region
        self._ids: dict[tuple[str, str], str] = {}

    def _get(self, path, **params):
        return self.s.get(self.url + path, params=params, raise_exc=True).json()

    def _post(self, path, body):
        return self.s.post(self.url + path, json=body, raise_exc=True).json()

    def _find(self, kind: str, **params) -> dict | None:
        items = self._get(f"/{kind}", **params)[kind]
        return items[0] if items else None

    def _create(self, kind: str, body: dict, **find) -> tuple[str, bool]:
        """(id, created): POST first; on 409 the existing one by ``find``."""
        key = (kind, body["name"])
        if key in self._ids:
            return self._ids[key], False
        one = kind[:-1]
        r = self.s.post(f"{self.url}/{kind}", json={one: body}, raise_exc=False)
        if r.status_code == 409:
            got, created = self._find(kind, **find), False
        elif r.ok:
            got, created = r.json()[one], True
        else:
            raise ks_exc.from_response(r, "POST", f"{self.url}/{kind}")
        self._ids[key] = got["id"]
        return got["id"], created

    def project(self, name: str, description: str = "") -> str:
        return self._create("projects", {"name": name, "domain_id": "default",
                                         "description": description},
                            name=name, domain_id="default")[0]

    def role(self, name: str) -> str:
        # bootstrap makes admin, member, reader: look before creating, since
        # Keystone logs every conflict as an ERROR in its pane.
        if ("roles", name) not in self._ids:
            found = self._find("roles", name=name)
            if found:
                self._ids[("roles", name)] = found["id"]
        return self._create("roles", {"name": name}, name=name)[0]

    def user(self, name: str, password: str, project_id: str | None = None) -> str:
        body = {"name": name, "password": password, "domain_id": "default", "enabled": True}
        if project_id:
            body["default_project_id"] = project_id
        uid, created = self._create("users", body, name=name, domain_id="default")
        # A changed answer changes the password: keep Keystone in step, but
        # only when it differs. Setting it again revokes the tokens a running
        # service already holds (its API answers 503 for a while).
        if not created and not self._password_works(name, password):
            self.s.patch(f"{self.url}/users/{uid}", json={"user": {"password": password}},
                         raise_exc=True)
        return uid

    def _password_works(self, name: str, password: str) -> bool:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": name, "domain": {"id": "default"}, "password": password}}}}}
        r = self.s.post(self.url + "/auth/tokens", json=body, authenticated=False, raise_exc=False)
        return r.status_code == 201

    def grant(self, user_id: str, project_id: str, role_id: str) -> None:
        self.s.put(f"{self.url}/projects/{project_id}/users/{user_id}/roles/{role_id}",
                   raise_exc=True)

    def service(self, name: str, type_: str, description: str = "") -> str:
        s = self._find("services", type=type_)
        if s:
            return s["id"]
        return self._post("/services", {"service": {"name": name, "type": type_,
                                                     "description": description}})["service"]["id"]

    def endpoints(self, service_id: str, url: str, per_interface: dict | None = None) -> None:
        """public, internal and admin endpoints at ``url`` in this region; with
        ``per_interface`` ({interface: url}), public at ``url`` plus exactly
        those (swift's admin endpoint is the bare proxy, as DevStack makes it)."""
        existing = self._get("/endpoints", service_id=service_id)["endpoints"]
        urls = ({"public": url, **per_interface} if per_interface is not None
                else dict.fromkeys(("public", "internal", "admin"), url))
        for iface, url in urls.items():
            same = [e for e in existing if e["interface"] == iface and e.get("region_id") == self.region]
            if same and same[0]["url"] == url:
                continue
            for e in same:
                self.s.delete(f"{self.url}/endpoints/{e['id']}", raise_exc=True)
            self._post("/endpoints", {"endpoint": {"service_id": service_id, "interface": iface,
                                                   "url": url, "region_id": self.region}})

    def service_user(self, name: str, password: str) -> None:
        """A service's own user with admin on the `service` project (DevStack's
        create_service_user), plus the service role that newer policies ask for."""
        proj = self.project("service", "projects for OpenStack services")
        uid = self.user(name, password, proj)
        self.grant(uid, proj, self.role("admin"))
        self.grant(uid, proj, self.role("service"))
