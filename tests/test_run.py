import json

import pytest

from core.infra.io import (
    CorruptFileError,
    RunExistsError,
    append_jsonl,
    atomic_write_json,
    atomic_write_text,
    read_json,
    read_jsonl,
    truncate_jsonl,
    write_new_json,
)
from core.infra.provenance import manifest
from core.training.config import RunConfig
from core.training.run import run_status


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"a": 1})

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("core.infra.io.os.replace", crash)  # the write happened, the rename fails
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, '{"a": 2}')
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_write_new_refuses_overwrite(tmp_path):
    write_new_json(tmp_path / "m.json", {"x": 1})
    with pytest.raises(RunExistsError, match="refusing to overwrite"):
        write_new_json(tmp_path / "m.json", {"x": 2})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1}


def finish(path, steps=2):
    for s in range(1, steps + 1):
        append_jsonl(path / "metrics.jsonl", {"step": s, "loss": 1.0})
    atomic_write_json(path / "result.json", {"status": "done", "steps": steps})


def test_run_status_new_resume_restart_done_and_conflict(tmp_path):
    cfg = RunConfig(name="a")
    assert run_status(tmp_path, cfg) == "new"
    atomic_write_json(tmp_path / "manifest.json", manifest(cfg.to_dict(), 0))
    assert run_status(tmp_path, cfg) == "resume"
    other = RunConfig(name="a", lr=0.5)
    assert run_status(tmp_path, other) == "restart"  # unfinished, other config, nothing to resume
    with pytest.raises(RunExistsError, match="unfinished run with a different config.*lr"):
        run_status(tmp_path, other, has_checkpoint=True)
    finish(tmp_path)
    assert run_status(tmp_path, cfg) == "done"
    with pytest.raises(RunExistsError, match="differs in: lr"):
        run_status(tmp_path, other)


@pytest.mark.parametrize("damage", ["empty result", "cut result", "no steps", "cut metrics", "missing row"])
def test_finished_run_is_verified_before_it_is_skipped(tmp_path, damage):
    cfg = RunConfig(name="a")
    atomic_write_json(tmp_path / "manifest.json", manifest(cfg.to_dict(), 0))
    finish(tmp_path)
    result, metrics = tmp_path / "result.json", tmp_path / "metrics.jsonl"
    {
        "empty result": lambda: result.write_text(""),
        "cut result": lambda: result.write_text(result.read_text()[:10]),
        "no steps": lambda: result.write_text('{"status": "done"}'),
        "cut metrics": lambda: metrics.write_text(metrics.read_text()[:-5]),
        "missing row": lambda: metrics.write_text(metrics.read_text().splitlines()[0] + "\n"),
    }[damage]()
    with pytest.raises(CorruptFileError, match="result.json|metrics.jsonl"):
        run_status(tmp_path, cfg)


def test_torn_metrics_tail_is_repaired_on_resume_and_named_otherwise(tmp_path):
    path = tmp_path / "metrics.jsonl"
    for s in range(1, 4):
        append_jsonl(path, {"step": s, "loss": 1.0})
    path.write_text(path.read_text() + '{"step": 4, "lo')  # killed mid-append
    with pytest.raises(CorruptFileError, match=r"metrics.jsonl:4: not valid JSON"):
        read_jsonl(path)
    truncate_jsonl(path, 10)
    assert [r["step"] for r in read_jsonl(path)] == [1, 2, 3]
    with pytest.raises(CorruptFileError, match=r"m.json is not valid JSON"):
        (tmp_path / "m.json").write_text("{")
        read_json(tmp_path / "m.json")


def test_manifest_has_provenance():
    m = manifest({"lr": 1}, 3)
    assert {"git_sha", "config", "seed", "versions", "machine", "created"} <= set(m)
    assert m["versions"]["torch"].startswith("2.13")


def test_truncate_jsonl_drops_rows_after_checkpoint(tmp_path):
    path = tmp_path / "m.jsonl"
    for s in range(1, 6):
        append_jsonl(path, {"step": s})
    truncate_jsonl(path, 3)
    assert [r["step"] for r in read_jsonl(path)] == [1, 2, 3]


def test_run_finished_before_a_config_field_was_added_still_counts_as_done(tmp_path):
    """A stored config lacking a field added later (filled with its default) is the same config."""
    from core.infra.io import atomic_write_json
    from core.training.config import RunConfig
    from core.training.run import run_status

    cfg = RunConfig(name="old")
    stored = cfg.to_dict()
    stored.pop("probe_every")
    stored.pop("badam")
    atomic_write_json(tmp_path / "manifest.json", {"config": stored})
    finish(tmp_path)
    assert run_status(tmp_path, cfg) == "done"
    stored["lr"] = 0.5
    atomic_write_json(tmp_path / "manifest.json", {"config": stored})
    with pytest.raises(Exception, match="differs in: lr"):
        run_status(tmp_path, cfg)
