"""core.infra.study: one path rule, one CLI, written once, never overwritten."""

import json

import pytest

from core.infra import study


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr("core.infra.paths.RESULTS", tmp_path)
    return tmp_path


def counting_study(calls, name="demo", profiles=..., options=None):
    def compute(profile, args):
        calls.append((profile, getattr(args, "scale", None)))
        return {"profile": profile, "value": len(calls)}

    return study.Study(
        "paper", name, {"cpu": {}, "gpu": {}} if profiles is ... else profiles, compute, options
    )


def test_the_path_rule_is_paper_study_profile(results, tmp_path):
    assert study.study_path("misa", "memory", "gpu") == results / "misa" / "memory" / "gpu.json"
    assert (
        study.study_path("misa", "memory", "cpu", tmp_path / "x")
        == tmp_path / "x" / "misa" / "memory" / "cpu.json"
    )


def test_a_study_is_computed_once_then_read_back(results):
    calls = []
    s = counting_study(calls)
    assert study.main(s, "doc", ["--profile", "gpu"]) == 0
    assert study.main(s, "doc", ["--profile", "gpu"]) == 0
    assert calls == [("gpu", None)]
    assert json.loads((results / "paper" / "demo" / "gpu.json").read_text()) == {"profile": "gpu", "value": 1}


def test_force_recomputes_and_keeps_the_old_result(results):
    calls = []
    s = counting_study(calls)
    s.result("cpu")
    study.main(s, "doc", ["--force"])
    folder = results / "paper" / "demo"
    kept = sorted(folder.glob("cpu.replaced-*.json"))
    assert len(calls) == 2 and len(kept) == 1
    assert json.loads(kept[0].read_text())["value"] == 1
    assert json.loads((folder / "cpu.json").read_text())["value"] == 2


def test_unknown_profile_and_study_options(results, capsys):
    calls = []

    def options(parser):
        parser.add_argument("--scale", type=int, default=1)

    a = counting_study(calls, "a", options=options)
    b = counting_study(calls, "b", profiles={"cpu": {}})
    with pytest.raises(SystemExit):
        study.main([a, b], "doc", ["--profile", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    study.main([a, b], "doc", ["--only", "a", "--scale", "3"])
    assert calls == [("cpu", 3)]
    assert not (results / "paper" / "b").exists()


def test_a_study_of_any_profile(results):
    calls = []
    study.main(counting_study(calls, profiles=None), "doc", ["--profile", "decide"])
    assert calls == [("decide", None)]
