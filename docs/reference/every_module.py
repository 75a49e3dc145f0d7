"""An MkDocs hook that keeps the API reference complete.

Every public module of ``src/sessions`` and ``src/sessions_adapters`` must
be rendered by a ``::: module.name`` line in a page under
``docs/reference/``, and every such line must name a module that exists.
Each miss is a warning, so ``mkdocs build --strict`` fails when a module is
added without its reference page, or renamed under one.

A module is public when no part of its dotted name starts with an
underscore (``sessions.testing._checks`` is private). A package is required
only when its ``__init__`` exports names from a private module
(``sessions.testing.clients`` and its ``_base``): it is their only public
home. Other packages only gather names that public modules define.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.files import Files

PACKAGES = ("sessions", "sessions_adapters")
RENDERED = re.compile(r"^::: *(?P<name>[\w.]+)", re.M)

log = get_plugin_logger("reference")


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """Warn about each public module without a reference page, and each
    reference page that renders something this project does not have."""
    root = Path(config.config_file_path).parent
    modules = public_modules(root / "src")
    reference = Path(config.docs_dir) / "reference"

    rendered: dict[str, str] = {}
    for page in sorted(reference.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in RENDERED.finditer(text):
            rendered[match["name"]] = page.relative_to(config.docs_dir).as_posix()

    for module in sorted(modules - rendered.keys()):
        log.warning(f"{module} is public but no page under docs/reference/ renders it")
    for name, where in sorted(rendered.items()):
        if name.split(".", 1)[0] in PACKAGES and not _exists(name, modules):
            log.warning(f"{where} renders {name}, which is not in src/")
    return files


def public_modules(src: Path) -> set[str]:
    """The dotted names of the public modules under ``src`` that need a
    reference page: every module, and the packages that export names from
    private modules."""
    found = set()
    for package in PACKAGES:
        for path in (src / package).rglob("*.py"):
            parts = path.relative_to(src).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
                if not _exports_private_names(path):
                    continue
            if not any(part.startswith("_") for part in parts):
                found.add(".".join(parts))
    return found


def _exports_private_names(init: Path) -> bool:
    """Whether the package ``__init__.py`` at ``init`` imports names from a
    private module (``from ._base import Client``)."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.ImportFrom)
        and any(part.startswith("_") for part in (node.module or "").split("."))
        for node in ast.walk(tree)
    )


def _exists(name: str, modules: set[str]) -> bool:
    """Whether ``name`` is one of ``modules``, a package, or an object in
    one of them (``::: sessions.config.SessionConfig``)."""
    return any(
        name == module or name.startswith(module + ".") or module.startswith(name + ".")
        for module in modules
    )
