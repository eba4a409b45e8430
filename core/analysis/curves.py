"""Training-curve helpers for figures: a trailing moving average and the per-step t band over seeds."""

from __future__ import annotations

import numpy as np

from core.analysis.stats import t_interval


def curve_band(curves, confidence: float = 0.95) -> dict:
    """Per-step mean and seed-level t interval over runs; `curves` is runs x steps (equal lengths)."""
    arr = np.asarray(curves, dtype=float)
    ivs = [t_interval(arr[:, j], confidence) for j in range(arr.shape[1])]
    return {
        k: np.array([getattr(iv, a) for iv in ivs])
        for k, a in [("mean", "estimate"), ("lo", "lo"), ("hi", "hi")]
    }


def smooth(values, window: int = 5) -> np.ndarray:
    """Trailing moving average (the first points average what is available)."""
    x = np.asarray(values, dtype=float)
    c = np.cumsum(np.insert(x, 0, 0.0))
    out = np.empty_like(x)
    for i in range(x.size):
        lo = max(0, i + 1 - window)
        out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
    return out
