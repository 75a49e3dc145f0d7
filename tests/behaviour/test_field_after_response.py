"""Field reports, after the response: a session change made once the
response has started is never lost silently. An explicit ``save()`` persists
it; anything else is reported as an error the framework or its log sees."""

from __future__ import annotations

import pytest

from sessions import SessionCommittedError
from tests.behaviour.harness import Server


@pytest.mark.parametrize(
    ("late", "expected"),
    [
        ("late_set=step:2&late_save=1", {"user": "ada", "step": 2}),
        ("late_append=log:1&late_save=1", {"user": "ada", "step": 1, "log": [1]}),
        ("late_delete=step&late_set=n:1&late_save=1", {"user": "ada", "n": 1}),
        ("late_clear=1&late_save=1", {}),
    ],
    ids=["set", "append", "delete and set", "clear"],
)
def test_f_writes_after_commit_with_save_are_persisted(
    server: Server, late: str, expected: dict[str, object]
) -> None:
    cookie = server.seed({"user": "ada"})
    client = server.client()

    reply = client.get(f"/?set=step:1&{late}", cookie=cookie)
    server.probe.wait_idle()
    later = client.get("/", cookie=cookie)

    assert reply.status == 200
    assert reply.data == {"user": "ada", "step": 1}
    assert later.data == expected
    assert server.store.ids("set") == ["seeded-session"] * 2


LATE_WITHOUT_SAVE = [
    "late_set=step:2",
    "late_append=log:1",
    "late_append=prefs.tags:1",
    "late_pop=user",
    "late_save=1&late_set=step:3",
    "late_regenerate=1",
    "late_destroy=1",
    "late_touch=1",
    "late_max_age=120",
]


def test_f_writes_after_commit_without_save_are_an_error(server: Server) -> None:
    wrong: dict[str, object] = {}

    for number, late in enumerate(LATE_WITHOUT_SAVE):
        session_id = f"session-{number}"
        cookie = server.seed({"user": "ada"}, session_id=session_id)
        reply = server.client().get(f"/?{late}", cookie=cookie)
        errors = [type(error) for error in server.probe.take_errors()]
        record = server.store.peek(session_id)
        stored = None if record is None else record.data
        seen = (reply.status, reply.data, errors, stored)
        if seen != (200, {"user": "ada"}, [SessionCommittedError], {"user": "ada"}):
            wrong[late] = seen

    assert wrong == {}
    assert server.store.count("destroy") == 0


def test_f_writes_after_commit_to_a_session_never_sent_are_an_error(
    server: Server,
) -> None:
    reply = server.client().get("/?late_set=step:1&late_save=1")

    errors = server.probe.take_errors()
    assert reply.status == 200
    assert [type(error) for error in errors] == [SessionCommittedError]
    assert server.store.calls == []
