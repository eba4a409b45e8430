"""The import graph of `core` has no cycle, counting imports inside functions (a lazy import still ties the
modules together), and `core.io` is its bottom: it imports nothing from `core`."""

import ast
import graphlib
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "core"


def core_imports(path: Path) -> set[str]:
    """Modules of `core` that the file imports anywhere (``from core.x import``, ``import core.x``,
    ``from core import x``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("core."):
                out.add(node.module.split(".")[1])
            elif node.module == "core":
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("core."))
    return out


def import_graph(folder: Path = CORE) -> dict[str, set[str]]:
    return {p.stem: core_imports(p) - {p.stem} for p in folder.glob("*.py") if p.stem != "__init__"}


def test_core_has_no_import_cycle():
    graphlib.TopologicalSorter(import_graph()).prepare()  # raises CycleError naming the cycle


def test_io_is_the_bottom_of_core():
    assert import_graph()["io"] == set()


def test_a_cycle_is_found(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from core.b import g\n")
    (tmp_path / "b.py").write_text("from core import a\n")
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(import_graph(tmp_path)).prepare()
