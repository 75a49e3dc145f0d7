"""A Flask application wrapped whole by the WSGI middleware, served by
werkzeug's own threaded server: ``get_session(flask.request.environ)`` is all
a view needs, and a login redirect never outruns its session write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from flask import Flask, redirect, request
from werkzeug.wrappers import Response

from sessions_adapters.wsgi import SessionMiddleware, get_session
from tests.behaviour.client import Client
from tests.behaviour.harness import SpyStore, session_config
from tests.behaviour.servers import serve_werkzeug


def build_app() -> Flask:
    app = Flask(__name__)

    @app.get("/login")
    def login() -> Response:
        session = get_session(request.environ)
        session.regenerate()
        session["user"] = request.args["user"]
        return redirect("/me")

    @app.get("/me")
    def me() -> dict[str, Any]:
        session = get_session(request.environ)
        return {"user": session.get("user"), "id": session.id}

    @app.get("/visit")
    def visit() -> dict[str, Any]:
        session = get_session(request.environ)
        session["visits"] = session.get("visits", 0) + 1
        return {"visits": session["visits"], "id": session.id}

    @app.get("/logout")
    def logout() -> Response:
        get_session(request.environ).destroy()
        return redirect("/me")

    return app


@attrs.frozen
class FlaskSite:
    client: Client
    store: SpyStore


@pytest.fixture
def site() -> Iterator[FlaskSite]:
    store = SpyStore()
    app = SessionMiddleware(build_app(), session_config(), store)
    with serve_werkzeug(app) as url, Client(url, "sid") as client:
        yield FlaskSite(client, store)


def test_views_reach_the_session_through_the_environ(site: FlaskSite) -> None:
    first = site.client.get("/visit")
    second = site.client.get("/visit")

    assert first.body is not None
    assert second.body is not None
    assert (first.body["visits"], second.body["visits"]) == (1, 2)
    assert first.body["id"] == second.body["id"]
    assert site.store.ids("set") == [first.body["id"]] * 2


def test_login_redirect_sees_the_saved_session(site: FlaskSite) -> None:
    site.store.delay("set", 0.2)
    anonymous = site.client.get("/visit")
    assert anonymous.body is not None

    reply = site.client.get("/login?user=ada", follow=True)

    assert [earlier.status for earlier in reply.history] == [302]
    assert reply.body is not None
    assert reply.body["user"] == "ada"
    assert reply.body["id"] != anonymous.body["id"]
    assert site.store.ids("destroy") == [anonymous.body["id"]]
    assert site.store.ids("set") == [anonymous.body["id"], reply.body["id"]]


def test_logout_clears_the_cookie(site: FlaskSite) -> None:
    site.client.get("/login?user=ada", follow=True)

    reply = site.client.get("/logout", follow=True)

    assert reply.body is not None
    assert reply.body["user"] is None
    deletion = reply.history[0].session_cookie
    assert deletion is not None
    assert (deletion.value, deletion.max_age) == ("", 0)
    assert site.client.session_cookie is None
    assert site.store.count("destroy") == 1


def test_store_failure_is_a_500_not_a_dropped_connection(site: FlaskSite) -> None:
    # Left bare on purpose: werkzeug takes a ConnectionError crossing the
    # application for the client hanging up, and would answer nothing.
    site.store.fail("set", ConnectionError("store unreachable"))

    reply = site.client.get("/login?user=ada")

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
