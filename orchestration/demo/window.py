"""The window of monthly deliveries and its calendar arithmetic.

A `Window` knows each delivery's as-at date (the last day of its month), which month a day falls
in, and which financial years lie wholly inside it, the periods the ground truth names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo.vocabulary import DAY0


@dataclass(frozen=True)
class Window:
    """The delivery months: file k is dated at the last day of month k."""

    first_month: np.datetime64
    months: int
    month_end_days: np.ndarray  # day numbers of the as-at dates
    first_day: int
    last_day: int

    @classmethod
    def from_start(cls, start: str, months: int) -> Window:
        """The window of `months` deliveries from the month `start` (`YYYY-MM`)."""
        try:
            first = np.datetime64(start, "M")
        except ValueError as error:
            raise ValueError(f"start must be YYYY-MM (got {start!r})") from error
        ends = (first + np.arange(1, months + 1)).astype("datetime64[D]") - 1
        end_days = (ends - DAY0).astype(np.int64)
        first_day = int((first.astype("datetime64[D]") - DAY0).astype(int))
        return cls(first, months, end_days, first_day, int(end_days[-1]))

    def month_of(self, days: np.ndarray) -> np.ndarray:
        """Index of the delivery month that contains each day (negative before the window)."""
        months = days.astype("datetime64[D]").astype("datetime64[M]") - self.first_month
        return months.astype(np.int64)

    def as_at(self, k: int) -> str:
        """The as-at date of delivery `k`, as `YYYY-MM-DD`."""
        return str(DAY0 + int(self.month_end_days[k]))

    def label(self, k: int) -> str:
        """The month of delivery `k`, as `YYYY-MM`."""
        return str(self.first_month + k)

    def full_financial_years(self) -> list[str]:
        """Financial years (April to March) lying wholly inside the window, as `2024-25`."""
        first = self.first_month.astype(object)
        last = (self.first_month + self.months - 1).astype(object)
        years = []
        for year in range(first.year - 1, last.year + 1):
            if (first.year, first.month) <= (year, 4) and (year + 1, 3) <= (last.year, last.month):
                years.append(f"{year}-{(year + 1) % 100:02d}")
        return years
