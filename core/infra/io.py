"""File I/O every other module shares: the repository's paths, atomic writes, JSON / JSON-lines reading that names
a damaged file, sha256 of a file, and the crash-test hook. Imports nothing from `core` (the bottom of the import
graph, `tests/test_import_graph.py`).

Results live under ``data/results`` (``SFT_RESULTS`` moves them; tests point it elsewhere). A write goes to a
temporary file in the same directory and is renamed over the target, so a reader never sees half a file;
`write_new_json` also refuses to replace an existing file.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("SFT_RESULTS", REPO / "data" / "results"))


class RunExistsError(RuntimeError):
    """A finished run (or a result file) would be overwritten."""


class CorruptFileError(ValueError):
    """A result, manifest or log file that cannot be read back; the message names it."""


_KILLS: dict[str, int] = {}


def kill_point(name: str) -> None:
    """Crash-test hook: ``SFT_TEST_KILL_AT=<name>[:<n>]`` SIGKILLs this process the n-th time (default 1st) it
    reaches `name` (``first_step``, ``ckpt_save``, ``final_eval``, ``write:<file name>``); a no-op otherwise."""
    want = os.environ.get("SFT_TEST_KILL_AT", "")
    point, _, nth = want.rpartition(":") if want.rpartition(":")[2].isdigit() else (want, "", "1")
    if point != name:
        return
    _KILLS[name] = _KILLS.get(name, 0) + 1
    if _KILLS[name] == int(nth):
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        kill_point(f"write:{path.name}")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_new_json(path: Path, obj) -> None:
    """Atomic write that refuses to replace an existing file."""
    if Path(path).exists():
        raise RunExistsError(f"{path} exists; refusing to overwrite it (move it away to recompute)")
    atomic_write_json(path, obj)


def read_json(path: Path):
    """A JSON file; unparsable, a CorruptFileError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFileError(f"{path} is not valid JSON ({err}); it was damaged or cut short") from None


def append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row, sort_keys=True) + "\n")
        fh.flush()


def read_jsonl(path: Path, torn_tail: bool = False) -> list[dict]:
    """Rows of a JSON-lines file ([] if missing). A bad line raises CorruptFileError naming the file and line;
    with `torn_tail`, a bad last line without its newline (an append cut by a crash) is dropped instead."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    rows = []
    for i, line in enumerate(lines, 1):
        try:
            if line.strip():
                rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if torn_tail and i == len(lines) and not text.endswith("\n"):
                print(f"note: dropping the cut-off last line of {path} (an interrupted write)")
                break
            raise CorruptFileError(f"{path}:{i}: not valid JSON ({err.msg}); the file was damaged") from None
    return rows


def truncate_jsonl(path: Path, max_step: int, after_summary: bool = False) -> None:
    """Drop rows logged after `max_step` (a resumed run re-logs them) and a cut-off last line; with
    `after_summary`, also the rows after the end-of-training summary (the final evaluation's, re-done)."""
    rows = [r for r in read_jsonl(path, torn_tail=True) if r.get("step", 0) <= max_step]
    ends = [i for i, r in enumerate(rows) if "train_runtime" in r]
    if after_summary and ends:
        rows = rows[: ends[-1] + 1]
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    """`text` with the part between the marker lines `begin` and `end` replaced by `body` (a generated README
    table); raises ValueError naming the markers when they are missing."""
    if begin not in text or end not in text[text.find(begin) :]:
        raise ValueError(f"no generated-table markers; add\n{begin}\n{end}")
    start = text.index(begin) + len(begin)
    stop = text.index(end, start)
    return text[:start] + "\n" + body.rstrip("\n") + "\n" + text[stop:]
