"""What a run reports: the printed table, the Markdown section of
``docs/performance.md``, and the bar chart of ratios to the bare
applications."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks.harness import (
    Cell,
    Scenario,
    Settings,
    cell_key,
    median_ns,
    paired,
    spread_ns,
)

__all__ = [
    "REPRODUCE",
    "Row",
    "draw_chart",
    "machine_description",
    "markdown_section",
    "rows_of",
    "text_table",
    "write_section",
]

REPRODUCE = (
    "python3 -m venv .venv-bench && .venv-bench/bin/pip install -e '.[bench]' "
    "&& .venv-bench/bin/python -m benchmarks"
)
"""The command that installs the ``bench`` extra and runs the benchmark."""

START_MARKER = "<!-- benchmark-results:start -->"
END_MARKER = "<!-- benchmark-results:end -->"

PACKAGES = (
    "sessions",
    "flask",
    "flask-session",
    "cachelib",
    "beaker",
    "starlette",
    "starsessions",
    "aiohttp",
    "aiohttp-session",
    "tornado",
    "redis",
)


@dataclass(frozen=True)
class Row:
    """One cell's figures, per request.

    Attributes:
        median_us: The median, across rounds, of the mean time per request.
        spread_us: The interquartile range of those per-round means.
        over_bare_us: The median, across rounds, of this cell's time minus
            the bare application's in the same round and scenario.
        ratio: The median, across rounds, of this cell's time divided by
            the bare application's.
        set_cookies: ``Set-Cookie`` fields per response.
        round_trips: Redis round trips per request (``None``: no Redis).
    """

    group: str
    entry: str
    is_bare: bool
    scenario: Scenario
    median_us: float
    spread_us: float
    over_bare_us: float | None
    ratio: float | None
    set_cookies: float
    round_trips: float | None


def rows_of(cells: list[Cell]) -> list[Row]:
    """Sum each cell up, compared with its group's bare cell of the same
    scenario."""
    bare = {cell_key(cell): cell for cell in cells if cell.entry.is_bare}
    rows = []
    for cell in cells:
        entry = cell.entry
        reference = None if entry.is_bare else bare.get(cell_key(cell))
        requests = max(1, cell.requests)
        rows.append(
            Row(
                group=entry.group,
                entry=entry.name,
                is_bare=entry.is_bare,
                scenario=cell.scenario,
                median_us=median_ns(cell.per_request_ns) / 1000,
                spread_us=spread_ns(cell.per_request_ns) / 1000,
                over_bare_us=None
                if reference is None
                else paired(cell, lambda mine, bare: mine - bare) / 1000,
                ratio=None
                if reference is None
                else paired(cell, lambda mine, bare: mine / bare),
                set_cookies=cell.set_cookies / requests,
                round_trips=None
                if entry.round_trips is None
                else cell.round_trips / requests,
            )
        )
    return rows


# -- formatting -------------------------------------------------------------------

NOTHING = "-"


def _number(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return NOTHING if value is None else f"{value:.{digits}f}{suffix}"


def _signed(value: float | None) -> str:
    return NOTHING if value is None else f"{value:+.1f}"


def _cells(row: Row) -> list[str]:
    return [
        row.scenario.value,
        _number(row.median_us),
        _number(row.spread_us),
        NOTHING if row.is_bare else _signed(row.over_bare_us),
        NOTHING if row.is_bare else _number(row.ratio, 2, "x"),
        _number(row.set_cookies, 2),
        _number(row.round_trips, 2),
    ]


COLUMNS = [
    "scenario",
    "us/req",
    "IQR us",
    "+us vs bare",
    "x bare",
    "Set-Cookie/req",
    "Redis trips/req",
]


def _groups(rows: list[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    return groups


def text_table(rows: list[Row]) -> str:
    """The report as aligned plain text, one block per framework."""
    table = [["entry", *COLUMNS]]
    for group, members in _groups(rows).items():
        table.append([f"[{group}]"] + [""] * len(COLUMNS))
        previous = None
        for row in members:
            name = "" if row.entry == previous else row.entry
            previous = row.entry
            table.append([name, *_cells(row)])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = []
    for line in table:
        cells = [line[0].ljust(widths[0])]
        cells += (cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _markdown_table(header: list[str], body: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join(" --- " for _ in header) + "|")
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def _headline(rows: list[Row]) -> str:
    """Ratios to the bare application: one line per entry, one column per
    scenario."""
    body = []
    for group, members in _groups(rows).items():
        by_entry: dict[str, dict[Scenario, Row]] = {}
        for row in members:
            if not row.is_bare:
                by_entry.setdefault(row.entry, {})[row.scenario] = row
        for entry, scenarios in by_entry.items():
            cells = [group, entry]
            for scenario in Scenario:
                row = scenarios[scenario]
                if row.ratio is None:
                    cells.append(f"{row.median_us:.1f} us")
                else:
                    cells.append(f"{row.ratio:.2f}x")
            body.append(cells)
    header = ["framework", "entry", *(scenario.value for scenario in Scenario)]
    return _markdown_table(header, body)


def _details(rows: list[Row]) -> str:
    body = [[row.group, row.entry, *_cells(row)] for row in rows]
    return _markdown_table(["framework", "entry", *COLUMNS], body)


def source_revision() -> str | None:
    """The commit the measured library comes from, when this is a git
    checkout: ``sessions at commit <hash>``, noting uncommitted changes
    under ``src/``."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    dirty = " with uncommitted changes under src/" if changed else ""
    return f"sessions at commit {commit}{dirty}"


def machine_description(redis_server: str | None) -> str:
    """The Python, the machine and the versions of everything measured."""
    cpu = ""
    with_model = Path("/proc/cpuinfo")
    if with_model.is_file():
        found = re.search(
            r"^model name\s*:\s*(.+)$", with_model.read_text(errors="replace"), re.M
        )
        if found:
            cpu = f", {found.group(1).strip()}"
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    if redis_server is not None:
        versions.append(f"Redis server {redis_server}")
    revision = source_revision()
    if revision is not None:
        versions.append(revision)
    return (
        f"{platform.python_implementation()} {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs{cpu}. "
        + ", ".join(versions)
        + "."
    )


def markdown_section(
    rows: list[Row],
    machine: str,
    settings: Settings,
    notes: list[str],
    chart_name: str,
) -> str:
    """The generated part of ``docs/performance.md``."""
    day = datetime.now(timezone.utc).date().isoformat()
    parts = [
        f"One run on {day}: {settings.rounds} rounds, batches of about "
        f"{settings.batch_ns / 1e6:g} ms per cell.",
        f"Machine: {machine}",
        f"Reproduce from the repository root:\n\n```sh\n{REPRODUCE}\n```",
        *notes,
        "Ratio to the bare application of the same framework (lower is "
        "better; 1.00x is no overhead at all). The core-only entries have no "
        "bare application, so their cells give the time per request instead.",
        _headline(rows),
        f"![Ratio to the bare application, per entry and scenario]({chart_name})",
        "Every figure, per request. `us/req` is the median over rounds; `IQR "
        "us` is the interquartile range of the per-round means; `+us vs bare` "
        "and `x bare` compare each batch with the bare application's batch run "
        "just before it and take the median; `Redis trips/req` counts "
        "commands, pipelines and scripts sent.",
        _details(rows),
    ]
    return "\n\n".join(parts)


def write_section(path: Path, section: str) -> None:
    """Put ``section`` between the result markers of ``path``.

    Raises:
        ValueError: the markers are missing.
    """
    text = path.read_text(encoding="utf-8")
    start = text.find(START_MARKER)
    end = text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(
            f"{path} lacks the markers {START_MARKER} and {END_MARKER} "
            "that delimit the generated results"
        )
    head = text[: start + len(START_MARKER)]
    path.write_text(f"{head}\n{section}\n{text[end:]}", encoding="utf-8")


# -- the chart --------------------------------------------------------------------

COLOURS = {
    Scenario.CHANGE: "#c0504d",
    Scenario.READ: "#4f81bd",
    Scenario.UNTOUCHED: "#9bbb59",
}


def draw_chart(rows: list[Row], path: Path, machine: str) -> None:
    """A PNG with one panel per framework: each entry's ratio to the bare
    application, one bar per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    panels = {
        group: members
        for group, members in _groups(rows).items()
        if any(row.ratio is not None and not row.is_bare for row in members)
    }
    names = {
        group: list(dict.fromkeys(row.entry for row in members if not row.is_bare))
        for group, members in panels.items()
    }
    heights = [len(entries) + 1 for entries in names.values()]
    figure, axes = pyplot.subplots(
        len(panels),
        1,
        figsize=(10, 1.2 + 0.62 * sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    bar = 0.26
    for axis, (group, members) in zip(axes[:, 0], panels.items(), strict=True):
        entries = names[group]
        for offset, scenario in enumerate(Scenario):
            ratios = {
                row.entry: row.ratio or 0.0
                for row in members
                if row.scenario is scenario and not row.is_bare
            }
            places = [index + (offset - 1) * bar for index in range(len(entries))]
            values = [ratios[entry] for entry in entries]
            drawn = axis.barh(
                places,
                values,
                height=bar,
                color=COLOURS[scenario],
                label=scenario.value,
            )
            axis.bar_label(
                drawn, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2
            )
        axis.axvline(1.0, color="black", linewidth=0.8)
        axis.set_yticks(range(len(entries)), entries, fontsize=8)
        axis.invert_yaxis()
        axis.set_title(group, fontsize=10, loc="left")
        axis.margins(x=0.12)
        axis.tick_params(axis="x", labelsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, title="scenario", loc="upper right", ncols=3)
    axes[-1, 0].set_xlabel("time per request / bare application's (1.0 = no overhead)")
    figure.suptitle(
        "Session layer overhead, returning visitor, in-process", x=0.01, ha="left"
    )
    figure.text(0.01, 0.003, textwrap.fill(machine, 150), fontsize=6, va="bottom")
    top = 1 - 0.6 / figure.get_figheight()
    figure.tight_layout(rect=(0, 0.5 / figure.get_figheight(), 1, top))
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
