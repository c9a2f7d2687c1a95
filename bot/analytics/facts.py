"""Facts: one metric on one day for one combination of dimensions, summed in memory and
written by the daily job."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import clock

# Dimensions of every fact; "" (or 0 for ids) means "does not apply / none".
DIMENSIONS = (
    "portfolio",
    "segment",
    "country",
    "channel",
    "template_key",
    "variant_id",
    "agent_id",
    "currency",
    "cohort",
    "detail",
)
INT_DIMENSIONS = ("variant_id", "agent_id")
# Days after an event that its outcome still counts (a reply, a promise, a payment).
ATTRIBUTION_DAYS = 7
# Buckets of days past due an account passes through; each lasts 30 days except the last.
BUCKETS = ((1, "1-30"), (31, "31-60"), (61, "61-90"), (91, "91-120"), (121, "121-150"),
           (151, "151-180"), (181, "181+"))  # fmt: skip
ROLL_DAYS = 30


@dataclass(frozen=True)
class Day:
    """A reporting day and its bounds as naive UTC (the database's convention)."""

    day: object  # date
    start: datetime
    end: datetime

    @classmethod
    def of(cls, day, zone):
        tz = ZoneInfo(zone)
        start = clock.to_utc(datetime.combine(day, time(0), tzinfo=tz))
        end = clock.to_utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))
        return cls(day, start, end)


def portfolio_of(label):
    """An account's portfolio: its imported label, else default (as payment policies read it)."""
    return label or "default"


def cohort_of(due_date):
    """The accounts' cohort: the month their debt fell due."""
    return f"{due_date.year:04d}-{due_date.month:02d}" if due_date else ""


class FactSet:
    """Facts of one day, summed by metric and dimensions."""

    def __init__(self, day):
        self.day = day
        self.sums = {}

    def add(self, metric, n=1, amount=0, **dims):
        unknown = set(dims) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"unknown dimension(s) {sorted(unknown)} for {metric}")
        key = (metric,) + tuple(
            (dims.get(d) or 0) if d in INT_DIMENSIONS else (dims.get(d) or "") for d in DIMENSIONS
        )
        entry = self.sums.get(key)
        if entry is None:
            self.sums[key] = [int(n), int(amount)]
        else:
            entry[0] += int(n)
            entry[1] += int(amount)

    def rows(self):
        for key, (n, amount) in self.sums.items():
            row = {"day": self.day, "metric": key[0], "n": n, "amount": amount}
            row.update(zip(DIMENSIONS, key[1:], strict=True))
            yield row

    def __len__(self):
        return len(self.sums)
