"""`make bench`: step time and peak memory per method on one batch, next to the analytic model.

Methods: inference (forward only, no grad), full FT (AdamW), LoRA (peft), GaLore (galore-torch),
LISA (γ middle layers + embeddings + head); MISA (modules under budget δ), BAdam (one layer, `badam`
package), IST (LoRA on a quarter of the layers per step) and MeZO / Sparse MeZO (`core.training.zo`) are measured by
the papers' studies through `run_variants`. Same model, same batch, same fused AdamW as the Trainer's default.
Each method (or alias: ``sparse_mezo``, ``random_mezo``, ``inference``) is prepared from its `core.training.methods`
entry and a config built from the profile (`bench_config`), as a run would build it.
Peak memory = bytes live before the step (weights + optimizer state) + the step's measured peak.
Writes ``data/results/bench/<profile>.json`` (with manifest) and prints a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

import torch

from core.costs.memory import MB, ArchSpec, measure_peak, predict_memory, tensor_bytes
from core.infra.io import RESULTS, atomic_write_json
from core.infra.provenance import manifest
from core.infra.study import Study
from core.sources.layers import find_blocks
from core.sources.models import load_model
from core.training.callbacks import BlockSwitchCallback
from core.training.config import MOUNTS, ConfigError, RunConfig, build, merge
from core.training.finetune import apply_lora
from core.training.methods import RunContext, load_module, method_of, resolve
from core.training.run import seed_everything
from core.training.trainers import zo_mask
from core.training.zo import SPSA

# galore_update_gap: GaLore's subspace change frequency T (200 in GaLore's pre-training runs): the timed steps
# reuse one projector
PROFILES = {
    "cpu": dict(
        model="smollm2-135m",
        batch=4,
        seq=64,
        gamma=2,
        lora_r=8,
        galore_rank=8,
        galore_update_gap=200,
        steps=3,
    ),
    "gpu": dict(
        model="smollm2-135m",
        batch=8,
        seq=512,
        gamma=2,
        lora_r=8,
        galore_rank=8,
        galore_update_gap=200,
        steps=5,
    ),
    # the method atlas's batch (papers/atlas: MISA's accuracy_math cpu design, 2 x 64, LISA gamma = 1), every method
    "atlas": dict(
        model="smollm2-135m",
        batch=2,
        seq=64,
        gamma=1,
        lora_r=8,
        galore_rank=8,
        galore_update_gap=200,
        steps=5,
    ),
    "tiny": dict(
        model="tiny-llama", batch=8, seq=64, gamma=2, lora_r=8, galore_rank=8, galore_update_gap=200, steps=3
    ),
    "paper": dict(
        model="meta-llama/Llama-2-7b-hf",
        batch=1,
        seq=1024,
        gamma=2,
        lora_r=128,
        galore_rank=128,
        galore_update_gap=200,
        steps=5,
    ),
}
METHODS = ("inference", "full", "lora", "galore", "lisa", "mezo", "sparse_mezo")
ATLAS_METHODS = (*METHODS[:4], "dora", "badam", "lisa", "misa", "ist", "mezo", "sparse_mezo", "random_mezo")


def bench_config(name: str, p: dict) -> RunConfig:
    """The config a run of method or alias `name` would have under profile `p`: lr 1e-5, LoRA rank and α = 2r,
    LISA's γ, MISA's budget δ and IST's update fraction from the profile, K = 1; a variant's ``sparsity``
    replaces the one an alias fixes (Sparse MeZO's best, 0.8); a plug-in's own γ / K fields likewise."""
    known(p.get("method_modules", []), [])  # a plug-in's module (--method-module)
    method, fixed = resolve(name)
    zo = dict(fixed.get("zo", {}))
    if "sparsity" in zo:
        zo["sparsity"] = p.get("sparsity", zo["sparsity"])
    settings = {
        **plugin_settings(method, p),
        "method": method.name,
        "lr": 1e-5,
        "lora": {"r": p["lora_r"], "alpha": 2 * p["lora_r"]},
        "lisa": {"gamma": p["gamma"], "interval": 1},
        "misa": {"budget": p.get("budget", 0.03), "interval": 1},
        "ist": {"update_frac": p.get("update_frac", 0.25)},
        "galore": {"rank": p["galore_rank"], "update_proj_gap": p["galore_update_gap"]},
    }
    return build(RunConfig, merge(merge(settings, fixed), {"zo": zo}))


def plugin_settings(method, p: dict) -> dict:
    """A plug-in method's own section (`core.training.config.MOUNTS`) at the profile's γ and K = 1, for the fields it
    has."""
    if method.settings is None or method.section not in MOUNTS:
        return {}
    fields = {f.name for f in dataclasses.fields(method.settings)}
    return {method.section: {k: v for k, v in (("gamma", p["gamma"]), ("interval", 1)) if k in fields}}


def fused_adamw(model, cfg: RunConfig):
    """The Trainer's default optimizer: AdamW over the trainable parameters (fused on CPU)."""
    return torch.optim.AdamW(
        [q for q in model.parameters() if q.requires_grad],
        lr=cfg.lr,
        fused=not torch.cuda.is_available() or None,
    )


def prepare(name: str, model, p: dict):
    """(model, optimizer) for a method or alias, from its `core.training.methods` entry: LoRA wrap, then an SPSA step
    (ZO), no optimizer (no training), the method's own optimizer or fused AdamW; a block-switching callback is attached
    and draws its first blocks with its own freezing code."""
    cfg = bench_config(name, p)
    method = method_of(cfg)
    if method.adapter(cfg):
        model = apply_lora(model, cfg)
    if method.zeroth_order:
        model.eval()
        return model, SPSA(model, eps=cfg.zo.eps, mask=zo_mask(cfg.zo.mask, cfg.zo.sparsity, cfg.seed))
    if not method.trains:
        return model, None
    opt = (method.step_optimizer or method.optimizer or fused_adamw)(model, cfg)
    callback = method.callback(cfg, RunContext()) if method.callback is not None else None
    if isinstance(callback, BlockSwitchCallback):  # the blocks trained in the measured steps
        callback.attach(model, opt).switch(0)
    return model, opt


def active_layout(model) -> dict:
    """Trainable parameters inside the layers and the lowest layer holding one (for the MISA/BAdam model)."""
    layers = find_blocks(model).layers
    active = [i for i, (_, m) in enumerate(layers) if any(q.requires_grad for q in m.parameters())]
    return {
        "block_params": sum(q.numel() for _, m in layers for q in m.parameters() if q.requires_grad),
        "lowest_layer": min(active) if active else 0,
    }


def step_fn(model, batch, opt):
    if isinstance(opt, SPSA):  # MeZO / Sparse MeZO: two perturbed forwards + an in-place update, no autograd
        return lambda: opt.step(lambda: model(**batch).loss, lr=1e-6)
    if opt is None:

        def infer():
            with torch.no_grad():
                model(**batch)

        return infer

    def train_step():
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return train_step


def bench_model(p: dict):
    """The profile's model; with ``random_init`` only its config is needed (timing and memory do not
    depend on the weight values), which is how the GPU machine, lacking the weights, runs it."""
    if p.get("random_init"):
        from transformers import AutoConfig, AutoModelForCausalLM

        return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(p["random_init"]))
    return load_model(p["model"])[0]


def bench_method(method: str, p: dict, device: str) -> dict:
    seed_everything(0)
    model = bench_model(p)
    model.config.use_cache = False
    model, opt = prepare(method, model, p)
    model.to(device)
    ids = torch.randint(0, model.config.vocab_size, (p["batch"], p["seq"]), device=device)
    batch = {"input_ids": ids, "labels": ids}
    fn = step_fn(model, batch, opt)
    fn()  # warm-up; creates the optimizer state
    times = []
    for _ in range(p["steps"]):
        t0 = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    inner = getattr(opt, "base_optimizer", opt)  # BAdam wraps AdamW and holds fp32 copies of the active block
    has_state = opt is not None and not isinstance(opt, SPSA)  # ZO keeps no optimizer state
    state = [
        t
        for s in (inner.state.values() if has_state else [])
        for t in s.values()
        if torch.is_tensor(t) and t.dim()
    ]
    held = [q for g in (inner.param_groups if has_state else []) for q in g["params"]]
    before = tensor_bytes(list(model.parameters()) + held + state)
    peak = measure_peak(fn, device)["peak_bytes"]
    n_train = sum(q.numel() for q in model.parameters() if q.requires_grad) if opt else 0
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    entry = resolve(method)[0]
    layout = active_layout(model) if entry.memory.activations == "block" else {}
    pred = predict_memory(
        ArchSpec.from_config(base.config),
        method,
        p["batch"],
        p["seq"],
        p["gamma"],
        p["lora_r"],
        galore_rank=p["galore_rank"] if entry.step_optimizer else 0,  # GaLoreAdamW: projected state
        attention_scores=device.startswith("cuda"),  # fp32 SDPA on CUDA saves them
        update_frac=p.get("update_frac", 0.25),
        **layout,
    )
    return {
        "method": method,
        "step_s_median": statistics.median(times),
        "step_s_all": times,
        "peak_mb": (before + peak) / MB,
        "before_step_mb": before / MB,
        "step_peak_mb": peak / MB,
        "predicted_peak_mb": pred["total"] / MB,
        "predicted": {k: v / MB for k, v in pred.items() if k != "trainable_params"},
        "trainable_params": n_train,
        **layout,
    }


def bench_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def print_row(label: str, row: dict) -> None:
    print(
        f"{label:12s} step {row['step_s_median']:7.3f} s   peak {row['peak_mb']:9.1f} MB   "
        f"analytic {row['predicted_peak_mb']:9.1f} MB   trainable {row['trainable_params']:>11,d}",
        flush=True,
    )


def add_ratios(rows: list[dict]) -> None:
    """time_vs_<m> / memory_vs_<m> of every row against inference, full FT and MeZO rows when present
    (the ratios MeZO and Sparse MeZO report: step time per forward, memory per inference)."""
    ref = {r["method"]: r for r in rows if "skipped" not in r}
    for base in ("inference", "full", "mezo"):
        if base in ref:
            for r in rows:
                if "skipped" not in r:
                    r[f"time_vs_{base}"] = r["step_s_median"] / ref[base]["step_s_median"]
                    r[f"memory_vs_{base}"] = r["peak_mb"] / ref[base]["peak_mb"]


def run_variants(variants, profile: str, study: str) -> dict:
    """Measure (label, method, settings) variants with `bench_method`: the study's result; a variant the model
    cannot take (e.g. a budget below its smallest block) is recorded as skipped."""
    device = bench_device()
    rows = []
    for label, method, extra in variants:
        try:
            row = {"label": label, **extra, **bench_method(method, dict(PROFILES[profile], **extra), device)}
        except ValueError as err:  # e.g. a budget below the smallest block of a tiny model
            print(f"{label:12s} skipped: {err}")
            rows.append({"label": label, **extra, "skipped": str(err)})
            continue
        rows.append(row)
        print_row(label, row)
    add_ratios(rows)
    return {
        "rows": rows,
        "setting": PROFILES[profile],
        "device": device,
        "manifest": manifest({"study": study, "profile": profile}, 0),
    }


def memory_study(paper: str, variants) -> Study:
    """A paper's memory study (`core.infra.study`): the `variants` measured on one batch of each bench profile,
    -> results/<paper>/memory/<profile>.json."""
    return Study(
        paper, "memory", PROFILES, lambda profile, args: run_variants(variants, profile, f"{paper}_memory")
    )


def known(modules: list[str], names: list[str]) -> None:
    """Import the method modules, then check that every name is a method or alias (KeyError naming the fix)."""
    for module in modules:
        load_module(module)
    for name in names:
        resolve(name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    parser.add_argument("--methods", nargs="*", help=f"default: {' '.join(METHODS)} (atlas: every method)")
    parser.add_argument(
        "--random-init", help="folder with the model's config.json: build it with random weights"
    )
    parser.add_argument("--force", action="store_true", help="re-measure even if the result file exists")
    parser.add_argument(
        "--method-module",
        nargs="+",
        default=[],
        help="modules registering methods of yours (a config's method_module), imported before --methods",
    )
    args = parser.parse_args(argv)
    p = dict(PROFILES[args.profile], random_init=args.random_init)
    if args.method_module:
        p["method_modules"] = args.method_module
    try:
        known(args.method_module, args.methods or [])
    except (ConfigError, KeyError) as err:
        print(f"config error: {str(err).strip(chr(34))}", file=sys.stderr)
        return 2
    device = bench_device()
    out = RESULTS / "bench" / f"{args.profile}-{device}.json"
    if out.exists() and not args.force:
        print(f"{out} exists; `make bench FORCE=1` (or --force) re-measures it")
        return 0
    rows = []
    for method in args.methods or (ATLAS_METHODS if args.profile == "atlas" else METHODS):
        rows.append(bench_method(method, p, device))
        print_row(method, rows[-1])
    add_ratios(rows)
    atomic_write_json(
        out,
        {
            "rows": rows,
            "setting": p,
            "device": device,
            "manifest": manifest({"bench_profile": args.profile, **p}, 0),
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
