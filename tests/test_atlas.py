"""The method atlas (papers/atlas): its profiles load with the stated design (cpu: MISA's accuracy_math design, the
zeroth-order budget re-derived from the committed bench; gpu: validated, not run), DoRA at LoRA's selected lr, the
paired differences are the claims engine's, the Pareto front and pending arms on known inputs, and the README tables
are what the committed results give."""

import pytest

from core.infra.io import REPO, RESULTS, read_json
from core.running.reuse import load
from core.training.experiment_file import load_experiment
from papers.atlas import atlas, tables

ARMS = set(atlas.ARMS)


def by_name(configs):
    out = {}
    for c in configs:
        out.setdefault(c.name, []).append(c)
    return out


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_every_profile_loads_with_every_arm_and_three_seeds(profile):
    arms = by_name(load(atlas.CONFIG, profile))
    assert set(arms) == ARMS
    for name, cfgs in arms.items():
        assert cfgs[0].task == "math" and cfgs[0].model == "smollm2-135m"
        if name != "zero_shot":
            assert sorted(c.seed for c in cfgs) == [0, 1, 2], name
            assert cfgs[0].lr_probe.grid or cfgs[0].lr_probe.source or name == "dora", name


def test_cpu_profile_is_misas_design_and_the_zo_budget_comes_from_the_bench():
    arms = by_name(load(atlas.CONFIG, "cpu"))
    for name in atlas.FIRST_ORDER:
        c = arms[name][0]
        assert (c.max_steps, c.batch_size, c.max_length, c.eval_examples) == (200, 2, 64, 64), name
    bench = atlas.bench_rows()
    assert atlas.zo_steps(bench) == 150  # 200 x 2.469 / 3.317 = 148.9 (the config comment)
    for name in atlas.ZEROTH_ORDER:
        c = arms[name][0]
        assert c.max_steps == atlas.zo_steps(bench) and c.probe_every == 0 and c.zo.eps == 1e-3
    assert arms["s-mezo"][0].zo.sparsity == 0.8 and arms["s-mezo"][0].zo.mask == "magnitude"
    assert arms["r-mezo"][0].zo.sparsity == 0.8 and arms["r-mezo"][0].zo.mask == "random"


def test_gpu_profile_validates():
    arms = by_name(load_experiment(atlas.CONFIG, "gpu"))
    assert {c.paper for cs in arms.values() for c in cs} == {
        "atlas"
    }  # no reuse: MISA's gpu runs were not made
    assert arms["full"][0].max_steps == 600 and arms["full"][0].batch_size == 8
    assert all(arms[z][0].max_steps == 3 * 600 for z in atlas.ZEROTH_ORDER)
    assert arms["dora"][0].lora.dora and arms["dora"][0].lr_probe.source == "atlas.lora"
    for cs in arms.values():
        assert cs[0].lr_probe.steps <= cs[0].max_steps


def test_dora_is_lora_with_dora_at_loras_selected_lr():
    arms = by_name(load(atlas.CONFIG, "cpu"))
    dora, lora = arms["dora"][0], arms["lora"][0]
    selected = read_json(RESULTS / "misa" / "lr_probe" / "cpu" / "accuracy_math.lora.json")["selected_lr"]
    assert dora.lr == selected == 3e-4
    assert dora.lora.dora and not lora.lora.dora and dora.method == lora.method == "lora"
    assert (dora.lora.r, dora.lora.alpha, dora.lora.targets) == (
        lora.lora.r,
        lora.lora.alpha,
        lora.lora.targets,
    )


def test_zo_steps_on_known_step_times():
    rows = {atlas.ARMS[a]: {"step_s_median": t} for a, t in zip(atlas.FIRST_ORDER, [1, 1, 1, 2, 2, 3, 3, 3])}
    rows["mezo"] = {"step_s_median": 1.0}
    assert atlas.zo_steps(rows) == 400  # median 2 s; 200 x 2 / 1
    rows["mezo"] = {"step_s_median": 4.0}
    assert atlas.zo_steps(rows) == 100


def test_pareto_front_on_known_points():
    points = [(1.0, 0.5), (2.0, 0.8), (3.0, 0.7), (0.5, 0.1), (2.0, 0.6)]
    assert atlas.pareto(points) == [3, 0, 1]  # (3, 0.7) and (2, 0.6) are beaten by (2, 0.8)
    assert atlas.pareto([(1.0, 1.0), (2.0, 2.0)], higher=False) == [0]  # loss: lower is better
    assert atlas.pareto([(1.0, 2.0), (2.0, 1.0)], higher=False) == [0, 1]


class FakeRun:
    def __init__(self, seed, result, status="done"):
        self.seed, self.result, self.status, self.path = seed, result, status, f"x-s{seed}"


def test_difference_is_the_claims_engines_interval_and_mde():
    from core.analysis.item_stats import accuracy_diff, mde_accuracy
    from core.analysis.stats import mde_of, paired_interval

    a = [
        FakeRun(s, {"eval_loss": v, "test_correct": c})
        for s, v, c in [(0, 1.0, [1, 1, 0, 1]), (1, 1.2, [1, 0, 0, 1]), (2, 1.1, [1, 1, 1, 1])]
    ]
    b = [
        FakeRun(s, {"eval_loss": v, "test_correct": c})
        for s, v, c in [(0, 1.3, [0, 1, 0, 1]), (1, 1.4, [1, 0, 0, 0]), (2, 1.6, [1, 1, 0, 1])]
    ]
    loss = atlas.difference(a, b, "validation loss", 4)
    iv = paired_interval([1.0, 1.2, 1.1], [1.3, 1.4, 1.6])
    assert (loss["estimate"], loss["lo"], loss["hi"]) == pytest.approx((iv.estimate, iv.lo, iv.hi))
    assert loss["estimate"] == pytest.approx(-1.0 / 3)
    assert loss["mde"] == pytest.approx(mde_of([1.0, 1.2, 1.1], [1.3, 1.4, 1.6]))
    acc = atlas.difference(a, b, "test accuracy", 4)
    ca, cb = [r.result["test_correct"] for r in a], [r.result["test_correct"] for r in b]
    assert acc["estimate"] == pytest.approx(accuracy_diff(ca, cb).estimate) == pytest.approx(0.25)
    assert acc["mde"] == pytest.approx(mde_accuracy(ca, cb)) and acc["design"] == "crossed seeds x items"
    one = atlas.difference(a[:1], b, "validation loss", 4)  # one common seed: no interval
    assert one["estimate"] is None and one["seeds"] == [0]
    first2 = atlas.difference(a, b, "test accuracy", 2)  # items 1-2 only: a 5/6 right, b 4/6
    assert first2["estimate"] == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="x-s0: scored 4 test items, the atlas compares 8"):
        atlas.difference(a, b, "test accuracy", 8)


def test_the_atlas_compares_every_arm_on_its_first_64_test_items():
    """Every arm is read on the test items all were scored on, the split's first 64: the reused arms' runs (MISA's
    accuracy_math `cpu`) score 256 items and are read on their first 64, the atlas's own arms score 64."""
    arms = atlas.arm_configs("cpu")
    assert arms["lisa"].test_limit == 256 and arms["dora"].test_limit == 64
    assert atlas.shared_items("cpu") == 64
    rows = {r["arm"]: r for r in atlas.rows("cpu")}
    for arm in ("full", "lora", "lisa", "badam", "misa"):
        made = {
            s: read_json(RESULTS / "misa" / "accuracy_math" / "cpu" / f"{arm}-s{s}" / "result.json")
            for s in (0, 1, 2)
        }
        assert all(len(r["test_correct"]) == 256 for r in made.values()), arm
        first_64 = {s: sum(r["test_correct"][:64]) / 64 for s, r in made.items()}
        assert rows[arm]["per_seed_accuracy"] == pytest.approx(first_64), arm
        assert rows[arm]["test_items"] == 64


def test_pending_and_partial_arms_are_named_never_filled():
    from pathlib import Path

    expected = [Path(f"x-s{s}") for s in range(3)]
    assert atlas.status([], expected) == atlas.PENDING
    assert atlas.status([FakeRun(0, {})], expected) == f"1 of 3 seeds ({atlas.PENDING} for the rest)"
    assert atlas.status([FakeRun(0, {}, "diverged")], expected) == "diverged (seed 0)"
    assert tables.with_interval({"mean": None, "lo": None, "hi": None}) == atlas.PENDING


def test_prediction_at_7b_matches_the_readmes_fsdp_table():
    """Full FT of LLaMA-2-7B, bf16, batch 1 x 1024, eager attention: 50.2 GiB (README "Sharded training", 1 GPU)."""
    assert atlas.predicted_gib("full", "7B") == pytest.approx(50.2, abs=0.05)
    assert (
        atlas.predicted_gib("mezo", "7B")
        < atlas.predicted_gib("lora", "7B")
        < atlas.predicted_gib("full", "7B")
    )


def test_readme_tables_are_what_the_results_give():
    made = tables.tables("cpu")
    readme = (REPO / "papers" / "atlas" / "README.md").read_text()
    assert tables.rendered(readme, made, ("arms", "differences")) == readme
    top = (REPO / "README.md").read_text()
    assert tables.rendered(top, made, ("top",)) == top


def test_make_atlas_runs_every_arm_once():
    """`make atlas` runs the first-order arms with JOBS and the zeroth-order ones with ZO_JOBS: together every arm."""
    make = (REPO / "Makefile").read_text()
    target = make[make.index("\natlas:") : make.index("\nfigures:")]
    named = [a for chunk in target.split("--run")[1:] for a in chunk.split("\n")[0].split()]
    assert sorted(named) == sorted(ARMS)
    assert "--jobs $(ZO_JOBS) \\\n\t\t--run mezo s-mezo r-mezo" in target
