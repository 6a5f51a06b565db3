"""The lift test's answer in words, defined once for the evaluator, the gates and the pages."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator


class Verdict(StrEnum):
    """The lift test's answer in words.

    A ``StrEnum``: a member equals (and serialises as) its string, which is what JSON reports,
    MLflow tags and the ``training_runs.verdict`` column hold.
    """

    SIGNIFICANT_EDGE = "significant edge"
    NO_SIGNIFICANT_EDGE = "no significant edge"
    SIGNIFICANTLY_WORSE = "significantly worse than the baseline"

    @classmethod
    def of_interval(cls, low: float, high: float) -> Verdict:
        """The verdict of a CI on "model − baseline": above 0, below 0, or straddling it."""
        if low > 0:
            return cls.SIGNIFICANT_EDGE
        if high < 0:
            return cls.SIGNIFICANTLY_WORSE
        return cls.NO_SIGNIFICANT_EDGE


def _verdict(value: object) -> Verdict | None:
    """A stored verdict; an unknown text reads as None (a gate then names it missing)."""
    try:
        return None if value is None else Verdict(str(value))
    except ValueError:
        return None


#: A record field holding a verdict, read leniently from storage.
StoredVerdict = Annotated[Verdict | None, BeforeValidator(_verdict)]
