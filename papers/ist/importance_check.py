"""Does IST's score ranking find the layers that matter? An importance check that is not confounded by training.

The earlier check (README claim 4, v002) correlated IST's scores with the same run's per-layer LoRA update norms:
a layer drawn more often by chance both trains more and gets a lower score, so the correlation mixes importance
with how much IST let each adapter train. Here the yardstick comes from a run in which every layer's adapter
trained at every step: the plain LoRA run of the same seed (same data order). At its final checkpoint, on held-out
examples (the test split, never used for training or lr selection), each layer's adapter is removed in turn
(`ISTCallback.suppressed` with factor 0) and the per-example loss increase ΔL[e, i] = ℓ_e(no adapter i) − ℓ_e
is measured. A layer's importance is the mean ΔL over the examples. IST's claim (a high score means a less
important layer, papers/ist/REFERENCE.md §2) predicts a negative Spearman ρ(final score, importance).

Intervals: per seed, a percentile bootstrap over held-out examples (scipy.stats.bootstrap; the scores are that
run's fixed output, the examples are the sample) and a permutation p-value over layers
(scipy.stats.permutation_test); across seeds, the t interval of the per-seed ρ (core.analysis.stats.t_interval), which
also carries the scores' seed-to-seed variation. The confounded version is reported beside it: ΔL measured on the
IST run's own checkpoint, against its scores and against how often each layer was selected.

    python -m papers.ist.importance_check [--profile cpu] [--force] [--confounded-seeds 0]
    # -> data/results/ist/importance_check/<profile>.json

Needs the runs' adapters (`save_adapter: true` in papers/ist/configs/compare_math.yaml; not committed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy import stats as sps

from core.analysis.stats import t_interval
from core.training.callbacks import ISTCallback

EXPERIMENT = "compare_math"
REFERENCE_RUN = "lora"  # every layer's adapter trained at every step
SCORED_RUNS = ("ist", "ist_slr100")
N_EXAMPLES = 32  # 2 batches x 31 forwards per checkpoint (budget: papers/ist/README.md "Scale")
CONFOUNDED_SEEDS = ()  # each seed of the confounded version costs one more checkpoint (~3 min on 2 cores)
BATCH = 16


def example_losses(model, batch: dict) -> np.ndarray:
    """Mean response-token cross-entropy of each example (labels −100 are ignored), in eval mode."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).logits
    labels = batch["labels"][:, 1:]
    tok = torch.nn.functional.cross_entropy(
        logits[:, :-1].transpose(1, 2).float(), labels, ignore_index=-100, reduction="none"
    )
    mask = (labels != -100).float()
    return (tok.sum(1) / mask.sum(1).clamp(min=1)).double().numpy()


def suppression_deltas(model, batches, factor: float = 0.0, loss_fn=example_losses) -> np.ndarray:
    """ΔL[e, i]: example e's loss with layer i's adapters scaled by `factor` (0: removed) minus its loss with every
    adapter on; layers and adapters as IST finds them (`ISTCallback.setup`)."""
    cb = ISTCallback(suppression=factor).attach(model)
    n_layers = len(cb.adapters)
    from core.sources.models import eval_mode

    with eval_mode(model), torch.inference_mode():
        base = np.concatenate([loss_fn(model, b) for b in batches])
        cols = []
        for i in range(n_layers):
            with cb.suppressed([i]):
                cols.append(np.concatenate([loss_fn(model, b) for b in batches]) - base)
    return np.stack(cols, axis=1)


def rank_agreement(scores, deltas: np.ndarray, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Spearman ρ between per-layer `scores` and importance (mean ΔL over examples), with a 95 % percentile
    bootstrap over examples and a two-sided permutation p-value over layers."""
    scores = np.asarray(scores, dtype=float)
    deltas = np.asarray(deltas, dtype=float)
    importance = deltas.mean(axis=0)

    def rho_of(idx):
        return sps.spearmanr(scores, deltas[idx].mean(axis=0)).statistic

    boot = sps.bootstrap(
        (np.arange(len(deltas)),),
        rho_of,
        vectorized=False,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    perm = sps.permutation_test(
        (scores,),
        lambda s: sps.spearmanr(s, importance).statistic,
        permutation_type="pairings",
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed + 1),
    )
    return {
        "rho": float(sps.spearmanr(scores, importance).statistic),
        "rho_lo": float(boot.confidence_interval.low),
        "rho_hi": float(boot.confidence_interval.high),
        "p_permutation": float(perm.pvalue),
        "n_examples": int(len(deltas)),
        "n_layers": int(len(scores)),
    }


def selection_counts(run, n_layers: int) -> list[int]:
    """How many steps each layer's adapter trained in a finished IST run (its switch history)."""
    counts = [0] * n_layers
    for h in run.result["switch_history"]:
        for name in h["active"]:
            counts[int(name[5:])] += 1
    return counts


def held_out_batches(cfg, tok, n: int = N_EXAMPLES):
    from transformers import DataCollatorForSeq2Seq

    from core.sources.data import load_task
    from core.sources.prompts import tokenize_dataset

    data = tokenize_dataset(load_task(cfg.task, "test", n), tok, cfg.max_length)
    collate = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    return [
        collate([data[j] for j in range(i, min(i + BATCH, len(data)))]) for i in range(0, len(data), BATCH)
    ]


def checkpoint_deltas(run, n: int = N_EXAMPLES) -> np.ndarray:
    """ΔL on `n` test examples at a finished run's final adapter (rebuilt from its stored config)."""
    from core.sources.models import load_model
    from core.training.checks import run_config
    from core.training.finetune import ADAPTER_FILE, apply_lora, load_adapter

    cfg = run_config(run.config)
    path = Path(run.path) / ADAPTER_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the run finished without `save_adapter` (or in another clone); "
            "move its directory away and re-run it"
        )
    model, tok = load_model(cfg.model, "causal", dtype=cfg.dtype, seed=cfg.seed)
    model = apply_lora(model, cfg)
    load_adapter(model, path)
    return suppression_deltas(model, held_out_batches(cfg, tok, n))


def check(runs, n: int = N_EXAMPLES, confounded_seeds=CONFOUNDED_SEEDS) -> dict:
    """Per seed: ρ(scores of each scored run, importance at the LoRA checkpoint); the confounded version for
    `confounded_seeds`."""
    by = {(r.name, r.seed): r for r in runs}
    seeds = sorted(s for (name, s) in by if name == REFERENCE_RUN and ("ist", s) in by)
    rows = []
    for seed in seeds:
        reference = checkpoint_deltas(by[(REFERENCE_RUN, seed)], n)
        row = {"seed": seed, "importance": reference.mean(0).tolist()}
        for name in SCORED_RUNS:
            if (name, seed) in by:
                scores = by[(name, seed)].result["score_history"][-1]
                row[name] = {"scores": scores, **rank_agreement(scores, reference)}
        if seed in confounded_seeds:
            own = by[("ist", seed)]
            own_deltas = checkpoint_deltas(own, n)
            counts = selection_counts(own, own_deltas.shape[1])
            row["confounded"] = {
                "own_importance": own_deltas.mean(0).tolist(),
                "selection_counts": counts,
                "scores_vs_own": rank_agreement(row["ist"]["scores"], own_deltas),
                "counts_vs_own": rank_agreement(counts, own_deltas),
            }
        rows.append(row)
    summary = {
        name: str(t_interval([r[name]["rho"] for r in rows]))
        for name in SCORED_RUNS
        if len([r for r in rows if name in r]) >= 2 and all(name in r for r in rows)
    }
    return {
        "experiment": EXPERIMENT,
        "reference_run": REFERENCE_RUN,
        "held_out": f"test split, first {n}",
        "suppression_factor": 0.0,
        "seeds": rows,
        "rho_over_seeds": summary,
        "confounded_seeds": [s for s in seeds if s in confounded_seeds],
    }


def options(parser) -> None:
    parser.add_argument(
        "--confounded-seeds",
        type=int,
        nargs="*",
        default=list(CONFOUNDED_SEEDS),
        help="seeds whose IST checkpoint is also measured (the confounded version)",
    )


def importance_study(profile: str, args) -> dict:
    """The check on the `EXPERIMENT` runs of `profile`."""
    from core.infra.provenance import manifest
    from core.infra.results import load_runs

    seeds = list(getattr(args, "confounded_seeds", CONFOUNDED_SEEDS))
    runs = load_runs("ist", EXPERIMENT, profile)
    return {
        **check(runs, N_EXAMPLES, tuple(seeds)),
        "manifest": manifest(
            {
                "experiment": EXPERIMENT,
                "profile": profile,
                "n_examples": N_EXAMPLES,
                "confounded_seeds": seeds,
            }
        ),
    }


def main(argv=None) -> int:
    from core.infra.study import Study
    from core.infra.study import main as study_main

    return study_main(Study("ist", "importance_check", None, importance_study, options), __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
