"""Field reports, save decisions: traffic that never writes the session
leaves no trace in the store or the cookie jar, and every way of changing
the data is one write, seen by the next request."""

from __future__ import annotations

from functools import partial

import pytest

from tests.behaviour.client import Client, Reply
from tests.behaviour.harness import Server, parallel
from tests.behaviour.tampering import tampered


def _requests(client: Client, path: str, count: int, cookie: str | None) -> list[Reply]:
    return [client.get(path, cookie=cookie) for _ in range(count)]


def test_f_untouched_traffic_writes_nothing(server: Server) -> None:
    clients = [server.client() for _ in range(4)]

    batches = parallel(
        [partial(_requests, client, "/?ignore=1", 250, None) for client in clients]
    )

    replies = [reply for batch in batches for reply in batch]
    assert len(replies) == 1000
    assert {reply.status for reply in replies} == {200}
    assert all(reply.set_cookie_fields == () for reply in replies)
    assert server.store.calls == []
    assert server.store.memory.length() == 0
    assert all(client.session_cookie is None for client in clients)


@pytest.mark.parametrize("path", ["/?ignore=1", "/"])
def test_f_untouched_traffic_with_any_cookie_writes_nothing(
    server: Server, path: str
) -> None:
    cookies = [
        "theme=dark; lang=en",
        f"sid={tampered(server, 'signature character flipped')}",
        "sid=",
        server.cookie("unknown-to-the-store"),
    ]
    clients = [server.client() for _ in cookies]

    batches = parallel(
        [
            partial(_requests, client, path, 25, cookie)
            for client, cookie in zip(clients, cookies, strict=True)
        ]
    )

    replies = [reply for batch in batches for reply in batch]
    assert {reply.status for reply in replies} == {200}
    assert all(reply.set_cookie_fields == () for reply in replies)
    assert {call.operation for call in server.store.calls} <= {"get"}
    assert set(server.store.ids("get")) <= {"unknown-to-the-store"}
    assert server.store.memory.length() == 0


MUTATIONS = [
    ("set=a:5", {"a": 5, "cart": [1], "prefs": {"tags": ["x"]}}),
    ("append=cart:2", {"a": 1, "cart": [1, 2], "prefs": {"tags": ["x"]}}),
    ('append=prefs.tags:"y"', {"a": 1, "cart": [1], "prefs": {"tags": ["x", "y"]}}),
    ("delete=a", {"cart": [1], "prefs": {"tags": ["x"]}}),
    ("pop=a", {"cart": [1], "prefs": {"tags": ["x"]}}),
    ('update={"b":2}', {"a": 1, "cart": [1], "prefs": {"tags": ["x"]}, "b": 2}),
    ('merge={"a":2}', {"a": 2, "cart": [1], "prefs": {"tags": ["x"]}}),
    ("setdefault=c:3", {"a": 1, "cart": [1], "prefs": {"tags": ["x"]}, "c": 3}),
    ("clear=1", {}),
    ("set=a:5&delete=cart&append=d:1", {"a": 5, "prefs": {"tags": ["x"]}, "d": [1]}),
]


STORED = {"a": 1, "cart": [1], "prefs": {"tags": ["x"]}}


def test_f_every_mutator_counts_exactly_once(server: Server) -> None:
    wrong: dict[str, object] = {}

    for number, (action, expected) in enumerate(MUTATIONS):
        session_id = f"session-{number}"
        cookie = server.seed(STORED, session_id=session_id)
        writes = server.store.count("set")
        changed = server.client().get(f"/?{action}", cookie=cookie)
        after = server.client().get("/", cookie=cookie)
        seen = (
            server.store.ids("set")[writes:],
            changed.session_cookie is not None,
            after.data,
            after.set_cookie_fields,
        )
        if seen != ([session_id], True, expected, ()):
            wrong[action] = seen

    assert wrong == {}


NON_MUTATIONS = ["set=a:1", 'update={"a":1}', 'merge={"cart":[1]}', "setdefault=a:9"]


def test_f_every_mutator_counts_nothing_when_nothing_changes(server: Server) -> None:
    cookie = server.seed({"a": 1, "cart": [1]})

    replies = {
        action: server.client().get(f"/?{action}", cookie=cookie)
        for action in NON_MUTATIONS
    }

    assert [
        a for a, reply in replies.items() if reply.data != {"a": 1, "cart": [1]}
    ] == []
    assert [a for a, reply in replies.items() if reply.set_cookie_fields] == []
    assert server.store.count("set") == 0
