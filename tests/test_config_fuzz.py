"""Hostile inputs to `python -m core.running.experiment`: every bad config, override or argument is one clear error.

Each case asserts: a non-zero exit (2), no traceback (an exception escaping `main` fails the test), a message
naming the offending key, and nothing created under the results root.
"""

import pytest
import yaml

import core.running.experiment as experiment

GOOD = {
    "paper": "fuzz",
    "experiment": "e",
    "base": {
        "model": "tiny-llama",
        "task": "instruct",
        "max_steps": 1,
        "batch_size": 2,
        "max_length": 32,
        "eval_examples": 2,
        "train_examples": 4,
    },
    "profiles": {"cpu": {}},
    "runs": [{"name": "a", "method": "lisa"}],
    "seeds": [0],
}

# override -> text the message must contain (the key)
OVERRIDES = {
    "lora.r=0": "lora.r",
    "lora.r=-1": "lora.r",
    "lora.alpha=0": "lora.alpha",
    "lora.dropout=1.5": "lora.dropout",
    "lora.targets=q proj": "lora.targets",
    "warmup_steps=-1": "warmup_steps",
    "lr_scheduler=cosinus": "lr_scheduler",
    "model=banana": "model",
    "model=../x": "model",
    "model=no-such-model-xyz": "model",
    "task=nosuch": "task",
    "method=lisaa": "method",
    "lisa.gamma=99": "lisa.gamma",
    "lisa.gamma=-1": "lisa.gamma",
    "lisa.interval=0": "lisa.interval",
    "train_examples=-1": "train_examples",
    "eval_examples=-1": "eval_examples",
    "lr=nan": "lr",
    "lr=inf": "lr",
    "lr=-1": "lr",
    "lr=0": "lr",
    "lr=abc": "lr",
    "zo.eps=nan": "zo.eps",
    "zo.eps=0": "zo.eps",
    "zo.sparsity=1": "zo.sparsity",
    "zo.mask=largest": "zo.mask",
    "dtype=banana": "dtype",
    "weight_decay=-0.1": "weight_decay",
    "max_grad_norm=-1": "max_grad_norm",
    "save_every=-1": "save_every",
    "eval_every=-1": "eval_every",
    "misa.beta=5": "misa.beta",
    "misa.budget=0": "misa.budget",
    "misa.budget=2": "misa.budget",
    "misa.interval=0": "misa.interval",
    "ist.n_probes=0": "ist.n_probes",
    "ist.update_frac=0": "ist.update_frac",
    "ist.suppression=2": "ist.suppression",
    "galore.rank=0": "galore.rank",
    "galore.update_proj_gap=0": "galore.update_proj_gap",
    "galore.scale=nan": "galore.scale",
    "seed=abc": "seed",
    "seed=-1": "seed",
    "seed=1.5": "seed",
    "name=../../../../x": "name",
    "name=a/b": "name",
    "name=.hidden": "name",
    "name=": "name",
    "paper=../x": "paper",
    "experiment=a/b": "experiment",
    "max_steps=0": "max_steps",
    "max_steps=1.5": "max_steps",
    "batch_size=0": "batch_size",
    "grad_accum=0": "grad_accum",
    "max_length=0": "max_length",
    "probe_every=-1": "probe_every",
    "probe_examples=0": "probe_examples",
    "lm_eval_limit=-1": "lm_eval_limit",
    "lm_eval_tasks=nosuch": "lm_eval_tasks",
    "badam.switch_mode=up": "badam.switch_mode",
    "badam.interval=0": "badam.interval",
    "log_weight_norms=maybe": "log_weight_norms",
    "divergence.patience=0": "divergence.patience",
    "divergence.loss_factor=nan": "divergence.loss_factor",
    "learning_rate=1e-4": "learning_rate",
    "lisa.gama=2": "lisa.gama",
    "lisa=3": "lisa",
    "gamma": "gamma",
    "=5": "=5",
    "method=mezo|grad_accum=2": "grad_accum",
    "model=tiny-bert|method=lisa": "method",
    "model=tiny-bert|method=full|task=instruct": "task",
}

# experiment file (text, or a function of the good spec) -> text the message must contain
FILES = {
    "malformed": ("base: {max_steps: 1\n", "malformed YAML"),
    "not utf-8": (b"paper: fuzz\nexperiment: \xff\xfe\n", "UTF-8"),
    "top-level list": ("- a\n- b\n", "top level must be a mapping"),
    "runs string": (lambda s: {**s, "runs": "abc"}, "'runs'"),
    "runs empty": (lambda s: {**s, "runs": []}, "'runs'"),
    "runs of scalars": (lambda s: {**s, "runs": [3]}, "'runs'"),
    "base scalar": (lambda s: {**s, "base": 3}, "'base'"),
    "profiles list": (lambda s: {**s, "profiles": ["cpu"]}, "'profiles'"),
    "profile scalar": (lambda s: {**s, "profiles": {"cpu": 3}}, "profile 'cpu'"),
    "no cpu profile": (lambda s: {**s, "profiles": {"paper": {}}}, "no profile 'cpu'"),
    "empty file": ("", "no profile 'cpu'"),
    "seeds empty": (lambda s: {**s, "seeds": []}, "'seeds'"),
    "seeds scalar": (lambda s: {**s, "seeds": 3}, "'seeds'"),
    "seeds not int": (lambda s: {**s, "seeds": ["abc"]}, "seed"),
    "seeds negative": (lambda s: {**s, "seeds": [-1]}, "seed"),
    "run seeds empty": (lambda s: {**s, "runs": [{"name": "a", "seeds": []}]}, "'seeds'"),
    "unknown top key": (lambda s: {**s, "bse": {}}, "unknown top-level key 'bse'"),
    "unknown run key": (lambda s: {**s, "runs": [{"name": "a", "lrr": 1}]}, "lrr"),
    "run nan lr": (lambda s: {**s, "runs": [{"name": "a", "lr": float("nan")}]}, "lr"),
    "shared name": (lambda s: {**s, "runs": [{"name": "a"}, {"name": "a", "lr": 0.1}]}, "share a name"),
    "duplicate key": ("paper: fuzz\nprofiles: {cpu: {}}\nprofiles: {cpu: {}}\n", "'profiles' appears twice"),
    "duplicate nested key": ("profiles: {cpu: {}}\nbase: {lr: 0.1, lr: 0.2}\n", "'lr' appears twice"),
    "profile sets bad runs": (lambda s: {**s, "profiles": {"cpu": {"runs": "x"}}}, "'runs'"),
}

ARGS = {  # command-line arguments after the experiment file -> text the message must contain
    "jobs 0": (["--jobs", "0"], "--jobs"),
    "jobs -1": (["--jobs=-1"], "--jobs"),
    "jobs abc": (["--jobs", "abc"], "--jobs"),
    "only nosuch": (["--only", "nosuch"], "--only nosuch"),
    "run nosuch": (["--run", "nosuch"], "--run nosuch"),
    "profile gpu": (["--profile", "gpu"], "no profile 'gpu'"),
}


def run_main(argv, capsys):
    try:
        code = experiment.main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def results(tmp_path, monkeypatch):
    root = tmp_path / "results"
    monkeypatch.setattr(experiment, "RESULTS", root)
    return root


def write(tmp_path, content) -> str:
    path = tmp_path / "exp.yaml"
    if callable(content):
        content = yaml.safe_dump(content(dict(GOOD)))
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def assert_refused(code, text, key, results):
    assert code == 2, text
    assert "Traceback" not in text and key in text, text
    assert len([line for line in text.splitlines() if "error" in line]) == 1, text  # one message
    assert not results.exists()


def test_the_table_is_large():
    assert len(OVERRIDES) + len(FILES) + len(ARGS) + 3 >= 60


@pytest.mark.parametrize("override", list(OVERRIDES))
def test_bad_override_is_one_clear_error(override, tmp_path, results, capsys):
    cfg = write(tmp_path, lambda s: s)
    pairs = override.split("|")
    code, text = run_main(
        [*pairs[:1], cfg, "--profile", "cpu", *pairs[1:]], capsys
    )  # overrides on both sides
    assert_refused(code, text, OVERRIDES[override], results)


@pytest.mark.parametrize("case", list(FILES))
def test_bad_experiment_file_is_one_clear_error(case, tmp_path, results, capsys):
    content, key = FILES[case]
    code, text = run_main([write(tmp_path, content)], capsys)
    assert_refused(code, text, key, results)


@pytest.mark.parametrize("case", list(ARGS))
def test_bad_argument_is_one_clear_error(case, tmp_path, results, capsys):
    args, key = ARGS[case]
    code, text = run_main([write(tmp_path, lambda s: s), *args], capsys)
    assert_refused(code, text, key, results)


def test_empty_selections_are_errors(tmp_path, results, capsys):
    (tmp_path / "empty").mkdir()
    assert_refused(*run_main([str(tmp_path / "empty")], capsys), "no *.yaml", results)
    assert_refused(*run_main([str(tmp_path / "nosuch.yaml")], capsys), "does not exist", results)
    write(tmp_path, lambda s: s)
    assert_refused(*run_main([str(tmp_path), "--only", "ex"], capsys), "--only ex", results)


def test_overrides_win_over_runs_and_seeds_in_any_order(tmp_path, results, monkeypatch, capsys):
    """The README's form (overrides after --profile) and overrides first both give the overridden runs."""
    planned = []
    monkeypatch.setattr(experiment, "run_serial", lambda runs, profile: planned.append(runs) or 0)
    cfg = write(
        tmp_path,
        lambda s: {
            **s,
            "runs": [{"name": "a", "method": "full", "lr": 0.1}, {"name": "b", "method": "lisa", "lr": 0.2}],
            "seeds": [0, 1],
        },
    )
    assert experiment.main([cfg, "--profile", "cpu", "lisa.gamma=1", "name=g4", "lr=5e-4", "seed=7"]) == 0
    assert experiment.main(["lr=5e-4", "seed=7", cfg, "lisa.gamma=1", "name=g4"]) == 0
    for runs in planned:
        assert [(c.name, c.method, c.lr, c.seed, c.lisa.gamma) for c, _ in runs] == [
            ("g4-a", "full", 5e-4, 7, 1),
            ("g4-b", "lisa", 5e-4, 7, 1),
        ]
        assert [d.name for _, d in runs] == ["g4-a-s7", "g4-b-s7"]
    assert not results.exists()
    assert experiment.main([cfg, "--run", "b", "name=g4"]) == 0  # one selected run: the name as given
    assert [(c.name, c.method, c.seed) for c, _ in planned[-1]] == [("g4", "lisa", 0), ("g4", "lisa", 1)]
