"""The one derivation of the config a single training runs with, and the record of why.

A user's :class:`~candor.config.Config` is frozen; one training still needs a few settings that
depend on where and what it runs: the label horizon a forecast job asks for, the threads a
universe worker may use, the device that is really usable, the study name of a series, and
parameters an earlier ``--optimize`` saved for the series. Every such change is made here, in one
function, and returned as a :class:`DerivedSetting` (field, value, source) that the report and the
manifest carry — so the same ``candor.toml`` and bars can never silently give a different model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from candor.config import Config, _merge
from candor.training.device import DeviceChoice, resolve_device
from candor.training.reuse import ReusedTuning, TuningReuseError
from candor.training.tuning import best_params_path, load_best_params_document

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DerivedSetting:
    """One config field a run set for itself: the dotted ``field``, its ``value``, and why."""

    field: str
    value: Any
    source: str


@dataclass(frozen=True)
class RunConfig:
    """The config one training uses and every setting derived for it."""

    config: Config
    derived: tuple[DerivedSetting, ...] = field(default_factory=tuple)
    device: DeviceChoice | None = None
    #: Provenance of reused tuned parameters: the training checks it against its out-of-sample
    #: rows (refusing an overlap) and adds its trials to the Deflated Sharpe's count.
    reused: ReusedTuning | None = None

    def derived_dicts(self) -> list[dict[str, Any]]:
        return [asdict(d) for d in self.derived]


def _nested(path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def derive_run_config(config: Config, symbol: str, timeframe: str, *, horizon: int | None = None,
                      horizon_source: str = "requested horizon", threads: int | None = None,
                      device: DeviceChoice | None = None, data: Sequence[DerivedSetting] = (),
                      saved_refused: str | None = None) -> RunConfig:
    """The config one series trains with (see the module docstring), re-validated as a whole.

    ``threads`` (universe worker processes) pins model threads and runs outer folds serially.
    ``device`` is a probe already made by the caller; without it ``cuda`` is probed here.
    ``data`` are settings on the bars the run reads rather than on the config (``data.period``,
    the ``--period`` window): recorded first among the derived settings, never merged.
    ``saved_refused``: why saved tuned parameters must not be used by this run (they overlap its
    out-of-sample rows, found once its rows were planned): the configured parameters train.
    """
    settings: list[DerivedSetting] = []
    if horizon is not None and int(horizon) != config.labels.horizon:
        settings.append(DerivedSetting("labels.horizon", int(horizon), horizon_source))
    if threads is not None:
        why = f"universe worker process: {threads} thread(s) per process, folds serial"
        settings += [DerivedSetting("models.n_jobs", int(threads), why), DerivedSetting("models.fold_jobs", 1, why)]
    tuned, reused = _tuning_settings(config, symbol, timeframe, saved_refused)
    settings += tuned
    choice = device if device is not None else resolve_device(config.device)
    if choice.fell_back:
        settings.append(DerivedSetting("device", choice.used, f"cuda requested but {choice.reason}"))
    if choice.used == "cuda":
        xgb = {**config.models.params.get("xgb", {}), "device": "cuda"}
        settings.append(DerivedSetting("models.params.xgb", xgb, "xgboost members train on the usable CUDA device"))
    layers = config.model_dump()
    for setting in settings:
        layers = _merge(layers, _nested(setting.field, setting.value))
    layers["api"] = config.api  # excluded from dumps (it holds the token), kept by the run
    return RunConfig(Config.model_validate(layers), (*data, *settings), choice, reused)


def _tuning_settings(config: Config, symbol: str, timeframe: str,
                     refused: str | None = None) -> tuple[list[DerivedSetting], ReusedTuning | None]:
    """A study name per series when tuning; else the parameters an earlier ``--optimize`` saved.

    Saved parameters come with their provenance (:mod:`candor.training.reuse`), which the
    training checks against its out-of-sample rows. ``tune.reuse_saved = "never"``
    (``--ignore-saved-params``) leaves them unused; so does ``"auto"`` where they cannot be used
    (no provenance here; ``refused``: an overlap found by the caller), with one warning line —
    both said in a DerivedSetting. ``"require"`` (``--reuse-params``) raises instead. Parameters
    set explicitly in the config win over saved ones.
    """
    if config.tune.enabled:
        if config.tune.study_name is not None:
            return [], None
        return [DerivedSetting("tune.study_name", f"candor.{symbol}.{timeframe}", "default study name of the series")], None
    saved = load_best_params_document(config.home, symbol, timeframe)
    if saved is None:
        return [], None
    path = str(best_params_path(config.home, symbol, timeframe))
    mode = {True: "auto", False: "never"}.get(config.tune.reuse_saved, config.tune.reuse_saved)  # type: ignore[call-overload]
    not_reusing = (f"NOT reusing the best parameters an earlier --optimize saved ({path}, "
                   f"{saved.get('created_at', '?')}, {saved.get('n_trials', '?')} trials)")
    if mode == "never":
        why = f"{not_reusing}: tune.reuse_saved is never (--ignore-saved-params); the configured parameters train"
        return [DerivedSetting("tune.reuse_saved", "never", why)], None
    names = [name for name in sorted(saved["params"]) if name in config.models.models]
    if not names:
        return [], None
    try:
        reused = ReusedTuning.from_document(saved, path)
    except TuningReuseError:
        if mode == "require":
            raise
        refused = "saved by an older candor without the rows they were tuned on, so they cannot be checked"
    if refused is not None:
        why = (f"{not_reusing}: they were {refused}; the configured parameters train "
               "(--reuse-params refuses instead, --optimize re-tunes)")
        log.warning("%s", why)
        return [DerivedSetting("tune.reuse_saved", "never", why)], None
    explicit = config.models.params
    return [DerivedSetting(f"models.params.{name}", {**saved["params"][name], **explicit.get(name, {})},
                           reused.describe()) for name in names], reused
