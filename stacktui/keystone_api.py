"""Users, projects, services and endpoints created in-process over Keystone's
REST API with keystoneauth1: one session for all of them, instead of one
`openstack` process (3 s of start-up each) per call as DevStack does.
Every call is idempotent: it looks first, creates or corrects second.
"""

from __future__ import annotations

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

    def _get(self, path, **params):
        return self.s.get(self.url + path, params=params, raise_exc=True).json()

    def _post(self, path, body):
        return self.s.post(self.url + path, json=body, raise_exc=True).json()

    def _find(self, kind: str, **params) -> dict | None:
        items = self._get(f"/{kind}", **params)[kind]
        return items[0] if items else None

    def project(self, name: str, description: str = "") -> str:
        p = self._find("projects", name=name, domain_id="default")
        if p:
            return p["id"]
        return self._post("/projects", {"project": {"name": name, "domain_id": "default",
                                                     "description": description}})["project"]["id"]

    def role(self, name: str) -> str:
        r = self._find("roles", name=name)
        if r:
            return r["id"]
        return self._post("/roles", {"role": {"name": name}})["role"]["id"]

    def user(self, name: str, password: str, project_id: str | None = None) -> str:
        u = self._find("users", name=name, domain_id="default")
        if u:
            # A changed answer changes the password: keep Keystone in step,
            # but only when it differs. Setting it again revokes the tokens a
            # running service already holds (its API answers 503 for a while).
            if not self._password_works(name, password):
                self.s.patch(f"{self.url}/users/{u['id']}", json={"user": {"password": password}},
                             raise_exc=True)
            return u["id"]
        body = {"name": name, "password": password, "domain_id": "default", "enabled": True}
        if project_id:
            body["default_project_id"] = project_id
        return self._post("/users", {"user": body})["user"]["id"]

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

    def endpoints(self, service_id: str, url: str) -> None:
        """public, internal and admin endpoints at ``url`` in this region."""
        existing = self._get("/endpoints", service_id=service_id)["endpoints"]
        for iface in ("public", "internal", "admin"):
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
