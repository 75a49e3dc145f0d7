"""Finding a Redis server for the tests, or starting a throwaway one.

The policy, decided by :func:`plan`: use the server on 127.0.0.1:6379 when
one answers; otherwise start a throwaway ``redis-server`` (in a temporary
directory, persisting nothing) when the binary is installed; otherwise skip
the Redis tests, unless the ``CI`` environment variable is set, where a
missing Redis fails the run instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import attrs
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = [
    "DEFAULT_PORT",
    "HOST",
    "Plan",
    "RedisAddress",
    "answers",
    "ci_environment",
    "ci_is_set",
    "free_port",
    "no_retry",
    "plan",
    "redis_server_binary",
    "throwaway_redis",
]

HOST = "127.0.0.1"
DEFAULT_PORT = 6379
STARTUP_TIMEOUT = 10.0


def no_retry() -> Retry:
    """redis-py retries a failed command by default (with growing pauses);
    the tests want to see the first failure at once."""
    return Retry(NoBackoff(), 0)


Plan = Literal["use", "start", "skip", "fail"]


@attrs.frozen
class RedisAddress:
    """Where a Redis server listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def ci_is_set(environ: Mapping[str, str]) -> bool:
    """Whether the environment says this is a CI run (``CI=true``, ``CI=1``)."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def plan(*, listening: bool, binary: str | None, ci: bool) -> Plan:
    """What to do about Redis: use the default server, start one, skip the
    Redis tests, or fail them."""
    if listening:
        return "use"
    if binary is not None:
        return "start"
    return "fail" if ci else "skip"


def answers(address: RedisAddress, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers ``PING`` at ``address``."""
    client = redis.Redis(
        host=address.host,
        port=address.port,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=no_retry(),
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def free_port(*, cluster_bus: bool = False) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now.

    With ``cluster_bus``, the port 10000 above it is free too, for the bus
    a Redis Cluster node opens there.
    """
    while True:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port: int = probe.getsockname()[1]
        if not cluster_bus:
            return port
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus, contextlib.suppress(OSError):
            bus.bind((HOST, port + 10000))
            return port


@contextlib.contextmanager
def throwaway_redis(
    binary: str, directory: Path, *extra_arguments: str
) -> Iterator[RedisAddress]:
    """Run a ``redis-server`` on a free port of 127.0.0.1 that keeps nothing
    on disk, and stop it on exit.

    Raises:
        RuntimeError: the server exited or did not answer in time; the
            message carries its log.
    """
    port = free_port(cluster_bus="--cluster-enabled" in extra_arguments)
    address = RedisAddress(HOST, port)
    log = directory / "redis.log"
    command = [
        binary,
        "--bind", HOST,
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
        "--logfile", str(log),
        *extra_arguments,
    ]  # fmt: skip
    with subprocess.Popen(command, stdin=subprocess.DEVNULL) as server:
        try:
            _wait_until_answering(server, address, log)
            yield address
        finally:
            server.terminate()
            server.wait(timeout=STARTUP_TIMEOUT)


def _wait_until_answering(
    server: subprocess.Popen[bytes], address: RedisAddress, log: Path
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not answers(address, timeout=0.2):
        if server.poll() is not None or time.monotonic() > deadline:
            text = log.read_text() if log.exists() else "(no log)"
            raise RuntimeError(f"redis-server did not start on {address}:\n{text}")
        time.sleep(0.05)


def redis_server_binary() -> str | None:
    """The ``redis-server`` on ``PATH``, if any."""
    return shutil.which("redis-server")


def ci_environment() -> bool:
    """Whether this process runs in CI."""
    return ci_is_set(os.environ)
