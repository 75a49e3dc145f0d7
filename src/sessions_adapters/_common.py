"""Small pieces every adapter needs; no framework is imported here."""

from __future__ import annotations

import contextlib
import logging

from sessions.cycle import ChangesDropped
from sessions.errors import SessionCommittedError
from sessions.runner import AsyncRunner, SyncRunner


class CommitLog:
    """Logs what a request's session cycle reports besides its headers.

    A cookie that could not be sent is a warning the first time (it usually
    means a missing ``trust_proxy``), then debug. Changes dropped because
    another request ended the session are a warning each time. A store
    outage that ``store_outage="read_only"`` let a request survive is an
    error, with the store's exception.
    """

    __slots__ = ("_logger", "_warned")

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._warned = False

    def report(self, runner: SyncRunner | AsyncRunner) -> None:
        logger = self._logger
        for error in runner.outage:
            logger.error(
                "the session store could not be reached; the request went on "
                "without its session (store_outage='read_only')",
                exc_info=error,
            )
        for notice in runner.notices:
            if isinstance(notice, ChangesDropped):
                logger.warning("session changes not stored: %s", notice.reason)
            elif self._warned:
                logger.debug("session cookie not sent: %s", notice.reason)
            else:
                self._warned = True
                logger.warning(
                    "session cookie not sent (%s): cookie.secure=True needs "
                    "HTTPS; behind a TLS-terminating proxy set trust_proxy=True",
                    notice.reason,
                )


def finish_after_error(runner: SyncRunner | AsyncRunner) -> None:
    """Close the cycle of a request whose handler raised.

    The handler's exception is what the framework must see, so a complaint
    about session changes made after the response started is dropped.
    """
    with contextlib.suppress(SessionCommittedError):
        runner.finish()


def finish_cycle(runner: SyncRunner | AsyncRunner, logger: logging.Logger) -> None:
    """Close the cycle of a request whose response is over.

    Data the handler changed after the response started, and never saved,
    is reported as an error on ``logger``. Raising here instead would only
    damage a response that is already on its way (a cut chunked body, a
    dropped keep-alive connection), and the change is lost either way.
    """
    try:
        runner.finish()
    except SessionCommittedError:
        logger.exception("a session change made after the response started was lost")
