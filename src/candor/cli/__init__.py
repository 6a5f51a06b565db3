"""Command-line interface: thin Typer shells over the library. Import order registers commands."""

from candor.cli.app import app, main, run

# Each module below adds its command(s) to `app` when imported.
from candor.cli import datasets as _datasets  # noqa: E402,F401
from candor.cli import validate as _validate  # noqa: E402,F401
from candor.cli import train as _train  # noqa: E402,F401
from candor.cli import db as _db  # noqa: E402,F401
from candor.cli import features as _features  # noqa: E402,F401
from candor.cli import registry as _registry  # noqa: E402,F401
from candor.cli import serve as _serve  # noqa: E402,F401
from candor.cli import backtest as _backtest  # noqa: E402,F401
from candor.cli import ops as _ops  # noqa: E402,F401
from candor.cli import tune as _tune  # noqa: E402,F401
from candor.cli import freqtrade as _freqtrade  # noqa: E402,F401
from candor.cli import ledger as _ledger  # noqa: E402,F401
from candor.cli import research as _research  # noqa: E402,F401
from candor.cli import paper as _paper  # noqa: E402,F401

__all__ = ["app", "main", "run"]
