"""--device cuda: XGBoost on the GPU where usable, else a warning and the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from candor.config import Config
from candor.errors import ConfigError
from candor.training import device as dev
from candor.training.runconfig import derive_run_config


def test_cpu_stays_cpu_without_probing(monkeypatch):
    monkeypatch.setattr(dev, "cuda_usable", lambda: pytest.fail("cpu must not probe"))
    assert dev.resolve_device("cpu") == dev.DeviceChoice("cpu", "cpu")


def test_unknown_device_names_the_choices():
    with pytest.raises(ConfigError, match=r"`device` must be one of cpu, cuda. Got 'tpu'"):
        dev.resolve_device("tpu")


def test_cuda_without_cuda_build_warns_and_falls_back(monkeypatch):
    monkeypatch.setattr(dev, "xgboost_has_cuda", lambda: False)
    with pytest.warns(RuntimeWarning, match="no CUDA support.*training on the CPU"):
        choice = dev.resolve_device("cuda")
    assert choice.fell_back and choice.used == "cpu" and "candor[gpu]" in choice.reason
    config = derive_run_config(Config(device="cuda"), "S", "d1", device=choice).config
    assert config.device == "cpu" and "xgb" not in config.models.params


def test_cuda_probe_failure_falls_back(monkeypatch):
    """A CUDA build on a machine without a usable GPU: the tiny fit fails, the reason is kept."""
    import xgboost

    def no_gpu(self, *args, **kwargs):
        raise xgboost.core.XGBoostError("[12:00:00] No visible GPU is found for XGBoost.")

    monkeypatch.setattr(dev, "xgboost_has_cuda", lambda: True)
    monkeypatch.setattr(xgboost.XGBClassifier, "fit", no_gpu)
    ok, reason = dev.cuda_usable()
    assert not ok and reason.startswith("no usable CUDA device") and "No visible GPU" in reason
    with pytest.warns(RuntimeWarning, match="No visible GPU"):
        assert dev.resolve_device("cuda").used == "cpu"


def test_cuda_used_sets_xgb_device(monkeypatch):
    monkeypatch.setattr(dev, "cuda_usable", lambda: (True, ""))
    choice = dev.resolve_device("cuda")
    config = derive_run_config(Config(device="cuda"), "S", "d1", device=choice).config
    assert choice.used == "cuda" and config.device == "cuda" and config.models.params["xgb"]["device"] == "cuda"


def _gpu_usable() -> bool:
    return dev.cuda_usable()[0]


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_usable(), reason="no usable CUDA device / CUDA-enabled xgboost")
def test_xgboost_trains_on_the_gpu():
    from xgboost import XGBClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2000, 10)), rng.integers(0, 2, 2000)
    model = XGBClassifier(n_estimators=10, device="cuda").fit(X, y)
    assert '"device": "cuda' in model.get_booster().save_config().replace(":\"cuda", ": \"cuda") or \
        model.get_xgb_params()["device"] == "cuda"
    assert dev.resolve_device("cuda").used == "cuda"
