"""Express parity, expiry and the cookie object (lines 23-27): the cookie's
lifetime and the store's agree, and a handler can change it through
``session.cookie``."""

from __future__ import annotations

from tests.behaviour.client import expiry
from tests.behaviour.harness import Server


def test_p23_max_age_60_sets_max_age_and_expires_60s_after_date(
    server: Server,
) -> None:
    reply = server.client().get("/?set=a:1")

    cookie = reply.sent_cookie
    assert cookie.max_age == 60
    assert reply.dated(expiry(cookie), 60)
    assert server.store.agrees_with(reply.session_id, cookie)
    record = server.store.peek(reply.session_id)
    assert record is not None
    assert record.max_age == 60


def test_p24_handler_max_age_5000_changes_cookie_and_store_and_sticks(
    server: Server,
) -> None:
    client = server.client()
    created = client.get("/?set=a:1")

    changed = client.get("/?max_age=5000")
    agreed = server.store.agrees_with(created.session_id, changed.sent_cookie)
    stored = server.store.peek(created.session_id)
    later = client.get("/?set=b:2")

    cookie = changed.sent_cookie
    assert cookie.max_age == 5000
    assert changed.dated(expiry(cookie), 5000)
    assert stored is not None
    assert stored.max_age == 5000
    assert agreed
    assert later.sent_cookie.max_age == 5000
    assert server.store.agrees_with(created.session_id, later.sent_cookie)
    assert later.max_age is not None
    assert 4990 < later.max_age <= 5000
    assert server.store.ids("set") == [created.session_id] * 3


def test_p25_expires_none_makes_a_browser_session_cookie_from_then_on(
    server: Server,
) -> None:
    client = server.client()
    created = client.get("/?set=a:1")

    changed = client.get("/?expires_none=1")
    later = client.get("/?set=b:2")

    cookie = changed.sent_cookie
    assert (cookie.max_age, cookie.expires) == (None, None)
    assert changed.max_age is None
    assert later.max_age is None
    record = server.store.peek(created.session_id)
    assert record is not None
    assert record.max_age is None
    assert later.set_cookie_fields == ()
    assert later.data == {"a": 1, "b": 2}


def test_p26_max_age_read_in_the_handler_is_the_time_left(server: Server) -> None:
    cookie = server.seed({"a": 1}, max_age=60, expires_in=10)

    reply = server.client().get("/", cookie=cookie)

    assert reply.max_age is not None
    assert 5 < reply.max_age <= 10


def test_p27_touch_moves_the_expiry_to_now_plus_the_original_max_age(
    server: Server,
) -> None:
    cookie = server.seed({"a": 1}, max_age=60, expires_in=10)

    reply = server.client().get("/?touch=1", cookie=cookie)

    sent = reply.sent_cookie
    assert sent.max_age == 60
    assert server.store.count("set") == 0
    assert server.store.ids("touch") == ["seeded-session"]
    assert server.store.agrees_with("seeded-session", sent)
    assert reply.dated(expiry(sent), 60)
