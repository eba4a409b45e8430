"""Shared fixtures: tiny models, isolated results folders, quiet logs."""
import os
import warnings

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")


@pytest.fixture
def tiny_cfg():
    """A RunConfig for a few fast steps on the tiny Llama."""
    from core.config import RunConfig, build
    def make(**over):
        base = dict(paper="test", experiment="unit", model="tiny-llama", task="instruct", max_steps=6,
                    batch_size=2, max_length=48, eval_examples=8, train_examples=64, lr=1e-3)
        base.update(over)
        return build(RunConfig, base)
    return make
