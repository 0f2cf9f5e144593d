"""Drive the real admin of a live server over HTTP, with a real sign-in and CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

import httpx

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class AdminSession:
    """A signed-in admin browser session: GET pages, POST forms with their CSRF token."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=20, follow_redirects=False)
        self.http.headers["Referer"] = base_url + "/admin/"
        r = self.post_form("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
        assert r.status_code == 302, f"admin sign-in failed ({r.status_code})"

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def post_form(self, path: str, data: dict[str, Any]) -> httpx.Response:
        """GET the form page for its CSRF token, then POST to it."""
        page = self.http.get(path)
        match = _CSRF.search(page.text)
        assert match, f"no CSRF token on {path} ({page.status_code})"
        return self.http.post(path, data={**data, "csrfmiddlewaretoken": match.group(1)})

    def autocomplete_id(self, model: str, field: str, term: str) -> int:
        """The pk behind an admin autocomplete choice (what a browser's select would post)."""
        app, model_name = model.split(".")
        r = self.get("/admin/autocomplete/", app_label=app, model_name=model_name, field_name=field, term=term)
        r.raise_for_status()
        return int(next(x["id"] for x in r.json()["results"] if x["text"] == term))

    def close(self) -> None:
        self.http.close()
