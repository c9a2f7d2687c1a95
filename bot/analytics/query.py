"""Reading the daily aggregates: the dashboard's filters and sums over a period."""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from bot.analytics import metrics as catalogue
from bot.models import DailyFact

MAX_DAYS = 731
_CODE = re.compile(r"^[A-Z]{2,3}$")
_NAME = re.compile(r"^[\w.~:-]{1,128}$")


class FilterError(ValueError):
    """A filter value that cannot be used (the page answers 400 and says which)."""


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    dims: dict = field(default_factory=dict)  # set filters only: {"segment": "late", ...}

    @classmethod
    def parse(cls, args, today):
        """From query-string args; the default period is the last 30 days up to today."""
        try:
            end = date.fromisoformat(args.get("end")) if args.get("end") else today
            start = (
                date.fromisoformat(args.get("start"))
                if args.get("start")
                else end - timedelta(days=29)
            )
        except ValueError:
            raise FilterError("dates are YYYY-MM-DD") from None
        if start > end:
            raise FilterError("the period starts after it ends")
        if (end - start).days > MAX_DAYS:
            raise FilterError(f"a period is at most {MAX_DAYS} days")
        dims = {}
        for name in catalogue.FILTERS:
            value = (args.get(name) or "").strip()
            if not value:
                continue
            if name == "variant_id":
                if not value.isdigit() or len(value) > 9:
                    raise FilterError("variant is a number")
                dims[name] = int(value)
            elif name in ("country", "currency"):
                if not _CODE.match(value):
                    raise FilterError(f"{name} is an ISO code such as CO or COP")
                dims[name] = value
            elif not _NAME.match(value):
                raise FilterError(f"{name} has characters that cannot be in it")
            else:
                dims[name] = value
        return cls(start, end, dims)

    def args(self, **override):
        """Query-string args that give these filters back (for links and exports)."""
        out = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        out.update({k: str(v) for k, v in self.dims.items()})
        out.update({k: v for k, v in override.items() if v is not None})
        return out

    def days(self):
        return (self.end - self.start).days + 1


def sums(session, filters, metrics, by=(), start=..., end=..., within=None):
    """[(metric, *by, n, amount)] over [start, end] (default: the filters' period; None: no
    bound), each metric filtered by the filters that apply to it (and, given `within`, only
    by those among these dimensions: a ratio reads both its sides with the same filters)."""
    start = filters.start if start is ... else start
    end = filters.end if end is ... else end
    groups = {}
    for metric in metrics:
        applied = catalogue.applicable(metric, filters.dims)
        key = frozenset(applied if within is None else applied & within)
        groups.setdefault(key, []).append(metric)
    out = []
    columns = [getattr(DailyFact, name) for name in by]
    for applied, names in groups.items():
        stmt = (
            select(
                DailyFact.metric,
                *columns,
                func.sum(DailyFact.n).label("n"),
                func.sum(DailyFact.amount).label("amount"),
            )
            .where(DailyFact.metric.in_(names))
            .group_by(DailyFact.metric, *columns)
        )
        if start is not None:
            stmt = stmt.where(DailyFact.day >= start)
        if end is not None:
            stmt = stmt.where(DailyFact.day <= end)
        for name in applied:
            stmt = stmt.where(getattr(DailyFact, name) == filters.dims[name])
        out.extend(tuple(row) for row in session.execute(stmt))
    return out


def totals(rows):
    """{metric: (n, amount)} from rows grouped by metric alone."""
    return {row[0]: (int(row[-2] or 0), int(row[-1] or 0)) for row in rows}


class Fetch:
    """The sums a page needs, read with one query per way of grouping (the plan: {columns:
    metrics}) and re-added in memory for each section, instead of one query per section."""

    def __init__(self, session, filters, plan, within=None):
        self.session, self.filters, self.plan = session, filters, plan
        self.within = within or {}  # {group: the only dimensions its filters use}
        self.rows = {}

    def group(self, key):
        if key not in self.rows:
            self.rows[key] = sums(
                self.session, self.filters, self.plan[key], by=key, within=self.within.get(key)
            )
        return self.rows[key]

    def __call__(self, metrics, by=(), within=None):
        """[(metric, *by, n, amount)] like sums(), from a planned group when one covers it
        (read with the same `within`)."""
        for key, planned in self.plan.items():
            if self.within.get(key) != within:
                continue
            if set(by) <= set(key) and set(metrics) <= set(planned):
                positions = [key.index(column) + 1 for column in by]
                added = {}
                for row in self.group(key):
                    if row[0] not in metrics:
                        continue
                    name = (row[0], *(row[i] for i in positions))
                    entry = added.setdefault(name, [0, 0])
                    entry[0] += int(row[-2] or 0)
                    entry[1] += int(row[-1] or 0)
                return [(*name, n, amount) for name, (n, amount) in added.items()]
        return sums(self.session, self.filters, metrics, by=by, within=within)

    def values(self, column):
        """The values of a column seen in the groups already read (for the filter menus)."""
        found = set()
        for key, rows in self.rows.items():
            if column in key:
                i = key.index(column) + 1
                found.update(row[i] for row in rows if row[i])
        return found
