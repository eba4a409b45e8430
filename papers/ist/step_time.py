"""Step times behind the budget of IST's default profile (papers/ist/README.md "Scale"), measured in one process.

SmolLM2-135M with the settings of papers/ist/configs/compare_math.yaml (LoRA r 16 / α 32 on q,k,v,up,down,
dropout 0.05) on real math training batches: a LoRA step, an IST step (a quarter of the layers' adapters,
re-drawn every step as in a run), a LISA step (γ = 2 + embeddings + head), one IST score update (3 probe forwards
on `probe_batch` examples) and the evaluation pieces (a validation-loss forward, one multiple-choice question), at
each batch size in `BATCHES`. The operations are interleaved round by round, so a change in the machine's load
hits them alike; the file records the load average before and after and the torch threads. On a shared machine
the absolute times are inflated; the README's budget scales the measured ratios by the committed runs' unloaded
step time.

    python -m papers.ist.step_time [--profile cpu] [--force]   # -> data/results/ist/step_time/<profile>.json
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from core.training.callbacks import ISTCallback, LisaCallback
from core.training.checks import run_config

PROFILES = {
    "cpu": dict(model="smollm2-135m", batches=(2, 4), probe_batches=(8, 16), rounds=4, threads=1),
    "tiny": dict(model="tiny-llama", batches=(2,), probe_batches=(4,), rounds=2, threads=0),
}
LORA = {"r": 16, "alpha": 32, "dropout": 0.05, "targets": "q_proj,k_proj,v_proj,up_proj,down_proj"}


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _train_step(model, opt, batch):
    def step():
        model.train()
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def arms(model_name: str, batches: dict, probe_batches: dict):
    """name -> zero-argument operation, each on its own model copy (LoRA, IST, LISA)."""
    from core.sources.models import load_model
    from core.sources.prompts import choice_accuracy
    from core.training.finetune import apply_lora

    cfg = run_config({"model": model_name, "method": "lora", "lora": LORA, "task": "math"})
    ops = {}
    lora, tok = load_model(model_name)
    lora = apply_lora(lora, cfg)
    lora_opt = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-4)
    ist = apply_lora(load_model(model_name)[0], cfg)
    ist_opt = torch.optim.AdamW([p for p in ist.parameters() if p.requires_grad], lr=1e-4)
    lisa = load_model(model_name)[0]
    lisa_opt = torch.optim.AdamW(lisa.parameters(), lr=1e-5)
    for m in (lora, ist, lisa):
        m.config.use_cache = False
    cbs, step = {}, {"n": 0}  # one step counter: every switch re-draws, as a run does each step
    for b, batch in batches.items():
        cb = ISTCallback(interval=10, seed=0).attach(ist, ist_opt)
        cbs[b] = cb
        lcb = LisaCallback(gamma=2, interval=1, seed=0).attach(lisa, lisa_opt)

        def ist_step(cb=cb, batch=batch, step=step):
            step["n"] += 1
            cb.switch(step["n"])
            _train_step(ist, ist_opt, batch)()

        def lisa_step(lcb=lcb, batch=batch, step=step):
            step["n"] += 1
            lcb.switch(step["n"])
            _train_step(lisa, lisa_opt, batch)()

        def eval_forward(batch=batch):
            with torch.no_grad():
                lora.eval()
                lora(**batch)

        ops[f"lora_step_b{b}"] = _train_step(lora, lora_opt, batch)
        ops[f"ist_step_b{b}"] = ist_step
        ops[f"lisa_step_b{b}"] = lisa_step
        ops[f"eval_forward_b{b}"] = eval_forward
    cb = next(iter(cbs.values()))
    for size, probe in probe_batches.items():

        def score_update(probe=probe):
            cb.probe_batch = lambda _sampler: probe
            cb.probe(ist)

        ops[f"ist_probe_pb{size}"] = score_update
    from core.sources.data import load_task

    questions = load_task("math", "validation", 4)
    ops["mc_question"] = lambda: choice_accuracy(lora, tok, questions.select([0]), 64)
    return ops


def math_batches(model_name: str, sizes) -> dict:
    from transformers import DataCollatorForSeq2Seq

    from core.sources.data import load_task
    from core.sources.models import load_model
    from core.sources.prompts import tokenize_dataset

    tok = load_model(model_name)[1]
    data = tokenize_dataset(load_task("math", "train", 64), tok, 64)
    collate = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    return {n: collate([data[i] for i in range(n)]) for n in sizes}


def measure(profile: str) -> dict:
    p = PROFILES[profile]
    if p["threads"]:
        torch.set_num_threads(p["threads"])
    torch.manual_seed(0)
    batches = math_batches(p["model"], p["batches"])
    probes = math_batches(p["model"], p["probe_batches"])
    ops = arms(p["model"], batches, probes)
    load_before = os.getloadavg()
    for fn in ops.values():  # warm-up: allocates optimizer state
        fn()
    times = {name: [] for name in ops}
    for _ in range(p["rounds"]):
        for name, fn in ops.items():
            times[name].append(timed(fn))
            print(f"{name:20s} {times[name][-1]:7.2f} s  load {os.getloadavg()[0]:.1f}", flush=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    ratios = {
        f"{name}/lora_step_b{b}": med[name] / med[f"lora_step_b{b}"]
        for b in p["batches"]
        for name in med
        if name.endswith(f"_b{b}")
    }
    ratios.update(
        {
            f"ist_probe_pb{s}/lora_step_b{b}": med[f"ist_probe_pb{s}"] / med[f"lora_step_b{b}"]
            for s in p["probe_batches"]
            for b in p["batches"]
        }
    )
    ratios.update(
        {f"mc_question/lora_step_b{b}": med["mc_question"] / med[f"lora_step_b{b}"] for b in p["batches"]}
    )
    return {
        "profile": profile,
        "setting": {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
        "lora": LORA,
        "median_s": med,
        "all_s": times,
        "ratios": ratios,
        "seq_len": {str(b): int(batch["input_ids"].shape[1]) for b, batch in batches.items()},
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
        "torch_threads": torch.get_num_threads(),
    }


def step_time_study(profile: str, args=None) -> dict:
    from core.infra.provenance import manifest

    return {**measure(profile), "manifest": manifest({"study": "ist_step_time", "profile": profile})}


def main(argv=None) -> int:
    from core.infra.study import Study
    from core.infra.study import main as study_main

    return study_main(Study("ist", "step_time", PROFILES, step_time_study), __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
