"""The architecture of `core`, checked: its sub-packages are floors and imports only go down or stay on a floor; the
module graph has no cycle, counting imports inside functions (a lazy import still ties the modules together);
`core.infra.io` is its bottom; no module is over 400 lines; notebooks import library modules, never a CLI module;
the README's layout table names every module where it lives."""

import ast
import graphlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "core"
FLOORS = ("infra", "sources", "analysis", "training", "costs", "running", "reporting")


def core_imports(path: Path) -> set[str]:
    """Modules of `core` (``package.module``) that the file imports anywhere (``from core.p.m import``,
    ``import core.p.m``, ``from core.p import m``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core."):
            parts = node.module.split(".")
            if len(parts) >= 3:
                out.add(".".join(parts[1:3]))
            else:
                out.update(f"{parts[1]}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(".".join(a.name.split(".")[1:3]) for a in node.names if a.name.startswith("core."))
    return out


def modules(folder: Path = CORE) -> list[Path]:
    return sorted(p for p in folder.glob("*/*.py") if p.stem != "__init__")


def key(path: Path) -> str:
    return f"{path.parent.name}.{path.stem}"


def import_graph(folder: Path = CORE) -> dict[str, set[str]]:
    return {key(p): core_imports(p) - {key(p)} for p in modules(folder)}


def test_core_has_no_import_cycle():
    graphlib.TopologicalSorter(import_graph()).prepare()  # raises CycleError naming the cycle


def test_io_is_the_bottom_of_core():
    assert import_graph()["infra.io"] == set()


def test_every_module_lives_on_a_floor():
    assert {p.parent.name for p in modules()} == set(FLOORS)
    assert not [p.name for p in CORE.glob("*.py")], "core/ holds sub-packages only"


def test_imports_only_go_down_or_stay_on_a_floor():
    up = [
        f"core.{m} imports core.{d}"
        for m, deps in import_graph().items()
        for d in deps
        if FLOORS.index(d.split(".")[0]) > FLOORS.index(m.split(".")[0])
    ]
    assert not up, "imports up a floor (move the module, or the helper it needs, down):\n" + "\n".join(up)


def test_no_module_is_over_400_lines():
    long = {key(p): n for p in modules() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"split these modules: {long}"


def is_cli(path: Path) -> bool:
    text = path.read_text()
    return "def main(" in text or '__name__ == "__main__"' in text


def test_notebooks_import_library_modules_only():
    bad = []
    for nb in sorted((REPO / "notebooks" / "src").glob("*.py")):
        for dep in core_imports(nb):
            if is_cli(CORE / f"{dep.replace('.', '/')}.py"):
                bad.append(f"{nb.name} imports core.{dep}")
    assert not bad, "notebooks import a CLI module (move what they need to a library module):\n" + "\n".join(
        bad
    )


def test_the_readme_layout_names_every_module_on_its_floor():
    row = next(
        line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("| `core/` |")
    )
    parts = re.split(r"`core/(\w+)/`:", row)  # [intro, floor, text, floor, text, ...]
    listed = {floor: set(re.findall(r"`(\w+)`", text)) for floor, text in zip(parts[1::2], parts[2::2])}
    assert list(listed) == list(FLOORS), "README layout: one `core/<floor>/`: entry per floor, bottom first"
    for floor in FLOORS:
        on_disk = {p.stem for p in (CORE / floor).glob("*.py") if p.stem != "__init__"}
        assert listed[floor] >= on_disk, (
            f"README layout, core/{floor}/ does not name {sorted(on_disk - listed[floor])}"
        )


def test_a_cycle_is_found(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.py").write_text("def f():\n    from core.p.b import g\n")
    (tmp_path / "p" / "b.py").write_text("from core.p import a\n")
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(import_graph(tmp_path)).prepare()
