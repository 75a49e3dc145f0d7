"""Field reports, serialisation: session data goes into the store as exact
JSON or not at all, and what a store gives back (the expiry above all) has
the type it went in with."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from sessions import CookieOptions, SerializationError
from tests.behaviour.harness import MakeServer, Server, session_config

OBJECTS = ["set", "tuple", "bytes", "datetime"]


@pytest.mark.parametrize("query", ["", "&save=1"], ids=["at commit", "explicit save"])
def test_f_no_silent_conversion_of_a_value_json_cannot_carry(
    server: Server, query: str
) -> None:
    cookie = server.seed({"user": "ada"})
    wrong: dict[str, object] = {}

    for kind in OBJECTS:
        reply = server.client().get(
            f"/?set_object=odd_{kind}:{kind}{query}", cookie=cookie
        )
        errors = server.probe.take_errors()
        seen = (reply.status, reply.set_cookie_fields, [type(e) for e in errors])
        if seen != (500, (), [SerializationError]):
            wrong[kind] = seen
        elif f"odd_{kind}" not in str(errors[0]):
            wrong[kind] = f"the error does not name the key: {errors[0]}"

    assert wrong == {}
    assert server.store.count("set") == 0
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"user": "ada"}


def test_f_no_silent_conversion_names_a_nested_key(server: Server) -> None:
    reply = server.client().get('/?set=prefs:{"tags":[]}&set_object=when:datetime')

    assert reply.status == 500
    errors = server.probe.take_errors()
    assert [type(error) for error in errors] == [SerializationError]
    assert "when" in str(errors[0])
    assert server.store.calls == []


@pytest.mark.parametrize("max_age", [60, 3600, None])
def test_f_expiry_survives_a_json_store_with_its_original_max_age(
    make_server: MakeServer, max_age: int | None
) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=max_age), idle_timeout=600)
    )
    client = server.client()

    created = client.get("/?set=a:1")
    record = server.store.peek(created.session_id)
    touched = client.get("/?touch=1")

    assert record is not None
    assert record.expires.tzinfo is not None
    assert record.expires.utcoffset() == timedelta(0)
    assert record.expires.tzinfo == timezone.utc
    assert record.max_age == max_age
    assert record.created.utcoffset() == timedelta(0)
    assert record.data == {"a": 1}
    assert touched.session_id == created.session_id
    assert touched.sent_cookie.max_age == max_age
    if max_age is not None:
        assert touched.max_age is not None
        assert max_age - 5 < touched.max_age <= max_age
        assert server.store.agrees_with(created.session_id, touched.sent_cookie)


def test_f_expiry_survives_a_json_store_when_the_handler_set_it(
    server: Server,
) -> None:
    client = server.client()
    client.get("/?set=a:1&max_age=5000")

    reply = client.get("/?touch=1")

    assert reply.sent_cookie.max_age == 5000
    record = server.store.peek(reply.session_id)
    assert record is not None
    assert record.max_age == 5000
    assert record.expires.utcoffset() == timedelta(0)
