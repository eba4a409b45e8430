"""Every figure states its verdict and every notebook ends with one: checks over the committed figures, manifests
and notebook sources (so a new figure cannot skip them), each shown to fail on a bad example. A descriptive figure
(``descriptive: true`` in papers/<paper>/figures.yaml: the method atlas) judges no claim: it carries no verdict and
its notebook ends with its numbers table (`core.reporting.plotting.numbers_cell`)."""

import json
import re
import struct
from pathlib import Path

import pytest
import yaml

from core.analysis.verdicts import (
    VOCABULARY,  # the one vocabulary (holds, smaller than the paper's; not testable at this budget)
)
from core.infra.io import REPO

MANIFESTS = sorted((REPO / "figures").glob("*/MANIFEST.json"))
SOURCES = sorted((REPO / "notebooks" / "src").glob("*.py"))
NUMBERS = "## Numbers (descriptive: no claim is judged)"


def descriptive(paper: str) -> set[str]:
    """The paper's artifacts marked ``descriptive: true`` in its figures.yaml."""
    path = REPO / "papers" / paper / "figures.yaml"
    meta = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    return {a for a, m in meta.items() if isinstance(m, dict) and m.get("descriptive")}


DESCRIPTIVE_SOURCES = {
    f"{p.name}_{a}" for p in (REPO / "papers").iterdir() if p.is_dir() for a in descriptive(p.name)
}


def manifest_problems(manifest: dict, descriptive_artifacts=()) -> list[str]:
    """Latest entries without a verdict, or with one outside the claims-table vocabulary; a descriptive entry
    with any verdict."""
    problems = []
    for artifact, entry in manifest.items():
        verdicts = entry["versions"][entry["latest"]].get("verdicts") or []
        if artifact in descriptive_artifacts:
            problems += [f"{artifact}: a descriptive figure carries no verdict"] if verdicts else []
            continue
        if not verdicts:
            problems.append(f"{artifact}: no verdict")
        problems += [
            f"{artifact}: {v['verdict']!r} is not a verdict"
            for v in verdicts
            if not VOCABULARY.match(v["verdict"])
        ]
    return problems


def source_problems(text: str, is_descriptive: bool = False) -> list[str]:
    """A jupytext notebook whose figure is not saved with verdicts or whose last cell is not the verdict cell (a
    descriptive one: its numbers cell)."""
    cells = [c.strip() for c in re.split(r"^# %%.*$", text, flags=re.M) if c.strip()]
    problems = (
        [] if "finish(" in text else ["no core.reporting.plotting.finish (figure without verdict subtitle)"]
    )
    last = "numbers_cell(" if is_descriptive else "verdict_cell("
    if not cells or not cells[-1].startswith(last):
        problems.append(f"last cell is not {last}...)")
    return problems


def executed_problems(nb: dict, is_descriptive: bool = False) -> list[str]:
    """An executed notebook that does not show a figure or does not end with the verdict table (a descriptive one:
    with its numbers table)."""
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    problems = [] if any("image/png" in o.get("data", {}) for o in outputs) else ["no inline figure"]
    last = next((c for c in reversed(nb["cells"]) if c["cell_type"] == "code"), {"outputs": []})
    md = "".join(
        "".join(o.get("data", {}).get("text/markdown", "")) for o in last.get("outputs", [])
    )  # str or lines
    if is_descriptive:
        return problems + ([] if NUMBERS in md else ["does not end with the numbers table"])
    return problems + ([] if "## Verdict" in md else ["does not end with the verdict table"])


def png_width(path: Path) -> int:
    return struct.unpack(">I", path.read_bytes()[16:20])[0]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.parent.name)
def test_every_latest_figure_has_a_verdict(path):
    assert manifest_problems(json.loads(path.read_text()), descriptive(path.parent.name)) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_every_notebook_source_ends_with_its_verdict(path):
    assert source_problems(path.read_text(), path.stem in DESCRIPTIVE_SOURCES) == []


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.parent.name)
def test_latest_executed_notebooks_show_figure_and_verdict(path):
    for artifact, entry in json.loads(path.read_text()).items():
        latest = entry["versions"][entry["latest"]]
        nb = json.loads((REPO / latest["executed_notebook"]).read_text())
        assert executed_problems(nb, artifact in descriptive(path.parent.name)) == [], artifact
        assert png_width(REPO / latest["figure"]) <= 1800, artifact


def test_the_checks_fail_on_figures_and_notebooks_without_verdicts():
    entry = {"latest": "v002", "versions": {"v001": {"verdicts": [{"verdict": "holds"}]}, "v002": {}}}
    assert manifest_problems({"a": entry}) == ["a: no verdict"]
    entry["versions"]["v002"]["verdicts"] = [{"verdict": "holds qualitatively"}]
    assert manifest_problems({"a": entry}) == ["a: 'holds qualitatively' is not a verdict"]
    entry["versions"]["v002"]["verdicts"] = [{"verdict": "inconclusive (MDE = 0.12)"}]
    assert manifest_problems({"a": entry}) == []
    assert source_problems("# %%\nx = 1\nfinish(fig)\n# %%\nprint(table)\n") == [
        "last cell is not verdict_cell(...)"
    ]
    assert source_problems("# %%\nfinish(f)\n# %%\nverdict_cell(verdicts)\n") == []
    bare = {"cells": [{"cell_type": "code", "outputs": [{"data": {"text/plain": "{}"}}]}]}
    assert executed_problems(bare) == ["no inline figure", "does not end with the verdict table"]
    done = {
        "cells": [
            {"cell_type": "code", "outputs": [{"data": {"image/png": "..."}}]},
            {"cell_type": "code", "outputs": [{"data": {"text/markdown": ["## Verdict\n", "| a |"]}}]},
        ]
    }
    assert executed_problems(done) == []
    # a descriptive figure: no verdict allowed, its notebook ends with the numbers table
    assert manifest_problems({"a": entry}, {"a"}) == ["a: a descriptive figure carries no verdict"]
    entry["versions"]["v002"]["verdicts"] = []
    assert manifest_problems({"a": entry}, {"a"}) == []
    assert source_problems("# %%\nfinish(f)\n# %%\nverdict_cell(v)\n", True) == [
        "last cell is not numbers_cell(...)"
    ]
    assert source_problems("# %%\nfinish(f)\n# %%\nnumbers_cell(t)\n", True) == []
    assert executed_problems(done, True) == ["does not end with the numbers table"]
    done["cells"][1]["outputs"][0]["data"]["text/markdown"] = [NUMBERS + "\n", "| a |"]
    assert executed_problems(done, True) == []
    assert "atlas_atlas" in DESCRIPTIVE_SOURCES


def test_plotting_rejects_internal_names_and_small_text(tmp_path):
    import matplotlib.pyplot as plt

    from core.reporting.plotting import check_legible, name

    assert name("misa_d0.01") == "MISA δ = 1 %" and name("lora") == "LoRA"
    with pytest.raises(KeyError):
        name("test_accuracy_pooled")
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("fine", fontsize=10)
    check_legible(fig)
    ax.set_xlabel("too small", fontsize=7)
    with pytest.raises(ValueError, match="below 9 pt"):
        check_legible(fig)
    plt.close(fig)


def test_seed_points_legend_names_the_range_of_unit_counts():
    import matplotlib.pyplot as plt

    from core.analysis.stats import paired_interval
    from core.reporting.plotting import seed_points

    eight, three = paired_interval(range(8), [0.5] * 8), paired_interval([1, 2, 4], [0, 0, 0])
    fig, ax = plt.subplots()
    seed_points(ax, {"ist": list(range(8)), "ist_keep": [1, 2, 4]}, {"ist": eight, "ist_keep": three})
    assert ax.get_legend().get_texts()[-1].get_text() == "mean and 95 % paired t-interval over 3-8 seeds"
    ax.clear()
    seed_points(ax, {"ist": list(range(8))}, {"ist": eight})
    assert ax.get_legend().get_texts()[-1].get_text() == "mean and 95 % paired t-interval over 8 seeds"
    plt.close(fig)


def test_judge_takes_the_paper_number_from_claims_yaml():
    """A ratio claim (LISA time_cost: 2.9x, higher): judged against 1 and the paper's ratio from claims.yaml."""
    from core.analysis.stats import Interval
    from core.reporting.claims import judge, measured, paper_claim

    assert paper_claim("lisa", "time_cost")["paper_value"] == 2.9
    short = judge("lisa", "time_cost", Interval(1.6, 1.4, 1.8, 5, "ratio"), 0.1).verdict
    assert short == "holds, smaller than the paper's"  # the paper's side, entirely short of its 2.9x
    assert judge("lisa", "time_cost", Interval(2.6, 2.2, 3.2, 5, "ratio"), 0.1).verdict == "holds"
    assert judge("lisa", "time_cost", Interval(0.7, 0.6, 0.8, 5, "ratio"), 0.1).verdict == "does not hold"
    assert (
        judge("lisa", "time_cost", Interval(1.1, 0.9, 1.3, 5, "ratio"), 0.25).verdict == "does not hold"
    )  # < 2.9x
    assert (
        judge("lisa", "time_cost", Interval(1.5, 0.8, 3.2, 5, "ratio"), 0.25).verdict
        == "inconclusive (MDE = 0.25)"
    )
    assert judge("lisa", "random_variance", measured(0.1), 0.0).verdict.startswith(
        "not testable offline (MT-Bench"
    )
    assert "2.9×" in judge("lisa", "time_cost", measured(1.5), 0.0).line()


def test_seed_points_jitter_is_the_same_every_time_and_leaves_the_global_rng_alone():
    """An identical re-execution must draw an identical figure (so core.reporting.figures keeps the version)."""
    import matplotlib.pyplot as plt
    import numpy as np

    from core.reporting.plotting import seed_points

    def offsets():
        fig, ax = plt.subplots()
        seed_points(ax, {"lora": [0.5, 0.6, 0.7], "lisa": [0.4, 0.5, 0.6]})
        xs = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections if len(c.get_offsets())])
        plt.close(fig)
        return xs

    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first, second = offsets(), offsets()
    assert np.array_equal(first, second) and len(np.unique(first)) > 2  # jittered, and the same both times
    assert np.array_equal(np.random.get_state()[1], before)
