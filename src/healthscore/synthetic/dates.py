"""Day and month arithmetic on integer codes, so the simulator never loops over dates.

The simulator counts days and calendar months as integers (days and months since the Unix
epoch, numpy's ``datetime64[D]`` and ``datetime64[M]``), because month-by-month contract
bookkeeping over thousands of accounts is then plain integer array arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The resolution of every timestamp column the simulator writes.
TIMESTAMP_DTYPE = "datetime64[us]"


def day_code(when: str | pd.Timestamp) -> int:
    """Days since the epoch of the calendar day of ``when``."""
    return int(np.datetime64(pd.Timestamp(when).normalize().date(), "D").astype(np.int64))


def month_of_day(days: np.ndarray) -> np.ndarray:
    """Calendar month code (months since the epoch) of each day code."""
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def first_day_of_month(months: np.ndarray) -> np.ndarray:
    """Day code of the first day of each month code."""
    return np.asarray(months, dtype="datetime64[M]").astype("datetime64[D]").astype(np.int64)


def anniversary(months: np.ndarray, day_of_month: np.ndarray) -> np.ndarray:
    """Day code of day ``day_of_month`` (1-28) in each month code."""
    return first_day_of_month(months) + np.asarray(day_of_month, dtype=np.int64) - 1


def day_of_month(days: np.ndarray) -> np.ndarray:
    """Day of the month (1-31) of each day code."""
    days = np.asarray(days, dtype=np.int64)
    return days - first_day_of_month(month_of_day(days)) + 1


def timestamps(days: np.ndarray, seconds: np.ndarray | None = None) -> np.ndarray:
    """Naive UTC timestamps from day codes plus optional seconds into the day."""
    stamp = np.asarray(days, dtype=np.int64) * 86_400
    if seconds is not None:
        stamp = stamp + np.asarray(seconds, dtype=np.int64)
    return stamp.astype("datetime64[s]").astype(TIMESTAMP_DTYPE)


@dataclass(frozen=True)
class Calendar:
    """The simulated period: observed days ``[first_day, end_day)`` plus a warm-up before.

    Attributes
    ----------
    first_day, end_day
        Day codes of the first observed day and of the exclusive end of the history.
    months
        Month codes stepped through, warm-up months first.
    observed
        Whether each month in ``months`` overlaps the observed period.
    """

    first_day: int
    end_day: int
    months: np.ndarray
    observed: np.ndarray

    @classmethod
    def build(
        cls, start: str | pd.Timestamp, end: str | pd.Timestamp, *, warmup_months: int
    ) -> Calendar:
        """Calendar months from ``warmup_months`` before ``start``'s month to ``end``."""
        first_day, end_day = day_code(start), day_code(end)
        if end_day <= first_day:
            raise ValueError(f"end ({end}) must be after start ({start})")
        first_month = int(month_of_day(np.array([first_day]))[0])
        last_month = int(month_of_day(np.array([end_day - 1]))[0])
        months = np.arange(first_month - warmup_months, last_month + 1, dtype=np.int64)
        return cls(first_day, end_day, months, months >= first_month)

    def bounds(self, month: int) -> tuple[int, int]:
        """First day and exclusive last day of ``month``, clipped to the observed end."""
        lo = int(first_day_of_month(np.array([month]))[0])
        hi = int(first_day_of_month(np.array([month + 1]))[0])
        return lo, min(hi, self.end_day)
