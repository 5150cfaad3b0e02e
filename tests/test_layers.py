"""Imports point down the layer table, form no cycle, and no engine use case imports another.

Rules this test keeps, over every ``.py`` file under ``labelloop/``:

1. Every module is placed: it is, or sits under, a package of ``LAYERS`` (the root
   package ``labelloop`` covers only its own ``__init__.py``). A new module fails until
   it is placed on purpose.
2. A module imports only its own row's package and the packages its row ``may_import``.
   The table is written bottom layer first and a row may import only rows above it
   (``test_the_table_points_down``), so every allowed import points down.
3. The modules form no import cycle; each strongly connected component is reported with
   the imports that close it.
4. Inside ``labelloop.engine`` a use case (a module or subpackage of the engine other
   than ``core``) never imports another use case. ``labelloop.engine.core`` is the floor
   every use case may import; the modules of one use-case package import each other
   freely; ``labelloop.engine.workspace``, the facade, may import any use case.

Every import statement counts, wherever it is: module level, inside a function or a
method, under ``if TYPE_CHECKING:``. A deferred import still runs, and a type-only import
still means the module cannot be read or moved without the other, so neither kind is
exempt from any rule (a type-only cycle is broken with a protocol or by moving the type
down, not hidden). Relative imports are resolved, and ``from package import name`` is an
import of the submodule ``package.name`` when there is one, else of ``package`` itself.
Importing ``a.b.c`` is counted as an import of ``a.b.c`` alone, not of the ``__init__``
of each package above it that Python also runs. A module named only at run time
(``importlib.import_module``) is not seen.

``LAYERS`` is the table of CONTRIBUTING.md's "Layout" section; a test keeps the two equal.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "labelloop"


@dataclass(frozen=True)
class Layer:
    """One row of the table: its packages may import themselves and ``may_import``."""

    layer: str
    packages: tuple[str, ...]
    may_import: tuple[str, ...]


def _full(name: str) -> str:
    """``store`` -> ``labelloop.store``; ``labelloop`` is the root package itself."""
    return name if name == PACKAGE else f"{PACKAGE}.{name}"


def _names(names: list[str]) -> tuple[str, ...]:
    return tuple(map(_full, names))


def _table(*rows: tuple[str, str, str]) -> tuple[Layer, ...]:
    return tuple(
        Layer(layer, _names(packages.split()), _names(may_import.split()))
        for layer, packages, may_import in rows
    )


# Bottom layer first: a row may import only packages of the rows above it.
# (layer, packages, may import), names under `labelloop.`; `labelloop` is the root package.
LAYERS = _table(
    ("1", "exceptions", ""),
    ("1", "strategies store ner boxes", "exceptions"),
    ("leaves", "io report datasets client", "exceptions ner boxes"),
    ("2", "models", "exceptions strategies ner"),
    ("2", "automation", "exceptions strategies"),
    ("2", "quality", "exceptions strategies"),
    ("2", "forecast", "exceptions strategies"),
    ("3", "selection", "exceptions strategies models"),
    ("3", "learner simulation", "exceptions report strategies models selection"),
    ("3", "scale", "exceptions strategies models selection"),
    (
        "3a",
        "engine.core",
        "exceptions strategies automation quality store models ner boxes",
    ),
    (
        "3b",
        "engine",
        "exceptions io report datasets strategies store models automation quality forecast "
        "selection scale engine.core ner boxes",
    ),
    ("4", "labelloop", "strategies learner simulation engine"),
    ("4", "demo", "exceptions io datasets store models ner engine.core engine"),
    ("4", "server", "exceptions report forecast store selection engine.core engine labelloop"),
    (
        "4",
        "cli",
        "exceptions io datasets store models selection simulation engine.core engine demo server",
    ),
)

ENGINE = "labelloop.engine"
ENGINE_FLOOR = "core"
ENGINE_FACADE = "workspace"


@dataclass(frozen=True)
class Import:
    """One import of one labelloop module by another, where it is written."""

    importer: str
    target: str
    path: str
    line: int
    text: str

    def where(self) -> str:
        return f"{self.path}:{self.line}: `{self.text}`"


@dataclass(frozen=True)
class Violation:
    """One breach of a rule: the modules at fault and a message naming file and line."""

    modules: tuple[str, ...]
    message: str


def find_modules(root: Path) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: dict[str, Path]) -> str:
    """The module ``name`` names: itself, else the nearest package above it that exists."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def _targets(node: ast.Import | ast.ImportFrom, module: str, modules: dict[str, Path]) -> list[str]:
    """The dotted names ``node`` imports, relative ones resolved against ``module``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        is_package = modules[module].name == "__init__.py"
        package = module.split(".")
        base = package[: len(package) - node.level + (1 if is_package else 0)]
        name = ".".join([*base, node.module] if node.module else base)
    else:
        name = node.module or ""
    return [
        f"{name}.{alias.name}" if f"{name}.{alias.name}" in modules else name
        for alias in node.names
    ]


def collect_imports(root: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import of a labelloop module, at any depth of every module's syntax tree."""
    imports = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(node, module, modules):
                if target == PACKAGE or target.startswith(PACKAGE + "."):
                    imports.add(
                        Import(
                            module,
                            _known(target, modules),
                            path.relative_to(root).as_posix(),
                            node.lineno,
                            ast.unparse(node),
                        )
                    )
    return sorted(imports, key=lambda i: (i.path, i.line, i.target))


def place(module: str) -> tuple[Layer, str] | None:
    """The row and the package of ``module``: the longest package it is or sits under."""
    best = None
    for layer in LAYERS:
        for package in layer.packages:
            # The root package holds only its __init__, else it would place every module.
            covers = module == package or (package != PACKAGE and module.startswith(package + "."))
            if covers and (best is None or len(package) > len(best[1])):
                best = (layer, package)
    return best


def _package(module: str) -> str | None:
    placed = place(module)
    return None if placed is None else placed[1]


def unplaced_modules(modules: dict[str, Path], root: Path) -> list[Violation]:
    return [
        Violation(
            (module,),
            f"{path.relative_to(root).as_posix()}: {module} is in no row of LAYERS; place it",
        )
        for module, path in modules.items()
        if place(module) is None
    ]


def layer_violations(imports: list[Import]) -> list[Violation]:
    """Imports of a package that is neither the importer's own nor one its row may import."""
    found = []
    for imp in imports:
        placed, target = place(imp.importer), place(imp.target)
        if placed is None or target is None:
            continue  # reported by unplaced_modules
        (layer, package), (target_layer, target_package) = placed, target
        if target_package == package or target_package in layer.may_import:
            continue
        allowed = ", ".join(layer.may_import) or "nothing"
        message = (
            f"{imp.where()}: {package} (layer {layer.layer}) may not import "
            f"{target_package} (layer {target_layer.layer}); it may import {allowed}"
        )
        found.append(Violation((imp.importer,), message))
    return found


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycles(imports: list[Import]) -> list[Violation]:
    """Each import cycle: its modules, then every import between two of them."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set()).add(imp.target)
    found = []
    for component in _strongly_connected(graph):
        members = set(component)
        edges = [
            f"  {imp.where()} ({imp.importer} -> {imp.target})"
            for imp in imports
            if imp.importer in members and imp.target in members
        ]
        if len(component) > 1 or edges:
            message = "\n".join([f"cycle between {', '.join(component)}:", *edges])
            found.append(Violation(tuple(component), message))
    return found


def _use_case(module: str) -> str | None:
    """The engine use case ``module`` belongs to (`core` for the floor), else None."""
    if not module.startswith(ENGINE + "."):
        return None
    return module[len(ENGINE) + 1 :].split(".")[0]


def use_case_violations(imports: list[Import]) -> list[Violation]:
    """Imports of one engine use case by another (the floor and the facade excepted)."""
    found = []
    for imp in imports:
        importer, target = _use_case(imp.importer), _use_case(imp.target)
        if importer in (None, ENGINE_FLOOR, ENGINE_FACADE) or target in (None, ENGINE_FLOOR):
            continue
        if importer != target:
            message = (
                f"{imp.where()}: use case {importer} ({imp.importer}) imports use case "
                f"{target} ({imp.target}); share the rule through {ENGINE}.{ENGINE_FLOOR}"
            )
            found.append(Violation((imp.importer,), message))
    return found


def check(root: Path) -> dict[str, list[Violation]]:
    """Every violation of the rules by the package under ``root``, by rule."""
    modules = find_modules(root)
    imports = collect_imports(root, modules)
    return {
        "unplaced": unplaced_modules(modules, root),
        "layers": layer_violations(imports),
        "cycles": cycles(imports),
        "use cases": use_case_violations(imports),
    }


@functools.cache
def _repo_violations() -> dict[str, list[Violation]]:
    """The repository's violations, by rule: the tree is read once for all the tests."""
    return check(REPO)


def _messages(rule: str, package: str | None = None) -> list[str]:
    """The messages of the repository's violations of ``rule`` involving ``package``."""
    return [
        violation.message
        for violation in _repo_violations()[rule]
        if package is None or any(_package(module) == package for module in violation.modules)
    ]


PACKAGES = [package for layer in LAYERS for package in layer.packages]


def test_every_module_is_placed():
    violations = _messages("unplaced")
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down(package):
    violations = _messages("layers", package)
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    violations = _messages("cycles", package)
    assert not violations, "\n".join(violations)


def test_engine_use_cases_import_no_other_use_case():
    violations = _messages("use cases")
    assert not violations, "\n".join(violations)


def test_the_table_points_down():
    seen: set[str] = set()
    for layer in LAYERS:
        above = set(layer.may_import) - seen
        assert not above, f"row {layer.packages} may import {above}, not listed before it"
        seen.update(layer.packages)
    assert len(seen) == sum(len(layer.packages) for layer in LAYERS), "a package is listed twice"


def _contributing_table() -> list[Layer]:
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    table = []
    for row in rows:
        layer, packages, may_import = (cell.strip() for cell in row.strip("|").split("|")[:3])
        names = re.findall(r"`([^`]+)`", may_import)
        table.append(Layer(layer, tuple(re.findall(r"`([^`]+)`", packages)), _names(names)))
    return table


def test_contributing_shows_this_table():
    assert _contributing_table() == list(LAYERS)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_finds_each_kind_of_violation(tmp_path):
    """A package with one violation of each rule; the floor, the facade and the modules of
    one use-case package importing each other (relative imports too) pass."""
    _write(
        tmp_path,
        {
            "labelloop/__init__.py": "",
            "labelloop/exceptions.py": "",
            "labelloop/stray.py": "",
            "labelloop/server/__init__.py": "import labelloop.engine.workspace\n",
            "labelloop/strategies/__init__.py": (
                "from typing import TYPE_CHECKING\n\n"
                "if TYPE_CHECKING:\n    import labelloop.server\n"
            ),
            "labelloop/store/__init__.py": "from labelloop.store.a import A\n",
            "labelloop/store/a.py": "from labelloop.store import b\n\nA = 1\n",
            "labelloop/store/b.py": "class B:\n    def f(self):\n        from . import a\n",
            "labelloop/engine/__init__.py": "",
            "labelloop/engine/core/__init__.py": "from labelloop.store import A\n",
            "labelloop/engine/rounds/__init__.py": "from .select import pick\n",
            "labelloop/engine/rounds/select.py": (
                "from labelloop.engine.core import x\nfrom labelloop.engine.rounds import train\n"
            ),
            "labelloop/engine/rounds/train.py": "from ..core import x\n",
            "labelloop/engine/queue.py": (
                "from labelloop.engine import core\n"
                "def lease():\n    from labelloop.engine.rounds.select import pick\n"
            ),
            "labelloop/engine/workspace.py": "from labelloop.engine import queue, rounds\n",
        },
    )
    found = {rule: [v.message for v in violations] for rule, violations in check(tmp_path).items()}
    assert found == {
        "unplaced": ["labelloop/stray.py: labelloop.stray is in no row of LAYERS; place it"],
        "layers": [
            "labelloop/strategies/__init__.py:4: `import labelloop.server`: labelloop.strategies"
            " (layer 1) may not import labelloop.server (layer 4); it may import "
            "labelloop.exceptions"
        ],
        "cycles": [
            "cycle between labelloop.store.a, labelloop.store.b:\n"
            "  labelloop/store/a.py:1: `from labelloop.store import b`"
            " (labelloop.store.a -> labelloop.store.b)\n"
            "  labelloop/store/b.py:3: `from . import a` (labelloop.store.b -> labelloop.store.a)"
        ],
        "use cases": [
            "labelloop/engine/queue.py:3: `from labelloop.engine.rounds.select import pick`: "
            "use case queue (labelloop.engine.queue) imports use case rounds "
            "(labelloop.engine.rounds.select); share the rule through labelloop.engine.core"
        ],
    }
