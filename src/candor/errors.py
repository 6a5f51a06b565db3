"""Exception classes. Every error names the parameter or rule, the value received and the fix.

Each class carries the process exit code the CLI turns it into: 1 data, model, store or registry
problem, 3 configuration error. (Exit code 2, gates not met, is no exception: the model trained
fine and its report is printed, so ``candor train`` returns 2 rather than raising.)
"""

from __future__ import annotations


class CandorError(Exception):
    """Base class of every error candor raises on purpose."""

    exit_code = 1


class ConfigError(CandorError):
    """An option, config field or argument is invalid (exit code 3)."""

    exit_code = 3


class DataError(CandorError):
    """Input bars are missing, unreadable or malformed (exit code 1)."""

    exit_code = 1


class BarValidationError(DataError):
    """One validation rule failed on a bar frame.

    Carries the rule name, the first offending timestamp and how many rows break the rule.
    """

    def __init__(self, rule: str, first_ts: object, count: int, detail: str = "") -> None:
        self.rule = rule
        self.first_ts = first_ts
        self.count = count
        extra = f" ({detail})" if detail else ""
        super().__init__(f"bars fail rule '{rule}': {count} row(s), first at {first_ts}{extra}")


class ModelError(CandorError):
    """Training or prediction failed for a model reason (exit code 1)."""

    exit_code = 1


class StoreError(CandorError):
    """The operational database or tracking store could not be used (exit code 1)."""

    exit_code = 1


class OutputError(CandorError):
    """A file the user named (``--output-json``, ``--plot``…) could not be written (exit code 1)."""

    exit_code = 1


class RegistryError(CandorError):
    """A registry operation was refused: a lifecycle rule, a bad artifact (exit code 1)."""

    exit_code = 1


class NotFoundError(RegistryError):
    """The named model, version, alias or champion does not exist (exit code 1; HTTP 404)."""


class InvalidNameError(RegistryError):
    """A model name or version reference no candor model can have, e.g. ``no such/x``: refused
    before any store is opened (exit code 3, like any bad argument; HTTP 422)."""

    exit_code = 3
