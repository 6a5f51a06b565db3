"""Where XGBoost trains: ``cuda`` when a CUDA device is really usable, else CPU with a warning.

Why a probe and not a flag check: the default install is ``xgboost-cpu`` (no CUDA in the
build), and even a CUDA build fails on a machine without a driver or a free GPU. Asking the
build (``xgboost.build_info()``) and then fitting one tiny model on the device answers both in
well under a second, before hours of training are committed to a device that cannot work.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from candor.errors import ConfigError

DEVICES = ("cpu", "cuda")
GPU_INSTALL_HINT = "pip install 'candor[gpu]' (the full `xgboost` wheel) on a machine with an NVIDIA GPU"


@dataclass(frozen=True)
class DeviceChoice:
    """What was asked for, what will be used, and why they differ (empty when they do not)."""

    requested: str
    used: str
    reason: str = ""

    @property
    def fell_back(self) -> bool:
        return self.requested != self.used


def xgboost_has_cuda() -> bool:
    """True when the installed XGBoost was built with CUDA (``xgboost-cpu`` never is)."""
    import xgboost  # lazy: ~1 s of imports (scikit-learn included) that a CPU run never needs here

    return bool(xgboost.build_info().get("USE_CUDA", False))


def cuda_usable() -> tuple[bool, str]:
    """(usable, reason): the build has CUDA and a 4-row model fits on ``device="cuda"``."""
    if not xgboost_has_cuda():
        return False, f"the installed xgboost has no CUDA support (xgboost-cpu); {GPU_INSTALL_HINT}"
    import numpy as np
    from xgboost import XGBClassifier

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # XGBoost *warns* and silently uses the CPU on a bad device
            XGBClassifier(n_estimators=1, device="cuda", verbosity=0).fit(
                np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.5], [1.0, 0.5]]), np.array([0, 1, 0, 1]))
    except Exception as exc:  # noqa: BLE001 - XGBoostError, driver errors, device warnings alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return False, f"no usable CUDA device ({first[:160]})"
    return True, ""


def resolve_device(requested: str) -> DeviceChoice:
    """``cpu`` stays ``cpu``; ``cuda`` becomes ``cuda`` only if :func:`cuda_usable`, else warns."""
    if requested not in DEVICES:
        raise ConfigError(f"`device` must be one of {', '.join(DEVICES)}. Got {requested!r}.")
    if requested == "cpu":
        return DeviceChoice("cpu", "cpu")
    ok, reason = cuda_usable()
    if ok:
        return DeviceChoice("cuda", "cuda")
    warnings.warn(f"--device cuda: {reason}; training on the CPU instead.", RuntimeWarning, stacklevel=2)
    return DeviceChoice("cuda", "cpu", reason)
