"""Contract bookkeeping: the running term of every account and the rows it leaves behind.

A term runs from its start day to the anniversary day ``term_months`` later (exclusive).
Renewal closes the row and opens the next one at the same day; a mid-term upgrade closes it
early and opens a co-terminous row with more seats; churn closes it for good, so a churned
account's last contract ends exactly on its churn date. Rows are collected as arrays and
turned into the ``contracts`` table at the end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.synthetic import catalogue as cat
from healthscore.synthetic.accounts import Accounts
from healthscore.synthetic.dates import anniversary, first_day_of_month, month_of_day, timestamps


class ContractBook:
    """The open term of each account plus every closed row so far."""

    def __init__(self, accounts: Accounts, *, first_month: int, rng: np.random.Generator) -> None:
        self.accounts = accounts
        self.seats = accounts.seats.copy()
        self.max_seats = accounts.seats.copy()
        created_month = month_of_day(accounts.created_day)
        length = accounts.term_months
        # Terms completed by the first simulated month: the last anniversary on or before it.
        first_day = int(first_day_of_month(np.array([first_month]))[0])
        done = np.maximum((first_month - created_month) // length, 0)
        for _ in range(2):
            ahead = anniversary(created_month + (done + 1) * length, accounts.anniversary_day)
            done = np.where(ahead <= first_day, done + 1, done)
            here = anniversary(created_month + done * length, accounts.anniversary_day)
            done = np.where((done > 0) & (here > first_day), done - 1, done)
        self.terms_completed = done
        self.row_start = np.where(
            done > 0,
            anniversary(created_month + done * length, accounts.anniversary_day),
            accounts.created_day,
        )
        self.term_end_month = created_month + (done + 1) * length
        auto_share = np.select([length == 1, length == 12], [1.0, 0.6], 0.3)
        self.auto_renew = rng.random(accounts.n) < auto_share
        self._rows: list[dict[str, np.ndarray]] = []

    @property
    def term_end_day(self) -> np.ndarray:
        """Exclusive end day of each account's running term."""
        return anniversary(self.term_end_month, self.accounts.anniversary_day)

    def _close(self, mask: np.ndarray, end_day: np.ndarray) -> None:
        index = np.flatnonzero(mask)
        self._rows.append(
            {
                "account": index,
                "start": self.row_start[index],
                "end": np.broadcast_to(end_day, mask.shape)[index].copy(),
                "seats": self.seats[index].copy(),
            }
        )

    def renew(self, mask: np.ndarray, new_seats: np.ndarray, *, recorded: np.ndarray) -> None:
        """Close the term of ``mask`` accounts and open the next one with ``new_seats``.

        Only ``recorded`` accounts leave a row; churned accounts keep renewing unrecorded,
        because the simulation follows them on as if they had stayed.
        """
        end = self.term_end_day
        self._close(recorded, end)
        self.row_start = np.where(mask, end, self.row_start)
        self.term_end_month = np.where(
            mask, self.term_end_month + self.accounts.term_months, self.term_end_month
        )
        self.terms_completed = self.terms_completed + mask
        self._set_seats(mask, new_seats)

    def upgrade(
        self, mask: np.ndarray, day: np.ndarray, new_seats: np.ndarray, *, recorded: np.ndarray
    ) -> None:
        """Close the running row on ``day`` and open a co-terminous one with more seats."""
        self._close(recorded, day)
        self.row_start = np.where(mask, day, self.row_start)
        self._set_seats(mask, new_seats)

    def end(self, mask: np.ndarray) -> None:
        """Close the running term of ``mask`` accounts for good (churn, or end of the run)."""
        self._close(mask, self.term_end_day)

    def _set_seats(self, mask: np.ndarray, new_seats: np.ndarray) -> None:
        self.seats = np.where(mask, new_seats, self.seats)
        self.max_seats = np.maximum(self.max_seats, self.seats)

    def table(self, *, first_day: int) -> pd.DataFrame:
        """The ``contracts`` table: rows that overlap the observed period, by account."""
        rows = {k: np.concatenate([r[k] for r in self._rows]) for k in self._rows[0]}
        keep = rows["end"] > first_day
        rows = {k: v[keep] for k, v in rows.items()}
        order = np.lexsort((rows["start"], rows["account"]))
        rows = {k: v[order] for k, v in rows.items()}
        account = rows["account"]
        acc = self.accounts
        months = acc.term_months[account]
        arr = rows["seats"] * acc.price_per_seat_month[account] * 12
        return pd.DataFrame(
            {
                "contract_id": pd.array(
                    [f"C{i:07d}" for i in range(1, len(account) + 1)], dtype="str"
                ),
                "account_id": pd.array(acc.ids[account], dtype="str"),
                "start_date": timestamps(rows["start"]),
                "end_date": timestamps(rows["end"]),
                "arr": np.round(arr, 2),
                "plan": pd.array(np.array(cat.PLANS)[acc.plan[account]], dtype="str"),
                "seats": rows["seats"].astype(np.int64),
                "billing_period": pd.array(
                    [cat.BILLING_PERIODS[int(m)] for m in months], dtype="str"
                ),
                "auto_renew": self.auto_renew[account],
                "term_months": months.astype(np.int64),
            }
        )
