"""The repo is self-contained: no file cites the workplace's notes outside it (a user's clone lacks them).

Documents the code cites live in the repo (papers/<p>/REFERENCE.md, papers/<p>/claims.yaml). A citation is a path
into a `shared/` folder, or the name of one of those notes when no file of that name exists in the repo.
"""

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTE_NAMES = ("REFERENCE_ALGORITHMS", "PAPER_NUMBERS", "DESIGN", "ENVIRONMENT", "STYLE")
SKIP_DIRS = {".git", ".venv", "data/models", "node_modules"}


def repo_files(root: Path) -> list[str]:
    """Files git tracks or would track (untracked but not ignored); a plain walk outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        return [f for f in out.decode().split("\0") if f and (root / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            rel = Path(dirpath).relative_to(root)
            dirnames[:] = [d for d in dirnames if str(rel / d) not in SKIP_DIRS and d not in SKIP_DIRS]
            files += [str(rel / f) for f in filenames]
        return files


def citation_pattern(files: list[str]) -> re.Pattern:
    """Paths into a shared/ folder, and note names that are not the name of a file in the repo."""
    present = {Path(f).name for f in files}
    names = [n for n in NOTE_NAMES if f"{n}.md" not in present]
    alternatives = [r"(?<![\w-])shared/", r"/work/shared"] + [rf"\b{n}\.md\b" for n in names]
    return re.compile("|".join(alternatives).encode())


def citations(root: Path, files: list[str]) -> list[str]:
    pattern = citation_pattern(files)
    own = Path(__file__).resolve()
    found = []
    for f in files:
        path = root / f
        if path.resolve() == own:
            continue
        for lineno, line in enumerate(path.read_bytes().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{f}:{lineno}: {line.decode(errors='replace').strip()[:120]}")
    return found


def test_no_file_cites_documents_outside_the_repo():
    found = citations(REPO, repo_files(REPO))
    assert not found, (
        "cite the repo's own documents (papers/<p>/REFERENCE.md, claims.yaml) instead:\n" + "\n".join(found)
    )


def test_the_check_finds_a_citation(tmp_path):
    (tmp_path / "ok.py").write_text("# papers/misa/REFERENCE.md §2\n")
    (tmp_path / "doc.md").write_text("see ../../../shared/PAPER_NUMBERS.md §1\n")
    (tmp_path / "mod.py").write_text('"""Defaults (REFERENCE_ALGORITHMS.md §3)."""\n')
    (tmp_path / "nb.ipynb").write_text('{"source": ["theorem (PAPER_NUMBERS.md 2.3)"]}\n')
    found = citations(tmp_path, ["ok.py", "doc.md", "mod.py", "nb.ipynb"])
    assert [f.split(":")[0] for f in found] == ["doc.md", "mod.py", "nb.ipynb"]


def test_a_note_name_that_is_a_repo_file_is_not_a_citation(tmp_path):
    (tmp_path / "DESIGN.md").write_text("# our own design notes\n")
    (tmp_path / "README.md").write_text("see DESIGN.md; not ENVIRONMENT.md\n")
    found = citations(tmp_path, ["DESIGN.md", "README.md"])
    assert found == ["README.md:1: see DESIGN.md; not ENVIRONMENT.md"]
