import json

import pytest

from core.config import RunConfig
from core.run import (RunExistsError, atomic_write_json, atomic_write_text, manifest, run_status, truncate_jsonl,
                      append_jsonl, read_jsonl, write_new_json)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"a": 1})

    def crash(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr("core.run.os.replace", crash)  # the write happened, the rename fails
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, '{"a": 2}')
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_write_new_refuses_overwrite(tmp_path):
    write_new_json(tmp_path / "m.json", {"x": 1})
    with pytest.raises(RunExistsError, match="refusing to overwrite"):
        write_new_json(tmp_path / "m.json", {"x": 2})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1}


def test_run_status_new_resume_done_and_conflict(tmp_path):
    cfg = RunConfig(name="a")
    assert run_status(tmp_path, cfg) == "new"
    atomic_write_json(tmp_path / "manifest.json", manifest(cfg.to_dict(), 0))
    assert run_status(tmp_path, cfg) == "resume"
    atomic_write_json(tmp_path / "result.json", {"status": "done"})
    assert run_status(tmp_path, cfg) == "done"
    with pytest.raises(RunExistsError, match="differs in: lr"):
        run_status(tmp_path, RunConfig(name="a", lr=0.5))


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
    from core.config import RunConfig
    from core.run import atomic_write_json, run_status
    cfg = RunConfig(name="old")
    stored = cfg.to_dict()
    stored.pop("probe_every")
    stored.pop("badam")
    atomic_write_json(tmp_path / "manifest.json", {"config": stored})
    atomic_write_json(tmp_path / "result.json", {"status": "done"})
    assert run_status(tmp_path, cfg) == "done"
    stored["lr"] = 0.5
    atomic_write_json(tmp_path / "manifest.json", {"config": stored})
    with pytest.raises(Exception, match="differs in: lr"):
        run_status(tmp_path, cfg)
