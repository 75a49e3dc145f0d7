"""Run the benchmark: ``python -m benchmarks [--smoke]`` from the repository
root.

A full run takes a few minutes, prints the report, and rewrites the results
section of ``docs/performance.md`` and the chart ``docs/performance.png``.
``--smoke`` runs every entry for a few requests only, to prove that each one
still works; it prints its (meaningless) table and leaves the docs alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path

from benchmarks import redis_counting, report
from benchmarks.entries_aiohttp import aiohttp_entries
from benchmarks.entries_asgi import starlette_entries
from benchmarks.entries_core import core_entries
from benchmarks.entries_tornado import tornado_entries
from benchmarks.entries_wsgi import flask_entries, plain_wsgi_entries
from benchmarks.harness import Cell, Settings, measure

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGE = DOCS / "performance.md"
CHART = DOCS / "performance.png"

FULL = Settings(rounds=60, batch_ns=15_000_000, warmup_requests=100)
SMOKE = Settings(rounds=3, batch_ns=200_000, warmup_requests=3, max_batch=20)

FACTORIES = (
    plain_wsgi_entries,
    flask_entries,
    starlette_entries,
    aiohttp_entries,
    tornado_entries,
    core_entries,
)


def positive_int(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time this library and its peers in-process, per request "
        "of a returning visitor, against each framework's bare application.",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few requests per entry, to check that every entry works; "
        "the docs are not written",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        help=f"rounds of batches, at least 1 (default {FULL.rounds})",
    )
    parser.add_argument(
        "--no-docs",
        action="store_true",
        help="print the report without writing docs/performance.md and its chart",
    )
    return parser.parse_args(argv)


async def run(settings: Settings, with_redis: bool) -> list[Cell]:
    """Build every entry, measure it, and release what the entries hold."""
    async with contextlib.AsyncExitStack() as resources:
        entries = [
            entry for factory in FACTORIES for entry in factory(with_redis, resources)
        ]
        return await measure(entries, settings)


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    settings = SMOKE if options.smoke else FULL
    if options.rounds is not None:
        settings = Settings(
            rounds=options.rounds,
            batch_ns=settings.batch_ns,
            warmup_requests=settings.warmup_requests,
            max_batch=settings.max_batch,
        )

    notes = []
    unreachable = redis_counting.unreachable_reason()
    if unreachable is None:
        redis_server: str | None = redis_counting.server_version()
        redis_counting.empty_database()
    else:
        redis_server = None
        notes.append(f"Note: {unreachable}, so the Redis entries were skipped.")
        print(notes[-1], file=sys.stderr)

    try:
        cells = asyncio.run(run(settings, with_redis=unreachable is None))
    finally:
        if unreachable is None:
            redis_counting.empty_database()

    rows = report.rows_of(cells)
    machine = report.machine_description(redis_server)
    print(report.text_table(rows))
    print()
    print(f"Machine: {machine}")
    for note in notes:
        print(note)

    section = report.markdown_section(rows, machine, settings, notes, CHART.name)
    if options.smoke:
        # Exercise the chart too, away from the docs.
        with tempfile.TemporaryDirectory() as scratch:
            report.draw_chart(rows, Path(scratch) / CHART.name, machine)
        print("smoke run: every entry answered; docs/ left as it was")
    elif not options.no_docs:
        report.write_section(PAGE, section)
        report.draw_chart(rows, CHART, machine)
        root = DOCS.parent
        print(f"wrote {PAGE.relative_to(root)} and {CHART.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
