"""What only the Tornado adapter has: the headers can go out through
``finish()``, ``flush()``, ``redirect()``, ``send_error()``, ``HTTPError``
or ``Finish``, and every one of them commits the session first."""

from __future__ import annotations

import json
from collections.abc import Iterator

import attrs
import pytest
import tornado.web
import tornado.websocket
from websockets.sync.client import connect

from sessions import StoreError
from sessions.signing import IdSigner
from sessions_adapters.tornado import SessionMixin
from tests.behaviour.apps.tornado_app import ProbedHandler
from tests.behaviour.client import Client
from tests.behaviour.harness import AsyncSpyStore, Probe, SpyStore, session_config
from tests.behaviour.servers import serve_tornado


class Exit(ProbedHandler):
    """Changes the session, then lets the headers go out the way the path
    names. It tells the probe when it reaches its end."""

    async def get(self, way: str) -> None:
        session = self.session
        session["via"] = way
        if way == "finish":
            self.finish("done")
        elif way == "awaited-finish":
            await self.finish("done")
        elif way == "flush":
            self.set_header("Content-Type", "application/json")
            self.write(b'{"stored_before_body": ')
            await self.flush()
            # The headers are out: the store must have it all.
            store = self.settings["session_store"]
            assert isinstance(store, AsyncSpyStore)
            record = store.spy.peek(session.id)
            stored = record is not None and record.data == {"via": way}
            self.write(json.dumps(stored).encode() + b"}")
        elif way == "redirect":
            self.redirect("/elsewhere")
        elif way == "http-error":
            raise tornado.web.HTTPError(403)
        elif way == "send-error":
            self.send_error(409)
        elif way == "finish-exception":
            raise tornado.web.Finish("done")
        else:
            raise AssertionError(way)
        self.probe.handler_ran(self.request.path)


@attrs.frozen
class TornadoSite:
    client: Client
    store: SpyStore
    probe: Probe


@pytest.fixture
def site() -> Iterator[TornadoSite]:
    store = SpyStore()
    probe = Probe()
    app = tornado.web.Application(
        [(r"/([a-z-]+)", Exit, {"probe": probe})],
        session_config=session_config(),
        session_store=store.as_async(),
    )
    with serve_tornado(app) as url, Client(url, "sid") as client:
        yield TornadoSite(client, store, probe)
    errors = probe.take_errors()
    assert not errors, f"unexpected errors in the application: {errors!r}"


@pytest.mark.parametrize(
    ("way", "status"),
    [
        ("finish", 200),
        ("awaited-finish", 200),
        ("flush", 200),
        ("redirect", 302),
        ("http-error", 403),
        ("send-error", 409),
        ("finish-exception", 200),
    ],
)
def test_every_way_out_commits_the_session(
    site: TornadoSite, way: str, status: int
) -> None:
    reply = site.client.get(f"/{way}")

    assert reply.status == status
    sent = reply.session_cookie
    assert sent is not None
    (session_id,) = site.store.ids("set")
    assert IdSigner(session_config().secret).unsign(sent.value) == session_id
    record = site.store.peek(session_id)
    assert record is not None
    assert record.data == {"via": way}


def test_flush_mid_handler_commits_before_the_headers_go_out(
    site: TornadoSite,
) -> None:
    reply = site.client.get("/flush")

    assert reply.body == {"stored_before_body": True}
    assert reply.headers.get("transfer-encoding") == "chunked"
    site.probe.wait_idle()
    assert site.probe.handled == ["/flush"]


def test_store_failure_at_flush_stops_the_handler(site: TornadoSite) -> None:
    failure = StoreError("store unreachable")
    site.store.fail("set", failure)

    reply = site.client.get("/flush")

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert site.probe.take_errors() == [failure]
    assert site.probe.handled == []


class Echo(SessionMixin, tornado.websocket.WebSocketHandler):
    """A websocket that answers each message with the user in its session."""

    def on_message(self, message: str | bytes) -> None:
        self.write_message(json.dumps({"user": self.session.get("user")}))


def test_a_websocket_handler_with_the_mixin_completes_its_handshake() -> None:
    store = SpyStore()
    store.seed("seeded", {"user": "ada"})
    config = session_config()
    app = tornado.web.Application(
        [("/ws", Echo)], session_config=config, session_store=store.as_async()
    )
    cookie = f"sid={IdSigner(config.secret).sign('seeded')}"
    with serve_tornado(app) as url:
        target = url.replace("http://", "ws://") + "/ws"
        with connect(target, additional_headers={"Cookie": cookie}) as socket:
            socket.send("who")
            assert json.loads(socket.recv(timeout=10)) == {"user": "ada"}
    assert store.count("set") == 0


def test_write_after_finish_still_raises_while_the_commit_waits() -> None:
    refused: list[str] = []

    class Writer(SessionMixin, tornado.web.RequestHandler):
        def get(self) -> None:
            self.session["step"] = 1
            self.finish("first")
            try:
                self.write("more")
            except RuntimeError as error:
                refused.append(str(error))

    app = tornado.web.Application(
        [("/", Writer)],
        session_config=session_config(),
        session_store=SpyStore().as_async(),
    )
    with serve_tornado(app) as url, Client(url, "sid") as client:
        reply = client.get("/")
    assert reply.status == 200
    assert reply.headers["content-length"] == str(len("first"))
    assert len(reply.session_cookies) == 1
    assert refused == ["Cannot write() after finish()"]
