"""Field reports, proxies: a list-valued ``X-Forwarded-Proto``, in one field
or several, is read by its first token."""

from __future__ import annotations

import pytest

from tests.behaviour.harness import MakeServer, session_config

LISTS = [
    (["https, http"], True),
    (["https,https"], True),
    (["HTTPS ,http"], True),
    (["https, http, http"], True),
    (["http, https"], False),
    (["http,https,https"], False),
    ([", https"], False),
    (["https", "http"], True),
    (["http", "https"], False),
    (["HTTPS", "http, http"], True),
    (["http, https", "https"], False),
]


def test_f_list_valued_forwarded_headers_are_read_by_their_first_token(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(trust_proxy=True))
    client = server.client()
    wrong: dict[object, object] = {}

    for fields, secure in LISTS:
        sent = [("X-Forwarded-Proto", value) for value in fields]
        reply = client.send("/?set=user:ada", sent)
        if reply.sent_cookie.secure is not secure:
            wrong[" | ".join(fields)] = reply.sent_cookie.secure

    assert wrong == {}


@pytest.mark.parametrize("fields", [["https, http"], ["https", "http"]])
def test_f_list_valued_forwarded_headers_are_ignored_without_trust_proxy(
    make_server: MakeServer, fields: list[str]
) -> None:
    server = make_server(config=session_config(trust_proxy=False))

    reply = server.client().send(
        "/?set=user:ada", [("X-Forwarded-Proto", value) for value in fields]
    )

    assert reply.sent_cookie.secure is False
