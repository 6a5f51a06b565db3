"""Optional extras: import one, or say in one line which ``pip install 'candor[...]'`` brings it.

One rule for every optional package (W&B, Dask, the data providers), light enough to run first:
a command that needs a missing extra refuses before it reads bars or loads the training stack.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from candor.errors import CandorError, StoreError


def import_extra(module: str, extra: str, needed_by: str, error: type[CandorError] = CandorError,
                 alternative: str = "") -> ModuleType:
    """``module`` imported, or ``error``: "<needed_by> needs the <module> package … pip install 'candor[extra]'"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        also = f" ({alternative})" if alternative else ""
        raise error(f"{needed_by} needs the {module.partition('.')[0]} package, which is not installed: run "
                    f"pip install 'candor[{extra}]'{also}.") from None


def import_wandb() -> ModuleType:
    """The ``wandb`` module a ``[tracking] backend`` with W&B needs, or one StoreError line."""
    return import_extra("wandb", "wandb", "`tracking.backend`", StoreError, 'or set tracking.backend = "mlflow"')
