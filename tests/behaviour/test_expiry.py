"""The cookie's lifetime and the store's agree, and a handler can change it
through ``session.cookie``."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from sessions import CookieOptions
from sessions.cookies import SetCookie
from tests.behaviour.client import Reply
from tests.behaviour.harness import MakeServer, Server, session_config

ONE_SECOND = timedelta(seconds=1)
EPOCH_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"


def _sent(reply: Reply) -> SetCookie:
    cookie = reply.session_cookie
    assert cookie is not None, f"no session cookie in {reply.set_cookie_fields}"
    return cookie


def _expires(cookie: SetCookie) -> datetime:
    assert cookie.expires is not None
    return parsedate_to_datetime(cookie.expires)


def _stored_expiry(server: Server, session_id: str) -> datetime:
    record = server.store.peek(session_id)
    assert record is not None
    return record.expires


def test_max_age_and_expires_agree_with_date_and_store(
    server: Server,
) -> None:
    reply = server.client().get("/?set=a:1")

    cookie = _sent(reply)
    assert cookie.max_age == 60
    expires = _expires(cookie)
    assert abs(expires - (reply.date + timedelta(seconds=60))) <= ONE_SECOND
    assert abs(_stored_expiry(server, reply.session_id) - expires) <= ONE_SECOND


def test_store_expiry_follows_the_last_cookie_sent(server: Server) -> None:
    client = server.client()
    last_sent: datetime | None = None

    for query in ["set=a:1", "", "max_age=120", "set=b:2", "touch=1", ""]:
        reply = client.get(f"/?{query}")
        cookie = reply.session_cookie
        if cookie is not None:
            last_sent = _expires(cookie)
        assert last_sent is not None
        stored = _stored_expiry(server, reply.session_id)
        assert abs(stored - last_sent) <= ONE_SECOND, query


def test_handler_can_change_max_age_and_it_sticks(server: Server) -> None:
    client = server.client()
    created = client.get("/?set=a:1")

    changed = client.get("/?max_age=5000")
    stored = server.store.peek(created.session_id)
    later = client.get("/?set=b:2")

    cookie = _sent(changed)
    assert cookie.max_age == 5000
    expires = _expires(cookie)
    assert abs(expires - (changed.date + timedelta(seconds=5000))) <= ONE_SECOND
    assert stored is not None
    assert stored.max_age == 5000
    assert abs(stored.expires - expires) <= ONE_SECOND
    assert _sent(later).max_age == 5000
    assert later.max_age is not None
    assert 4990 < later.max_age <= 5000
    assert server.store.ids("set") == [created.session_id] * 3


def test_expires_none_makes_a_browser_session_cookie(server: Server) -> None:
    client = server.client()
    created = client.get("/?set=a:1")

    changed = client.get("/?expires_none=1")
    later = client.get("/?set=b:2")

    cookie = _sent(changed)
    assert (cookie.max_age, cookie.expires) == (None, None)
    assert changed.max_age is None
    record = server.store.peek(created.session_id)
    assert record is not None
    assert record.max_age is None
    assert later.set_cookie_fields == ()
    assert later.data == {"a": 1, "b": 2}


def test_max_age_read_in_the_handler_is_the_time_left(server: Server) -> None:
    cookie = server.seed({"a": 1}, max_age=60, expires_in=10)

    reply = server.client().get("/", cookie=cookie)

    assert reply.max_age is not None
    assert 5 < reply.max_age <= 10


def test_touch_restarts_the_lifetime(server: Server) -> None:
    cookie = server.seed({"a": 1}, max_age=60, expires_in=10)

    reply = server.client().get("/?touch=1", cookie=cookie)

    sent = _sent(reply)
    assert sent.max_age == 60
    assert server.store.count("set") == 0
    assert server.store.ids("touch") == ["seeded-session"]
    assert abs(_stored_expiry(server, "seeded-session") - _expires(sent)) <= ONE_SECOND
    assert abs(_expires(sent) - (reply.date + timedelta(seconds=60))) <= ONE_SECOND


def test_rolling_resends_and_moves_the_stored_expiry(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(rolling=True))
    cookie = server.seed({"a": 1}, max_age=60, expires_in=10)

    reply = server.client().get("/", cookie=cookie)

    sent = _sent(reply)
    assert sent.max_age == 60
    assert server.store.count("set") == 0
    assert server.store.ids("touch") == ["seeded-session"]
    assert abs(_stored_expiry(server, "seeded-session") - _expires(sent)) <= ONE_SECOND


def test_rolling_browser_session_cookie_refreshes_only_the_store(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=None), rolling=True, idle_timeout=3600
        )
    )
    cookie = server.seed({"a": 1}, max_age=None, expires_in=10)

    reply = server.client().get("/", cookie=cookie)

    sent = _sent(reply)
    assert (sent.max_age, sent.expires) == (None, None)
    assert server.store.ids("touch") == ["seeded-session"]
    expected = reply.date + timedelta(seconds=3600)
    assert abs(_stored_expiry(server, "seeded-session") - expected) <= ONE_SECOND


def test_expires_in_the_past_ends_the_session(server: Server) -> None:
    cookie = server.seed({"a": 1})

    reply = server.client().get("/?expires_past=1", cookie=cookie)

    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.count("set") == 0
    sent = _sent(reply)
    assert (sent.value, sent.max_age, sent.expires) == ("", 0, EPOCH_EXPIRES)
    assert server.store.peek("seeded-session") is None
