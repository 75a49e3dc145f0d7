"""A type checker sees the declared field types through a TypedView.

``typed_usage.py`` is handler code written against :class:`sessions.TypedView`.
One ``mypy`` run (with the project's strict configuration) checks three
versions of it:

- the file itself, which must be clean: each ``assert_type`` holds and
  each ``# type: ignore[code]`` mark is needed;
- a probe, where every ``assert_type(expr, T)`` becomes ``reveal_type(expr)``
  and the marks are removed: each revealed type must read ``T``, and each
  marked line must be reported with its code;
- the probe again with ``TypedView`` replaced by a function returning
  ``Any``, which the same checks must reject, so that these tests cannot
  pass on types that have decayed to ``Any``.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from pathlib import Path

import attrs
import pytest
from mypy import api

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
USAGE = HERE / "typed_usage.py"

_IGNORE = re.compile(r"# type: ignore\[([\w-]+)\]")
_REPORT = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<kind>\w+): (?P<text>.*)$")
_ERROR_CODE = re.compile(r"\s+\[([\w-]+)\]$")
_REVEALED = re.compile(r'^Revealed type is "(.*)"$')
_QUALIFIER = re.compile(r"\b(?:\w+\.)+(?=\w)")


@attrs.frozen
class Expectations:
    """What mypy must say about a probe: the revealed type per line, and
    the error code per line."""

    revealed: dict[int, str]
    errors: dict[int, str]


def make_probe(source: str) -> tuple[str, Expectations]:
    """The probe of ``source``, and what mypy must report about it."""
    lines = source.splitlines()
    errors = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        mark = _IGNORE.fullmatch(token.string)
        if token.type == tokenize.COMMENT and mark is not None:
            number, column = token.start
            errors[number] = mark.group(1)
            lines[number - 1] = lines[number - 1][:column].rstrip()

    revealed = {}
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "assert_type"
        ):
            expression, expected = (
                ast.get_source_segment(source, argument) for argument in node.args
            )
            assert expression is not None
            assert expected is not None
            assert node.lineno == node.end_lineno, "keep assert_type on one line"
            line = lines[node.lineno - 1]
            call = line[node.col_offset : node.end_col_offset]
            lines[node.lineno - 1] = line.replace(call, f"reveal_type({expression})")
            revealed[node.lineno] = expected
    return "\n".join(lines) + "\n", Expectations(revealed, errors)


def degrade(probe: str) -> str:
    """``probe`` with every ``TypedView(...)`` returning ``Any`` (defined at
    the end, so that every line keeps its number)."""
    untyped = (
        "\n\nimport typing\n\n\n"
        "def _untyped(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:\n"
        "    return None\n"
    )
    return probe.replace("TypedView(", "_untyped(") + untyped


def shorten(type_text: str) -> str:
    """A revealed type without module paths: ``list[str]``, not
    ``builtins.list[builtins.str]``."""
    return _QUALIFIER.sub("", type_text).replace(" ", "")


def problems(
    reports: list[tuple[int, str, str]], expectations: Expectations
) -> list[str]:
    """Every way ``reports`` (line, kind, text) fall short of
    ``expectations``; empty when mypy said exactly what it must."""
    found: list[str] = []
    seen_errors: dict[int, set[str]] = {}
    seen_types: dict[int, str] = {}
    for line, kind, text in reports:
        if kind == "error":
            marked = _ERROR_CODE.search(text)
            seen_errors.setdefault(line, set()).add(marked.group(1) if marked else "")
        revealed = _REVEALED.match(text)
        if kind == "note" and revealed is not None:
            seen_types[line] = shorten(revealed.group(1))

    for line, expected in expectations.revealed.items():
        seen = seen_types.get(line)
        if seen != shorten(expected):
            found.append(f"line {line}: revealed {seen!r}, expected {expected!r}")
    for line, code in expectations.errors.items():
        if code not in seen_errors.get(line, set()):
            found.append(f"line {line}: no [{code}] error reported")
    for line, codes in seen_errors.items():
        if expectations.errors.get(line) not in codes:
            found.append(f"line {line}: unexpected error {sorted(codes)}")
    return found


@attrs.frozen
class MypyRun:
    reports: dict[str, list[tuple[int, str, str]]]
    """(line, kind, text) of each report, by file name."""
    expectations: Expectations
    output: str


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory: pytest.TempPathFactory) -> MypyRun:
    source = USAGE.read_text(encoding="utf-8")
    probe, expectations = make_probe(source)
    folder = tmp_path_factory.mktemp("typing")
    (folder / "typed_usage_probe.py").write_text(probe, encoding="utf-8")
    (folder / "typed_usage_degraded.py").write_text(degrade(probe), encoding="utf-8")

    previous = Path.cwd()
    os.chdir(ROOT)  # mypy.ini names its paths from the project root
    try:
        stdout, stderr, _status = api.run(
            [
                "--config-file",
                str(ROOT / "mypy.ini"),
                "--no-error-summary",
                "--show-error-codes",
                "--no-pretty",
                str(USAGE),
                str(folder / "typed_usage_probe.py"),
                str(folder / "typed_usage_degraded.py"),
            ]
        )
    finally:
        os.chdir(previous)

    reports: dict[str, list[tuple[int, str, str]]] = {}
    for text in stdout.splitlines():
        match = _REPORT.match(text)
        assert match is not None, f"unexpected mypy output: {text}\n{stderr}"
        reports.setdefault(Path(match["path"]).name, []).append(
            (int(match["line"]), match["kind"], match["text"])
        )
    return MypyRun(reports, expectations, stdout + stderr)


def test_the_usage_file_is_clean_under_the_strict_configuration(
    mypy_run: MypyRun,
) -> None:
    assert mypy_run.reports.get("typed_usage.py", []) == [], mypy_run.output


def test_the_usage_file_states_types_and_mistakes_to_check() -> None:
    _probe, expectations = make_probe(USAGE.read_text(encoding="utf-8"))
    assert len(expectations.revealed) >= 10
    assert set(expectations.errors.values()) >= {
        "arg-type",
        "assignment",
        "attr-defined",
        "return-value",
    }


def test_field_types_are_revealed_and_mistakes_reported(mypy_run: MypyRun) -> None:
    reports = mypy_run.reports.get("typed_usage_probe.py", [])
    assert problems(reports, mypy_run.expectations) == [], mypy_run.output


def test_the_checks_reject_types_that_decayed_to_any(mypy_run: MypyRun) -> None:
    reports = mypy_run.reports.get("typed_usage_degraded.py", [])
    found = problems(reports, mypy_run.expectations)
    # Every type revealed through a view reads Any, and every mistake on
    # its fields goes unreported.
    revealed_through_view = [
        line
        for line, expected in mypy_run.expectations.revealed.items()
        if f"line {line}: revealed 'Any', expected {expected!r}" in found
    ]
    assert len(revealed_through_view) == len(mypy_run.expectations.revealed)
    assert any("no [assignment] error reported" in problem for problem in found)
