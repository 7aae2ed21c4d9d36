"""The code's shape, checked from its source text: every public function, class and method is documented, the
project's modules import one another without circles, and no module is longer than 400 lines.

Read with `ast`, nothing imported or run. Each failure lists every offender as ``path:line``, so one run says
all there is to fix. Public means a name without a leading underscore: dunder methods, nested functions, and
the members of a private class are exempt; so are ``typing.overload`` stubs and property setters, which the
implementation and the getter document.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("connectors", "pipelines", "simulator", "bench")  # everything but the tests
MAX_LINES = 400


@dataclass(frozen=True)
class Module:
    """One source file of the project: its dotted name, its path from the repository root, and its syntax tree."""

    name: str
    path: str
    tree: ast.Module
    lines: int

    @property
    def is_package(self) -> bool:
        """Whether this is a package's ``__init__.py`` (relative imports then start from the module itself)."""
        return self.path.endswith("__init__.py")


@cache
def project_modules() -> dict[str, Module]:
    """Every non-test module, by dotted name."""
    modules = {}
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" in file.parts:
                continue
            relative = file.relative_to(ROOT)
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            text = file.read_text(encoding="utf-8")
            modules[name] = Module(name, relative.as_posix(), ast.parse(text, str(relative)), len(text.splitlines()))
    return modules


# ---------------------------------------------------------------------------------------------- docstrings
_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _definitions(body: list[ast.stmt]) -> Iterator[_Definition]:
    """The functions and classes defined in ``body``, also under ``if``/``try``/``with`` at that level."""
    for node in body:
        if isinstance(node, _Definition):
            yield node
        elif isinstance(node, ast.If | ast.With):
            yield from _definitions(node.body)
            yield from _definitions(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            for part in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _definitions(part)


def _documented_elsewhere(node: _Definition) -> bool:
    """An ``overload`` stub (the implementation documents it), or a property's setter or deleter (the getter)."""
    return any((isinstance(d, ast.Name) and d.id == "overload")
               or (isinstance(d, ast.Attribute) and d.attr in ("overload", "setter", "deleter"))
               for d in node.decorator_list)


def _undocumented(body: list[ast.stmt], owner: str = "") -> Iterator[tuple[int, str]]:
    for node in _definitions(body):
        if node.name.startswith("_") or _documented_elsewhere(node):
            continue  # private (its members too), dunder, an overload stub or a property's setter
        qualified = f"{owner}{node.name}"
        if ast.get_docstring(node) is None:
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            yield node.lineno, f"{kind} {qualified}"
        if isinstance(node, ast.ClassDef):
            yield from _undocumented(node.body, f"{qualified}.")  # methods; a function's own body is exempt


def undocumented_definitions() -> list[str]:
    """``path:line: function name`` for every public function, class or method without a docstring."""
    return [f"{m.path}:{line}: {what}" for m in project_modules().values() for line, what in _undocumented(m.tree.body)]


def test_every_public_function_class_and_method_has_a_docstring() -> None:
    missing = undocumented_definitions()
    assert not missing, f"{len(missing)} public definitions without a docstring:\n" + "\n".join(missing)


# ---------------------------------------------------------------------------------------------- imports
@dataclass(frozen=True)
class Import:
    """One project module importing another, at a line of its source."""

    source: str
    target: str
    line: int


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    parts = package.split(".")
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imported(module: Module, node: ast.Import | ast.ImportFrom, known: dict[str, Module]) -> Iterator[str]:
    """The project modules an import statement names: the deepest existing module of each dotted name, and for
    ``from x import y`` the submodule ``x.y`` when there is one, else ``x``."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            found = next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in known), None)
            if found:
                yield found
        return
    base = _absolute(module, node)
    for alias in node.names:
        if f"{base}.{alias.name}" in known:
            yield f"{base}.{alias.name}"
        elif base in known:
            yield base


def project_imports() -> list[Import]:
    """Every import of a project module by a project module, wherever it stands: at the top, inside a function,
    or under ``if TYPE_CHECKING`` (a circle of type-only imports is still a circle between the two modules)."""
    known = project_modules()
    edges = []
    for module in known.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges += [Import(module.name, target, node.lineno)
                          for target in _imported(module, node, known) if target != module.name]
    return edges


def _circles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def import_circles() -> list[str]:
    """One block per circle: its modules, then every import that holds it together as ``path:line``."""
    edges = project_imports()
    modules = project_modules()
    report = []
    for component in _circles(edges):
        members = set(component)
        inside = sorted({(modules[e.source].path, e.line, e.target) for e in edges
                         if e.source in members and e.target in members})
        report.append(f"circle among {', '.join(component)}:\n"
                      + "\n".join(f"  {path}:{line}: imports {target}" for path, line, target in inside))
    return report


def test_no_import_circles_among_project_modules() -> None:
    circles = import_circles()
    assert not circles, f"{len(circles)} import circles:\n" + "\n".join(circles)


# ---------------------------------------------------------------------------------------------- size
def test_no_module_is_longer_than_400_lines() -> None:
    long = [f"{m.path}:{MAX_LINES + 1}: {m.lines} lines (at most {MAX_LINES})"
            for m in project_modules().values() if m.lines > MAX_LINES]
    assert not long, f"{len(long)} modules over {MAX_LINES} lines:\n" + "\n".join(long)


# ---------------------------------------------------------------------------------------------- the checks
def _checked(source: str, name: str = "pkg.mod") -> Module:
    return Module(name, name.replace(".", "/") + ".py", ast.parse(source), len(source.splitlines()))


def test_the_docstring_check_finds_what_it_should_and_only_that() -> None:
    source = '''
def documented():
    """Yes."""
def bare():
    def nested(): pass
class Public:
    def method(self): pass
    def __init__(self): pass
    def _private(self): pass
    @property
    def value(self): pass
    @value.setter
    def value(self, new): pass
    class Inner:
        """Yes."""
        def deep(self): pass
class _Private:
    def method(self): pass
if True:
    def conditional(): pass
'''
    found = [f"{line}: {what}" for line, what in _undocumented(_checked(source).tree.body)]
    assert found == ["4: function bare", "6: class Public", "7: function Public.method",
                     "11: function Public.value", "16: function Public.Inner.deep", "20: function conditional"]


def test_the_circle_check_resolves_relative_function_level_and_type_only_imports() -> None:
    modules = {m.name: m for m in (
        _checked("from . import b\n", "p.a"),
        _checked("def f():\n    from .c import x\n", "p.b"),
        _checked("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import p.a\n", "p.c"),
        _checked("from p.a import thing\n", "p.d"),
        Module("p", "p/__init__.py", ast.parse(""), 0),
    )}
    edges = {(m.name, target) for m in modules.values() for node in ast.walk(m.tree)
             if isinstance(node, ast.Import | ast.ImportFrom) for target in _imported(m, node, modules)}
    assert edges == {("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.d", "p.a")}
    assert _circles([Import(s, t, 1) for s, t in edges]) == [["p.a", "p.b", "p.c"]]
