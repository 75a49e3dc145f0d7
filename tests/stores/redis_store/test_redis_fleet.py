"""A fleet: two worker processes, each serving the same WSGI application on
a port of its own, share their sessions through one Redis."""

from __future__ import annotations

import contextlib
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import redis

from sessions.signing import IdSigner
from sessions.stores.redis import RedisStore
from tests.behaviour.client import Client
from tests.stores.redis_store.servers import STARTUP_TIMEOUT, RedisAddress
from tests.stores.redis_store.support import a_record

ROOT = Path(__file__).resolve().parents[3]
SECRETS = ["the current secret", "the previous secret"]
SIGNER = IdSigner([secret.encode() for secret in SECRETS])


def _first_line(process: subprocess.Popen[str], log: Path) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=STARTUP_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    assert line.startswith("listening on "), (
        f"the worker did not start: {line!r}\n{log.read_text()}"
    )
    return line


@contextlib.contextmanager
def worker(address: RedisAddress, prefix: str, log: Path) -> Iterator[str]:
    """Start a worker process; yield its base URL; stop it on exit."""
    command = [
        sys.executable,
        "-m",
        "tests.stores.redis_store.worker",
        str(address.port),
        prefix,
        *SECRETS,
    ]
    with (
        log.open("w") as errors,
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True
        ) as process,
    ):
        try:
            port = int(_first_line(process, log).split()[-1])
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=STARTUP_TIMEOUT)
        assert process.returncode == 0, f"the worker failed:\n{log.read_text()}"


def test_two_worker_processes_share_sessions(
    redis_address: RedisAddress,
    redis_prefix: str,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    with (
        worker(redis_address, redis_prefix, tmp_path / "first.log") as first,
        worker(redis_address, redis_prefix, tmp_path / "second.log") as second,
    ):
        assert first != second
        browser = Client(first, "sid")
        try:
            anonymous = browser.get("/?set=visits:1")
            # Logging in on the first worker: a new id, then the user.
            login = browser.get("/?regenerate=1&set=user:ada")
            assert login.session_id != anonymous.session_id

            browser.base_url = second  # the load balancer picks the other one
            there = browser.get("/?append=cart:apple")
            assert not there.is_new
            assert there.session_id == login.session_id
            assert there.data == {"user": "ada", "cart": ["apple"]}
            stale = browser.get("/", cookie=f"sid={SIGNER.sign(anonymous.session_id)}")
            assert stale.is_new, "the id retired at login still opens a session"

            browser.base_url = first
            back = browser.get("/")
            assert back.data == {"user": "ada", "cart": ["apple"]}
            browser.get("/?destroy=1")  # logging out on the first worker

            browser.base_url = second
            after = browser.get("/")
            assert after.is_new
            assert after.data == {}
        finally:
            browser.close()

        # A cookie signed with the previous secret still opens its session on
        # every worker, so a fleet can rotate secrets one deploy at a time.
        RedisStore(redis_client, prefix=redis_prefix).set("old-cookie", a_record())
        old_signer = IdSigner([SECRETS[1].encode()])
        for url in (first, second):
            with Client(url, "sid") as other:
                reply = other.get("/", cookie=f"sid={old_signer.sign('old-cookie')}")
                assert not reply.is_new
                assert reply.data == {"user": "ada", "cart": [1, 2]}
