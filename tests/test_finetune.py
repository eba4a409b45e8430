"""Golden losses of each baseline, resume, overwrite protection, NaN handling."""

import json
import math
from pathlib import Path

import pytest
from conftest import run_interrupted_and_resumed

from core.infra.io import RunExistsError, read_jsonl
from core.training.finetune import train

GOLDEN = Path(__file__).parent / "golden" / "losses.json"
METHODS = {
    "full": {},
    "lora": {"lr": 1e-2},
    "galore": {"galore": {"update_proj_gap": 2, "rank": 4}},
    "lisa": {"lisa": {"gamma": 1, "interval": 2}},
}


def losses(run):
    return [r["loss"] for r in read_jsonl(run / "metrics.jsonl") if "loss" in r]


@pytest.mark.parametrize("method", list(METHODS))
def test_golden_losses(method, tmp_path, tiny_cfg):
    train(tiny_cfg(method=method, max_steps=5, **METHODS[method]), tmp_path)
    got = losses(tmp_path)
    golden = json.loads(GOLDEN.read_text())[method]
    assert len(got) == 5
    assert got == pytest.approx(golden, rel=1e-4, abs=1e-5)
    assert got[-1] < got[0]  # it learns


def test_result_and_manifest_written(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="full", max_steps=2, task="sentiment")
    result = train(cfg, tmp_path)
    assert (tmp_path / "result.json").exists() and not (tmp_path / "checkpoints").exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"] == cfg.to_dict() and manifest["seed"] == cfg.seed
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["test_n"] == 8


def test_finished_run_is_skipped_and_conflicting_config_refused(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="full", max_steps=2)
    train(cfg, tmp_path)
    before = (tmp_path / "result.json").read_text()
    assert train(cfg, tmp_path)["skipped"]
    with pytest.raises(RunExistsError, match="different config"):
        train(tiny_cfg(method="full", max_steps=3), tmp_path)
    assert (tmp_path / "result.json").read_text() == before


def test_resume_full_ft_identical_losses(tmp_path, tiny_cfg):
    _, _, ref, got = run_interrupted_and_resumed(tiny_cfg(method="full", max_steps=6, save_every=3), tmp_path)
    assert got == ref and len(ref) == 6


def test_nan_loss_stops_the_run_as_diverged(tmp_path, tiny_cfg):
    result = train(tiny_cfg(method="full", max_steps=6, lr=1e12, max_grad_norm=0.0), tmp_path)
    assert result["status"] == "diverged" and result["reason"].startswith("non-finite")
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "diverged"
    assert any(not math.isfinite(r.get("loss", 0)) for r in read_jsonl(tmp_path / "metrics.jsonl"))
    assert train(tiny_cfg(method="full", max_steps=6, lr=1e12, max_grad_norm=0.0), tmp_path)["skipped"]
