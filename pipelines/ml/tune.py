"""Tune: an Optuna study over the model's parameters, scored on a validation split carved from train only.

The held-out test rows never influence tuning (they judge the result in the gate). The study lives in a
database: SQLite in <work>/tuning/ by default; `[tuning] storage = "postgresql://…"` lets several workers
(Kubernetes Job pods, CI shards) add trials to one study, each running `mlrig tune`. Runs are bounded by
trial count and wall time. `mlrig train --tuned` trains with the study's best parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna

from pipelines.config import Config
from pipelines.data.features import LABEL
from pipelines.lake import Lake
from pipelines.ml.model import build_model, fit_model
from pipelines.ml.train import load_split, split_by_entity
from pipelines.tasks import task_of


class TuningError(ValueError):
    """The study cannot give parameters (none finished yet, storage unreachable); the message says what to do."""


@dataclass(frozen=True)
class TuneResult:
    study: str
    storage: str
    trials_run: int
    trials_total: int
    best_value: float
    best_params: dict
    metric: str = "roc_auc"  # what best_value measures, on validation rows


def storage_url(config: Config) -> str:
    if config.tuning.storage:
        return config.tuning.storage
    folder = config.work_dir / "tuning"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'optuna.db'}"


def study_name(config: Config) -> str:
    """Named after the model and contract: a contract change starts a fresh study instead of mixing trials."""
    return config.tuning.study or f"{config.model.name}-{config.contract.fingerprint}"


def suggest(trial: optuna.Trial, space: dict[str, tuple[int | float, int | float]]) -> dict:
    """Integer bounds give integer parameters; float ranges spanning ≥ 10× are searched on a log scale."""
    params = {}
    for name, (low, high) in space.items():
        if isinstance(low, int) and isinstance(high, int):
            params[name] = trial.suggest_int(name, low, high)
        else:
            params[name] = trial.suggest_float(name, low, high, log=low > 0 and high / low >= 10)
    return params


def tune(lake: Lake, config: Config, n_trials: int | None = None, timeout_s: float | None = None) -> TuneResult:
    """Add up to `n_trials` trials (default: tuning.n_trials) to the shared study, within `timeout_s`."""
    if not config.tuning.search_space:
        raise TuningError("tuning.search_space is empty: name the parameters to search, e.g. num_leaves = [8, 128].")
    split = load_split(lake, config)
    contract = config.contract
    train_part = split.frame.iloc[split.train_idx].reset_index(drop=True)
    fit_idx, valid_idx = split_by_entity(train_part, contract.entity_key, 0.25, config.model.seed)
    x, y = train_part[contract.feature_names], train_part[LABEL]
    task = task_of(config)
    metric = task.tune_metric  # ROC AUC for a classifier, RMSE for a regressor: the task says which way is better

    def objective(trial: optuna.Trial) -> float:
        model = build_model(contract, config.model, **suggest(trial, config.tuning.search_space))
        model = fit_model(model, x.iloc[fit_idx], y.iloc[fit_idx], contract)
        scores = task.predict(model, x.iloc[valid_idx])
        return float(task.evaluate(y.iloc[valid_idx].to_numpy(), scores, None, None)["metrics"][metric])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage_url(config)
    study = optuna.create_study(
        study_name=study_name(config),
        storage=storage,
        direction="maximize" if task.metrics[metric] == "higher" else "minimize",
        load_if_exists=True,  # other workers may have made it already
        sampler=optuna.samplers.TPESampler(seed=config.model.seed),
    )
    before = len(study.trials)
    study.optimize(
        objective,
        n_trials=n_trials or config.tuning.n_trials,
        timeout=timeout_s or config.tuning.timeout_s,
        gc_after_trial=False,
    )
    return TuneResult(
        study.study_name,
        storage,
        len(study.trials) - before,
        len(study.trials),
        float(study.best_value),
        dict(study.best_params),
        metric,
    )


def best_params(config: Config) -> dict:
    """The best parameters found so far in this project's study, for `mlrig train --tuned`."""
    try:
        study = optuna.load_study(study_name=study_name(config), storage=storage_url(config))
        return dict(study.best_params)
    except (KeyError, ValueError) as err:  # no such study / no finished trial yet
        raise TuningError(
            f"no finished trial in study {study_name(config)!r} at {storage_url(config)}: run `mlrig tune` first."
        ) from err
