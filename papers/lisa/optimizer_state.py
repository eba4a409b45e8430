"""Optimizer-state study: memory over 50 layer switches, our LisaCallback vs the reference behaviour.

The reference LISA callback (LMFlow `DynamicLayerActivationCallback`, papers/lisa/REFERENCE.md §2) only
toggles `requires_grad`; AdamW state of every layer ever visited stays in memory (LMFlow #768, #778).
`ReferenceStyleLisa` reproduces exactly that for comparison; it is not offered as a method.

    python -m papers.lisa.optimizer_state [--profile cpu]
"""

from __future__ import annotations

import torch

from core.costs.memory import MB, measure_peak, tensor_bytes
from core.infra.provenance import manifest
from core.infra.study import Study
from core.infra.study import main as study_main
from core.sources.models import load_model
from core.training.callbacks import LisaCallback
from core.training.optimizers import optimizer_state_bytes
from core.training.run import seed_everything

PROFILES = {
    "cpu": dict(model="smollm2-135m", switches=50, gamma=1, batch=1, seq=32, measure_every=10),
    "cpu20": dict(model="smollm2-135m", switches=50, gamma=1, batch=1, seq=32, measure_every=10),
    "quick": dict(model="smollm2-135m", switches=10, gamma=1, batch=1, seq=32, measure_every=5),
    "gpu": dict(model="smollm2-135m", switches=50, gamma=1, batch=1, seq=32, measure_every=10),
    "tiny": dict(model="tiny-llama", switches=50, gamma=1, batch=2, seq=16, measure_every=10),
    "paper": dict(model="meta-llama/Llama-2-7b-hf", switches=50, gamma=2, batch=1, seq=1024, measure_every=5),
}


class ReferenceStyleLisa(LisaCallback):
    """Switches like LMFlow: requires_grad toggled, gradients dropped, optimizer state never freed."""

    def apply(self, names):
        for name, params in self.blocks.items():
            for p in params:
                p.requires_grad_(name in names)
                if name not in names:
                    p.grad = None
        self.active = list(names)


def switch_trace(callback_cls, p: dict, device: str = "cpu") -> list[dict]:
    """One optimizer step per switch (K = 1); optimizer-state bytes every step, measured peak sometimes."""
    seed_everything(0)
    model, _ = load_model(p["model"])
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    cb = callback_cls(gamma=p["gamma"], interval=1, seed=0).attach(model, opt)
    ids = torch.randint(0, model.config.vocab_size, (p["batch"], p["seq"]), device=device)

    def step():
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    rows = []
    for k in range(p["switches"]):
        cb.switch(k)
        row = {"switch": k, "active": cb.active}
        if k % p["measure_every"] == 0 or k == p["switches"] - 1:
            state = [t for s in opt.state.values() for t in s.values() if torch.is_tensor(t) and t.dim()]
            before = tensor_bytes(list(model.parameters()) + state)
            row["peak_mb"] = (before + measure_peak(step, device)["peak_bytes"]) / MB
        else:
            step()
        row["optimizer_state_mb"] = optimizer_state_bytes(opt) / MB
        rows.append(row)
    return rows


def optimizer_state_study(profile: str, args=None) -> dict:
    p = PROFILES[profile]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = {
        "ours": switch_trace(LisaCallback, p, device),
        "reference": switch_trace(ReferenceStyleLisa, p, device),
        "setting": p,
        "device": device,
        "manifest": manifest({"study": "optimizer_state", **p}, 0),
    }
    last = {k: result[k][-1] for k in ("ours", "reference")}
    print(
        f"after {p['switches']} switches: optimizer state ours {last['ours']['optimizer_state_mb']:.1f} MB, "
        f"reference {last['reference']['optimizer_state_mb']:.1f} MB"
    )
    return result


STUDY = Study("lisa", "optimizer_state", PROFILES, optimizer_state_study)


def main(argv=None) -> int:
    return study_main(STUDY, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
