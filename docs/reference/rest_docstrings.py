"""A Griffe extension that turns the reST of the docstrings into Markdown.

The docstrings of this project are written for Sphinx: they refer to other
objects with roles (``:class:`Update```,
``:meth:`~sessions.stores.base.Store.update```), which read well in an
editor and in ``help()``. mkdocstrings renders docstrings as Markdown and
knows nothing of roles, so this extension rewrites each of them, before
the docstrings are parsed, into the cross-reference syntax of
mkdocs-autorefs: ``[`Update`][sessions.cycle.Update]``.

A name is looked up as Sphinx would: from the object whose docstring holds
it, outwards through its class and its module, including what they import,
and then among the members its class inherits; a dotted name that starts
with ``sessions`` or ``sessions_adapters`` is taken as it is. What it finds
becomes:

* a link, when the name belongs to this project. A link to an object that
  the reference does not document makes mkdocs-autorefs warn;
* plain code, when the name is outside the project, because the site links
  to no other site: a built-in (``ValueError``), a module of the standard
  library (``sqlite3``) or something from a package that this project
  imports (``cattrs``, ``tornado.web.RequestHandler``). So does a private
  name (``_something``), which the reference leaves out, unless a package
  exports it under a public name: the link then goes there;
* a warning, when it is none of these: a misspelt or vanished name.

Either warning fails ``mkdocs build --strict``.

Two more pieces of reST become Markdown. A literal block (a paragraph
ending in ``::``, then an indented block) becomes the paragraph with one
colon and a fenced block, highlighted as Python when it parses as Python,
as Sphinx does. The lines of a list item, indented to the item's text as
reST has them (three columns for ``1.``), are indented four columns
instead, which Markdown needs to keep a second paragraph inside its item.

Last, the attributes of the configuration and value classes are documented
in their class's ``Attributes:`` section. Each entry there also becomes the
docstring of the attribute itself, so that the attribute gets an entry of
its own, with its type and default, that a role can link to (the section's
table is hidden: see ``show_docstring_attributes`` in mkdocs.yml). An entry
that names no attribute of its class is a warning. For an attrs field, the
default shown is the field's ``default=`` (or ``factory()``), not the
``attrs.field(...)`` call that declares it; for an attribute that a method
sets (``self.field = field``), no value is shown.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from dataclasses import dataclass
from typing import Any

from griffe import (
    Alias,
    Attribute,
    Class,
    Docstring,
    DocstringSectionAttributes,
    Expr,
    ExprCall,
    ExprKeyword,
    Extension,
    GriffeLoader,
    Module,
    NameResolutionError,
    Object,
    logger,
)

PROJECT_PACKAGES = ("sessions", "sessions_adapters")

# :role:`target`, :role:`~target`, :role:`title <target>`, with or without
# the py: domain. Sphinx's :role:`!target` is not supported: it is reported
# like a misspelt name.
ROLE = re.compile(
    r":(?:py:)?(?P<role>mod|class|exc|func|meth|attr|data|const|obj)"
    r":`(?P<body>[^`]+)`"
)
TITLED = re.compile(r"(?P<title>.*?)\s*<(?P<target>[^<>]+)>")
CALLABLE_ROLES = ("func", "meth")

LIST_ITEM = re.compile(r"(?P<indent> *)(?:\d+\.|[*+-]) +(?=\S)")
MARKDOWN_ITEM_INDENT = 4

ATTRS_FIELDS = ("attrs.field", "attr.ib", "attr.attrib", "attr.field")


@dataclass(frozen=True)
class PackageNames:
    """What a package knows of names beyond its own objects."""

    imported: set[str]
    """The top-level packages it imports from (``attrs``, ``redis``)."""
    public_aliases: dict[str, str]
    """For an object defined in a private module, the public name a package
    exports it under: ``sessions.testing.clients._base.Client`` is
    documented as ``sessions.testing.clients.Client``."""


class RestDocstrings(Extension):
    """Rewrite every docstring of a package once the package is loaded."""

    def on_package(self, *, pkg: Module, loader: GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the docstrings of ``pkg``, its modules and their members."""
        objects = _objects(pkg)
        aliases = [
            member
            for obj in objects
            for member in obj.members.values()
            if isinstance(member, Alias)
        ]
        names = PackageNames(
            imported={alias.target_path.split(".", 1)[0] for alias in aliases},
            public_aliases=_public_aliases(aliases),
        )
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj, obj.docstring.value, names)

        for obj in objects:
            _lift_attributes(obj)
            if not isinstance(obj, Attribute):
                continue
            if _is_attrs_class(obj.parent):
                # An attrs field is an instance attribute: what the class
                # body assigns it is its declaration, not a class attribute.
                obj.value = _attrs_default(obj.value)
                obj.labels.discard("class-attribute")
            elif "class-attribute" not in obj.labels and isinstance(obj.parent, Class):
                # Assigned in a method (self.field = field): the expression
                # means nothing outside that method, so it is not shown.
                obj.value = None


def _objects(obj: Object) -> list[Object]:
    """``obj`` and every object defined under it; imported names are left
    out, since their docstrings belong to the objects they name."""
    found = [obj]
    for member in obj.members.values():
        if isinstance(member, Object):
            found += _objects(member)
    return found


def _public_aliases(aliases: list[Alias]) -> dict[str, str]:
    """The public names among ``aliases`` that import a private object, by
    the path of the object they import. The first one wins, and a package
    comes before its modules: ``sessions.testing.clients.Client``, not the
    same class imported by ``sessions.testing.clients.wsgi``."""
    found: dict[str, str] = {}
    for alias in aliases:
        if _is_private(alias.target_path) and not _is_private(alias.path):
            found.setdefault(alias.target_path, alias.path)
    return found


# -- Roles -------------------------------------------------------------------


def rewrite(obj: Object, text: str, names: PackageNames) -> str:
    """The docstring ``text`` of ``obj`` in Markdown: its roles turned into
    links or code, its literal blocks fenced, its list items indented."""

    def replace(match: re.Match[str]) -> str:
        return _role(obj, match["role"], match["body"], names)

    text = ROLE.sub(replace, text)
    text = _fence_literal_blocks(text)
    return _indent_list_items(text)


def _role(obj: Object, role: str, body: str, names: PackageNames) -> str:
    """What one role becomes: a cross-reference, or a code span."""
    titled = TITLED.fullmatch(body)
    if titled:
        title, target = titled["title"], titled["target"]
    else:
        shorten = body.startswith("~")
        target = body.removeprefix("~")
        title = target.rsplit(".", 1)[-1] if shorten else target
        if role in CALLABLE_ROLES:
            title += "()"
    code = f"`{title}`"

    path = _resolve(obj, target)
    if path is None and _is_outside_project(target, names.imported):
        return code
    if path is None:
        line = obj.docstring.lineno if obj.docstring else None
        logger.warning(
            f"{obj.relative_filepath}:{line}: {obj.path} refers to "
            f":{role}:`{body}`, which is not a name this project has"
        )
        return f"[{code}][{target}]"  # mkdocs-autorefs reports it too
    path = names.public_aliases.get(path, path)
    if path.split(".", 1)[0] not in PROJECT_PACKAGES or _is_private(path):
        return code
    return f"[{code}][{path}]"


def _resolve(obj: Object, target: str) -> str | None:
    """The full dotted path ``target`` names, as seen from ``obj``, or None."""
    if target.split(".", 1)[0] in PROJECT_PACKAGES:
        return target

    first, _, rest = target.partition(".")
    try:
        path: str | None = obj.resolve(first)
    except NameResolutionError:
        path = _inherited(obj, first)
    if path is None or not rest:
        return path

    # The rest of a dotted name (Store.update) must be a member of what the
    # first part names, when that is an object of this project.
    full = f"{path}.{rest}"
    if path.split(".", 1)[0] in PROJECT_PACKAGES:
        try:
            obj.modules_collection.get_member(full)
        except KeyError:
            return None
    return full


def _inherited(obj: Object, name: str) -> str | None:
    """The path of ``name`` as a member that the class of ``obj``, or a class
    around it, inherits (``:meth:`close``` in a client built on a base class
    that defines ``close``), or None. The path is the member's path under
    the inheriting class, which the reference renders when the page shows
    inherited members."""
    scope: Object | None = obj
    while scope is not None:
        if isinstance(scope, Class) and name in scope.all_members:
            return f"{scope.path}.{name}"
        scope = scope.parent
    return None


def _is_outside_project(target: str, imported: set[str]) -> bool:
    """Whether ``target``, a name outside this project's packages, names a
    built-in, or something in the standard library or in a package that the
    project imports from."""
    first = target.split(".", 1)[0]
    return (
        hasattr(builtins, first)
        or first in sys.stdlib_module_names
        or first in imported
    )


def _is_private(path: str) -> bool:
    """Whether one part of ``path`` is private (``_checks``, ``_load``)."""
    return any(
        part.startswith("_") and not part.endswith("__") for part in path.split(".")
    )


# -- Literal blocks and lists ------------------------------------------------


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _fence_literal_blocks(text: str) -> str:
    """``text`` with each reST literal block turned into a fenced block."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.rstrip().endswith("::"):
            out.append(line)
            continue

        # The block: after one or more blank lines, every line indented
        # deeper than the paragraph, and the blank lines among them.
        base = _indentation(line)
        after_marker = i
        while i < len(lines) and not lines[i].strip():
            i += 1
        end = i
        while end < len(lines) and (
            not lines[end].strip() or _indentation(lines[end]) > base
        ):
            end += 1
        while end > i and not lines[end - 1].strip():
            end -= 1
        if i == after_marker or end == i:  # no blank line, or nothing indented
            out.append(line)
            i = after_marker
            continue

        # As in reST: "Example::" shows "Example:", and a "::" standing apart
        # from the text, or alone on its line, disappears.
        before = line.rstrip()[:-2]
        if before.strip():
            out.append(before.rstrip() if before.endswith(" ") else before + ":")
        depth = min(_indentation(block) for block in lines[i:end] if block.strip())
        code = [block[depth:] for block in lines[i:end]]
        margin = " " * base
        out += ["", margin + "```" + _language(code)]
        out += [margin + block if block.strip() else "" for block in code]
        out += [margin + "```"]
        i = end
    return "\n".join(out)


def _language(code: list[str]) -> str:
    """``python`` for a block that is Python, as Sphinx highlights it, and
    ``text`` for anything else (a table layout, a shell session)."""
    try:
        ast.parse("\n".join(code))
    except SyntaxError:
        return "text"
    return "python"


def _indent_list_items(text: str) -> str:
    """``text`` with the lines under each list item indented by four columns
    from the item's marker instead of to the item's text."""
    lines: list[str] = []
    body = None  # the column where the current item's text starts
    shift = ""
    paragraphs = False  # whether the current item has a second paragraph
    for line in text.split("\n"):
        item = LIST_ITEM.match(line)
        if item:
            # Python-Markdown reads an item right under the second paragraph
            # of the one before as more of that paragraph: part them.
            if paragraphs and lines and lines[-1].strip():
                lines.append("")
            body = item.end()
            width = body - len(item["indent"])
            shift = " " * max(0, MARKDOWN_ITEM_INDENT - width)
            paragraphs = False
        elif body is not None and not line.strip():
            paragraphs = True
        elif body is not None:
            if _indentation(line) >= body:
                line = shift + line
            else:
                body = None
        lines.append(line)
    return "\n".join(lines)


# -- Attributes --------------------------------------------------------------


def _lift_attributes(obj: Object) -> None:
    """Give each attribute described in the ``Attributes:`` section of
    ``obj``'s docstring that description as its own docstring."""
    if obj.docstring is None:
        return
    for section in obj.docstring.parse():
        if not isinstance(section, DocstringSectionAttributes):
            continue
        for entry in section.value:
            member = obj.members.get(entry.name)
            if not isinstance(member, Object):  # missing, or imported
                logger.warning(
                    f"{obj.relative_filepath}:{obj.docstring.lineno}: {obj.path} "
                    f"documents an attribute {entry.name!r} that it does not have"
                )
            elif member.docstring is None:
                member.docstring = Docstring(
                    entry.description,
                    lineno=obj.docstring.lineno,
                    parent=member,
                    parser=obj.docstring.parser,
                    parser_options=obj.docstring.parser_options,
                )


def _is_attrs_class(obj: Object | None) -> bool:
    """Whether ``obj`` is a class made by ``attrs.define``, ``attrs.frozen``
    or another decorator of attrs."""
    return isinstance(obj, Class) and any(
        decorator.callable_path.split(".", 1)[0] in ("attrs", "attr")
        for decorator in obj.decorators
    )


def _attrs_default(value: str | Expr | None) -> str | Expr | None:
    """The default an ``attrs.field(...)`` declaration gives, or ``value``
    itself when it is not such a call."""
    if not (isinstance(value, ExprCall) and value.canonical_path in ATTRS_FIELDS):
        return value
    for argument in value.arguments:
        if isinstance(argument, ExprKeyword) and argument.name == "default":
            return argument.value
        if isinstance(argument, ExprKeyword) and argument.name == "factory":
            return f"{argument.value}()"
    return None
