"""What the LISA reproduction compares, defined once: the arms, the paired comparisons, the metrics, the committed
CPU bench runs, the memory model at the paper's setting and the ablation settings. `papers/lisa/claims.py` (the
claims engine's rows) and the notebooks `notebooks/src/lisa_*.py` (the figures) both import them from here.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.analysis.norms import mean_block_norms, norm_skew, skew_by_step
from core.infra.io import REPO, RESULTS
from core.infra.results import load_runs
from core.reporting import arms

# ---- arms and pairs (LISA Fig. 1: LISA's loss at or below full FT's, below LoRA's and GaLore's) ----------------

OURS = "lisa"
# LISA − comparator, in the order the claim's verdict reads them: LoRA first (issue #32 names "LISA − LoRA
# validation loss" as the primary comparison), then full FT.
LOSS_COMPARATORS = ("lora", "full")
TRAIN_WINDOW = (
    5  # the final training loss is the mean of the last 5 logged steps (same batches for every arm)
)


def methods(runs) -> list[str]:
    """The trained arms of an experiment's runs (the zero-shot reference left out), in the order of the experiment
    config's ``runs`` (`core.reporting.arms.trained`): an arm is drawn only when the experiment ran it."""
    return arms.trained(runs)


def trained(runs) -> list:
    """The runs of the trained arms (the zero-shot reference has no training loss)."""
    keep = set(methods(runs))
    return [r for r in runs if r.name in keep]


def final_train_loss(run) -> float:
    """Mean training loss of the last TRAIN_WINDOW logged steps (the secondary metric of claim 2)."""
    return float(np.mean(run.losses[-TRAIN_WINDOW:]))


def eval_loss(run) -> float:
    """Validation loss after training on the fixed validation examples (the primary metric of claim 2)."""
    return float(run.result["eval_loss"])


# metric name -> (function of a run, primary?): the pre-registered primary metric is the validation loss
# (the design was powered for it, LOG.md 20; papers/lisa/LOG.md 24); the training loss is shown, never decides.
LOSS_METRICS = {
    "validation loss": (eval_loss, True),
    "final training loss (last 5 steps)": (final_train_loss, False),
}

# lm-eval proxies of claim 8 (downstream): learnability-gate metric -> (task, key)
PROXIES = {
    "lm_eval.sft_math_mc.acc_norm": ("sft_math_mc", "acc_norm"),
    "lm_eval.sft_instruct_ll.acc": ("sft_instruct_ll", "acc"),
}


def run_dirs(runs, profile: str, experiment: str = "loss_curves") -> list[str]:
    """Repo-relative folders of runs (for the claims file's manifest)."""
    return [f"data/results/lisa/{experiment}/{profile}/{r.name}-s{r.seed}" for r in runs]


# ---- weight norms (LISA §3.1, Fig. 2) ----------------------------------------------------------------------------


def update_skew(run, step: str = "mean") -> float:
    """LISA §3.1 skew = max(embedding, head) / median(layers) of the effective weight change (`update/`: LoRA
    ΔW = s·B·A, FT W − W0): of the mean over the logged steps of each block's norm ('mean', as Fig. 2), or the skew
    at the first / last logged step."""
    if step == "mean":
        return norm_skew(*mean_block_norms(run.weight_norms, "update"))
    return skew_by_step(run.weight_norms, "update")[0 if step == "first" else -1][1]


def norm_pairs(profile: str = "cpu", root: Path | str = RESULTS) -> dict[str, dict[str, dict[int, object]]]:
    """{architecture: {"lora": {seed: run}, "full": {seed: run}}} with weight norms, paired by seed. SmolLM2's FT
    side is the loss-curve full-FT runs (same 150 steps, seeds and data order, norms logged)."""
    out: dict[str, dict[str, dict[int, object]]] = {}
    for r in load_runs("lisa", "weight_norms", profile, root):
        arch, method = r.name.rsplit("_", 1)
        out.setdefault(arch, {}).setdefault(method, {})[r.seed] = r
    smollm2 = out.setdefault("smollm2", {})
    if "full" not in smollm2:
        full = [
            r for r in load_runs("lisa", "loss_curves", profile, root) if r.name == "full" and r.weight_norms
        ]
        smollm2["full"] = {r.seed: r for r in full}
    return {a: m for a, m in out.items() if {"lora", "full"} <= set(m)}


# ---- step time (LISA Fig. 4) --------------------------------------------------------------------------------------

BENCH_FILE = "data/results/bench/cpu-cpu.json"
BENCH_COMMITS = (
    "1a0d913",
    "a063983",
    "b0dfe7f",
)  # every committed CPU bench of the 4×64 setting (the last = now)
SPEEDUP_CLAIMS = {"full": "time_cost", "lora": "time_vs_lora"}  # comparator ÷ LISA step time -> claim id
COMPARATOR_WORDS = {"full": "full FT", "lora": "LoRA"}  # how the claims table names each comparator


def bench_at(sha: str) -> dict:
    """The CPU bench file as committed at `sha`."""
    text = subprocess.run(
        ["git", "show", f"{sha}:{BENCH_FILE}"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(text)


def median_step(bench: dict) -> dict[str, float]:
    """{method: median step time (s)} of one bench run."""
    return {r["method"]: r["step_s_median"] for r in bench["rows"]}


def bench_ratios(commits=BENCH_COMMITS) -> dict[str, list[float]]:
    """{'full', 'lora'}: that method's median step time ÷ LISA's, one value per committed CPU bench run (the
    runs are the units of the time claims' interval; the steps of one run are not independent replicates)."""
    out: dict[str, list[float]] = {m: [] for m in SPEEDUP_CLAIMS}
    for sha in commits:
        median = median_step(bench_at(sha))
        for m in out:
            out[m].append(median[m] / median[OURS])
    return out


# ---- memory (LISA Table 1 / Fig. 3) -------------------------------------------------------------------------------


def memory_methods() -> list[str]:
    """The bench rows of the memory and step-time figures: the methods of the loss-curve experiment over all its
    profiles (`core.reporting.arms.every_method`), the untrained reference first (measured as ``inference``), then the
    trained ones in the config's order."""
    found = arms.every_method("lisa", "loss_curves")
    return [arms.bench_name(a.method) for a in sorted(found, key=lambda a: a.trains)]


# the paper's memory variants at its setting (batch 1, 1024 tokens, bf16, no checkpointing / flash-attention)
VARIANTS = {
    "Full FT": ("full", {}),
    "LoRA r128": ("lora", {"lora_r": 128}),
    "LISA E+H": ("lisa", {"gamma": 0}),
    "LISA E+H+2L": ("lisa", {"gamma": 2}),
    "LISA E+H+4L": ("lisa", {"gamma": 4}),
}
BF16 = dict(weight_bytes=2, grad_bytes=2, state_bytes=2, act_bytes=2)
GB = 1024**3


def paper_setting_gb() -> dict[str, dict[str, float]]:
    """{model name: {variant: predicted peak (GB)}} of core.costs.memory's analytic model at the paper's setting for the
    paper's models (a prediction, not a measurement)."""
    from core.costs.memory import PAPER_MODELS, predict_memory

    return {
        spec.name: {
            v: predict_memory(spec, m, 1, 1024, **kw, **BF16, attention_scores=True)["total"] / GB
            for v, (m, kw) in VARIANTS.items()
        }
        for spec in PAPER_MODELS.values()
    }


def analytic_mb(bench: dict, method: str) -> float:
    """The analytic model for a bench row, recomputed so every bench file is judged by the current model
    (CUDA fp32 SDPA saves the attention probabilities; papers/lisa/LOG.md item 7)."""
    from transformers import AutoConfig

    from core.costs.memory import MB, ArchSpec, predict_memory
    from core.sources import models
    from core.training import methods

    st = bench["setting"]
    spec = ArchSpec.from_config(AutoConfig.from_pretrained(models.resolve(st["model"])))
    kwargs = dict(
        galore_rank=st["galore_rank"]
        if methods.resolve(method)[0].step_optimizer
        else 0,  # GaLoreAdamW's state
        attention_scores=bench["device"] == "cuda",
    )
    out = predict_memory(spec, method, st["batch"], st["seq"], st["gamma"], st["lora_r"], **kwargs)
    return out["total"] / MB


def largest_gpu(benches: dict[str, dict]) -> str:
    """The bench label of the largest CUDA setting (batch × tokens): the one closest to the paper's regime."""

    def size(label: str) -> int:
        b = benches[label]
        return b["setting"]["batch"] * b["setting"]["seq"] * (b["device"] == "cuda")

    return max(benches, key=size)


def bench_files(profile: str = "cpu", root: Path | str = RESULTS) -> dict[str, str]:
    """{bench label: repo-relative file} of the benches core.infra.results.load_benches reads for a profile."""
    from core.infra.results import bench_label, load_json

    base = Path(root) / "bench"
    out = {}
    for name in dict.fromkeys([f"{profile}-cpu", f"{profile}-cuda", "gpu-cuda", "cpu-cpu"]):
        path = base / f"{name}.json"
        if path.exists():
            out.setdefault(bench_label(load_json(path)), str(path.resolve().relative_to(REPO)))
    return out


# ---- ablations (LISA Figs. 8-9) -----------------------------------------------------------------------------------

ABLATIONS = {"gamma": ("layers_ablation", "ablations"), "interval": ("K_ablation", "ablations_K")}
SYMBOL = {"gamma": "γ", "interval": "K"}


def ablation_settings(
    profile: str = "cpu", root: Path | str = RESULTS
) -> dict[str, dict[int, dict[int, object]]]:
    """{"gamma" / "interval": {setting: {seed: run}}}: each ablation's runs (the other knob fixed at the main run's
    value) and, at the main setting, the main LISA runs of the same seeds (seeds 0-2 on cpu, seed 0 on cpu32)."""
    base = {r.seed: r for r in load_runs("lisa", "loss_curves", profile, root) if r.name == OURS}
    main = base[0].config["lisa"]
    out = {}
    for key, (experiment, _) in ABLATIONS.items():
        other = "interval" if key == "gamma" else "gamma"
        runs = [
            r for r in load_runs("lisa", experiment, profile, root) if r.config["lisa"][other] == main[other]
        ]
        found: dict[int, dict[int, object]] = {}
        for r in runs:
            found.setdefault(r.config["lisa"][key], {})[r.seed] = r
        seeds = sorted({r.seed for r in runs})
        found[main[key]] = {s: replace(base[s]) for s in seeds}
        out[key] = {v: dict(sorted(by_seed.items())) for v, by_seed in sorted(found.items())}
    return out


def ablation_pairs(settings: dict[int, object], key: str) -> list[tuple[int, int, bool]]:
    """(ours, comparator, primary) setting pairs of an ablation. γ (Fig. 8, "more layers, lower loss"): every
    larger − smaller pair, the largest − smallest primary. K (Fig. 9, "K = 13 of 122 steps is best", a middle K):
    the middle setting − each other setting, both primary (the middle must beat both)."""
    values = sorted(settings)
    if key == "gamma":
        return [
            (hi, lo, (hi, lo) == (values[-1], values[0])) for hi in values[1:] for lo in values if lo < hi
        ]
    middle = values[len(values) // 2]
    return [(middle, other, True) for other in values if other != middle]


def main_seed_losses(profile: str = "cpu", root: Path | str = RESULTS) -> dict[int, float]:
    """{seed: validation loss} of the main LISA runs (the main setting of both ablations)."""
    return {r.seed: eval_loss(r) for r in load_runs("lisa", "loss_curves", profile, root) if r.name == OURS}


def reference_seeds(profile: str = "cpu", root: Path | str = RESULTS) -> list[float]:
    """Validation losses of the main LISA seeds: the seed-to-seed sd every one-seed ablation borrows."""
    return list(main_seed_losses(profile, root).values())
