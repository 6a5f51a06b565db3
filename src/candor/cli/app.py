"""The Typer application and the one place where exceptions become exit codes.

Commands live in sibling modules (one module per command or command group) and register
themselves on :data:`app`; :mod:`candor.cli` imports them all.
"""

from __future__ import annotations

import sys

import click
import typer

try:  # typer >= 0.26 raises errors from its own bundled copy of click
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - older typer uses click itself
    _typer_click = click.exceptions

_USAGE_ERRORS = (click.exceptions.UsageError, _typer_click.UsageError)
_EXIT = (click.exceptions.Exit, typer.Exit)
_ABORT = (click.exceptions.Abort, typer.Abort)
from rich.console import Console
from rich.markup import escape

from candor.errors import CandorError

app = typer.Typer(
    name="candor",
    help="Direction forecasts from OHLCV bars, scored honestly: purged walk-forward, baselines, CIs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Piped or captured output gets room for the report tables instead of Rich's 80-column default.
console = Console() if sys.stdout.isatty() else Console(width=140)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=140)

EXIT_OK, EXIT_FAILED, EXIT_GATES, EXIT_CONFIG = 0, 1, 2, 3


def fail_line(message: str) -> None:
    """Print the one-line error message every failing command ends with."""
    # Escaped: a message is plain text, and Rich would swallow "[wandb]" in "pip install 'candor[wandb]'".
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 failed, 2 gates not met, 3 bad config)."""
    try:
        result = app(args=argv, prog_name="candor", standalone_mode=False)
    except _USAGE_ERRORS as exc:
        fail_line(exc.format_message())
        return EXIT_CONFIG
    except _EXIT as exc:
        return exc.exit_code
    except _ABORT:
        fail_line("aborted")
        return EXIT_FAILED
    except CandorError as exc:
        fail_line(str(exc))
        return exc.exit_code
    except Exception as exc:  # MLflow's own errors (a server gone mid-run): one line, its URLs masked
        if not type(exc).__module__.startswith("mlflow"):
            raise
        from candor.config import mask_urls

        text = str(getattr(exc, "message", None) or exc).strip()
        fail_line(f"the MLflow tracking store failed: {mask_urls(text.splitlines()[0] if text else type(exc).__name__)}")
        return EXIT_FAILED
    return result if isinstance(result, int) else EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
