"""One training run in this process, as every caller runs it (`core.running.experiment`, the lr probes of
`core.running.lr_probe`): `core.training.finetune.train` skips a finished run, resumes an unfinished one and refuses to
overwrite; errors about the input come back as one line. Also the experiment files a command-line target names.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from core.infra.io import CorruptFileError, RunExistsError
from core.training.config import ConfigError


def experiment_files(target: str) -> list[Path]:
    path = Path(target)
    if path.is_dir():
        files = sorted(path.glob("*.yaml"))
        if not files:
            raise ConfigError(f"{path} holds no *.yaml experiment file")
        return files
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; pass an experiment YAML or a folder of them")
    return [path]


def run_one(cfg, out: Path, profile: str) -> dict:
    """Train one run in this process; errors come back as ``{"error": ...}`` (a RunExistsError or CorruptFileError is
    re-raised). Errors about the input (model, data) are one line; anything else also prints its traceback."""
    from core.sources.data import DataError
    from core.sources.models import ModelNotFoundError
    from core.training.finetune import train  # heavy import after the config is known to be valid

    try:
        return train(cfg, out, profile)
    except (RunExistsError, CorruptFileError):
        raise
    except (ConfigError, DataError, ModelNotFoundError) as err:
        return {"error": f"{type(err).__name__}: {err}"}
    except Exception as err:  # noqa: BLE001 - reported per run; the other runs go on
        traceback.print_exc()
        return {"error": f"{type(err).__name__}: {err}"}
