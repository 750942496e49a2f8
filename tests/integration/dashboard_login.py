"""Logging in to the dashboard in tests, with accounts made by the code `simpul users create` runs."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from simpul.cli.users import create_user
from simpul.settings import Settings

# TestClient's Host; the dashboard refuses hosts it was not told about.
TEST_HOSTS = "testserver,127.0.0.1,localhost"


def new_account(settings: Settings, role: str) -> tuple[str, str]:
    """A fresh account of `role` in the settings' dashboard database: (name, password)."""
    name = f"{role[:2]}-{uuid.uuid4().hex[:8]}"
    created = create_user(settings, name, role, publish=False)
    return name, created.password


def log_in(client: TestClient, name: str, password: str) -> str:
    """Log `client` in (the cookie stays in its jar); returns the session's CSRF token."""
    answer = client.post("/login", data={"username": name, "password": password}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client.get("/api/session").json()["csrf_token"]


def as_role(client: TestClient, settings: Settings, role: str) -> tuple[str, str]:
    """Log `client` in as a new account of `role`; every later request carries the CSRF token. (name, token)"""
    name, password = new_account(settings, role)
    token = log_in(client, name, password)
    client.headers["X-CSRF-Token"] = token
    return name, token
