"""The dashboard's sections, worked out from the sums of the daily aggregates: each has its
columns, its rows (typed cells the console formats in the user's locale and the CSV export
writes exactly) and, where it helps, a chart."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from bot.analytics import metrics as catalogue
from bot.analytics import prices as price_book
from bot.analytics.facts import BUCKETS
from bot.analytics.query import Fetch, sums, totals
from bot.analytics.sources.contacts import STAGES
from bot.money import to_decimal


@dataclass(frozen=True)
class Money:
    minor: int
    currency: str

    def decimal(self):
        return to_decimal(self.minor, self.currency)


@dataclass(frozen=True)
class Exact:
    """An exact decimal amount in a currency (a cost per unit may need more digits)."""

    value: Decimal
    currency: str


@dataclass(frozen=True)
class Pct:
    """A share in [0, 1], or None when there is nothing to divide by."""

    value: float | None


@dataclass(frozen=True)
class Seconds:
    value: int | None


# What the page reads: one query per way of grouping (bot.analytics.query.Fetch).
PLAN = {
    ("detail",): (*STAGES, "promise_made", "promise_due", "resolution", "opt_out",
                  "plan_created", "claim", "dispute", "dpd_entered", "dpd_matured", "dpd_cured",
                  "dpd_rolled", "escalated"),
    ("day", "currency"): ("contacted", "replied", "collected"),
    ("template_key",): ("contacted", "replied", "outcome", "paid", "opted_out"),
    ("cohort", "currency", "portfolio", "country"): ("placed", "collected"),
    ("agent_id",): ("agent_claimed", "agent_messages", "agent_handled"),
    ("channel", "currency"): ("sent", "collected"),
}  # fmt: skip


# Ratios read both sides with the same filters. Recovery divides what was collected by what
# was due and placed, which belong to no reminder: both sides split by portfolio, country and
# currency only. Cost divides messages sent (no segment, template or variant) by what was
# collected: both sides split by portfolio, country, channel and currency only.
RECOVERY_DIMS = catalogue.FIXED
COST_DIMS = catalogue.DIMS["sent"]
WITHIN = {
    ("cohort", "currency", "portfolio", "country"): RECOVERY_DIMS,
    ("channel", "currency"): COST_DIMS,
}


def fetcher(session, filters, fetch=None):
    return fetch if fetch is not None else Fetch(session, filters, PLAN, WITHIN)


def pct(part, whole):
    return Pct(part / whole if whole else None)


@dataclass
class Section:
    key: str
    columns: list
    rows: list = field(default_factory=list)
    chart: dict | None = None
    ignored: list = field(default_factory=list)


def _chart(kind, labels, series, percent=False, horizontal=False):
    return {
        "type": kind,
        "labels": [str(label) for label in labels],
        "series": series,
        "percent": percent,
        "horizontal": horizontal,
    }


def _ignored(metrics, filters):
    return catalogue.ignored(metrics, filters.dims)


def funnel(session, filters, fetch=None):
    fetch = fetcher(session, filters, fetch)
    got = totals(fetch(STAGES))
    contacted = got.get("contacted", (0, 0))[0]
    section = Section("funnel", ["stage", "count", "share_of_contacted"])
    for stage in STAGES:
        n = got.get(stage, (0, 0))[0]
        section.rows.append([stage, n, pct(n, contacted)])
    section.chart = _chart(
        "bar",
        [s for s in STAGES],
        [{"key": "count", "data": [row[1] for row in section.rows]}],
        horizontal=True,
    )
    section.ignored = _ignored(STAGES, filters)
    return section


def main_currency(session, filters, fetch=None):
    fetch = fetcher(session, filters, fetch)
    """The currency money charts use: the filter's, else the one most collected, else placed."""
    if "currency" in filters.dims:
        return filters.dims["currency"]
    for metric in ("collected", "placed"):
        rows = fetch((metric,), by=("currency",))
        best = max(rows, key=lambda r: r[-1] or 0, default=None)
        if best is not None and best[-1]:
            return best[1]
    return None


def series(session, filters, currency, fetch=None):
    fetch = fetcher(session, filters, fetch)
    metrics = ("contacted", "replied", "collected")  # "paid" is the count of collected
    per_day = defaultdict(dict)
    for metric, day, cur, n, amount in fetch(metrics, by=("day", "currency")):
        entry = per_day[day]
        entry[metric] = entry.get(metric, 0) + int(n or 0)
        if metric == "collected" and cur == currency:
            entry["amount"] = entry.get("amount", 0) + int(amount or 0)
    section = Section("series", ["day", "contacted", "replied", "paid", "collected"])
    day = filters.start
    while day <= filters.end:
        got = per_day.get(day, {})
        section.rows.append(
            [
                day,
                got.get("contacted", 0),
                got.get("replied", 0),
                got.get("collected", 0),
                Money(got.get("amount", 0), currency) if currency else None,
            ]
        )
        day += timedelta(days=1)
    section.chart = _chart(
        "line",
        [row[0].isoformat() for row in section.rows],
        [
            {"key": "contacted", "data": [row[1] for row in section.rows]},
            {"key": "replied", "data": [row[2] for row in section.rows]},
            {"key": "paid", "data": [row[3] for row in section.rows]},
        ],
    )
    section.ignored = _ignored(metrics, filters)
    return section


def templates(session, filters, fetch=None):
    fetch = fetcher(session, filters, fetch)
    metrics = ("contacted", "replied", "outcome", "paid", "opted_out")
    per = defaultdict(dict)
    for metric, key, n, _amount in fetch(metrics, by=("template_key",)):
        per[key][metric] = int(n or 0)
    section = Section(
        "templates",
        ["template", "contacted", "reply_rate", "outcome_rate", "payment_rate", "opt_out_rate"],
    )
    for key in sorted(per, key=lambda k: -per[k].get("contacted", 0)):
        got = per[key]
        c = got.get("contacted", 0)
        section.rows.append(
            [
                key,
                c,
                pct(got.get("replied", 0), c),
                pct(got.get("outcome", 0), c),
                pct(got.get("paid", 0), c),
                pct(got.get("opted_out", 0), c),
            ]
        )
    labels = [row[0] for row in section.rows[:12]]
    section.chart = _chart(
        "bar",
        labels,
        [
            {"key": "reply_rate", "data": [row[2].value for row in section.rows[:12]]},
            {"key": "opt_out_rate", "data": [row[5].value for row in section.rows[:12]]},
        ],
        percent=True,
    )
    section.ignored = _ignored(metrics, filters)
    return section


def recovery(session, filters, fetch=None):
    fetch = fetcher(session, filters, fetch)
    """Collected in the period / due at its start (plus placed during it), per cohort."""
    stock = ("placed", "credited", "written_off")
    before = defaultdict(int)
    for metric, cohort, currency, _n, amount in sums(
        session, filters, stock, by=("cohort", "currency"), start=None,
        end=filters.start - timedelta(days=1), within=RECOVERY_DIMS,
    ):  # fmt: skip
        before[cohort, currency] += int(amount or 0) * (1 if metric == "placed" else -1)
    during = defaultdict(lambda: [0, 0])
    for metric, cohort, currency, _n, amount in fetch(
        ("placed", "collected"), by=("cohort", "currency"), within=RECOVERY_DIMS
    ):
        during[cohort, currency][0 if metric == "placed" else 1] += int(amount or 0)
    section = Section(
        "recovery",
        ["cohort", "currency", "due_at_start", "placed", "collected", "recovery_rate"],
    )
    for cohort, currency in sorted(set(before) | set(during)):
        due = max(before.get((cohort, currency), 0), 0)
        placed, collected = during.get((cohort, currency), (0, 0))
        if not (due or placed or collected):
            continue
        section.rows.append(
            [
                cohort,
                currency,
                Money(due, currency),
                Money(placed, currency),
                Money(collected, currency),
                pct(collected, due + placed),
            ]
        )
    section.chart = _chart(
        "bar",
        [f"{row[0]} {row[1]}" for row in section.rows],
        [{"key": "recovery_rate", "data": [row[5].value for row in section.rows]}],
        percent=True,
    )
    # A segment, channel, template or variant cannot split what was due: not filtered here.
    section.ignored = catalogue.outside(RECOVERY_DIMS, filters.dims)
    return section


def rolls(session, filters, fetch=None):
    fetch = fetcher(session, filters, fetch)
    metrics = ("dpd_entered", "dpd_matured", "dpd_cured", "dpd_rolled")
    per = defaultdict(dict)
    for metric, bucket, n, _amount in fetch(metrics, by=("detail",)):
        per[bucket][metric] = int(n or 0)
    section = Section(
        "rolls", ["bucket", "entered", "matured", "cured", "rolled", "cure_rate", "roll_rate"]
    )
    for _lower, bucket in BUCKETS:
        got = per.get(bucket, {})
        matured = got.get("dpd_matured", 0)
        section.rows.append(
            [
                bucket,
                got.get("dpd_entered", 0),
                matured,
                got.get("dpd_cured", 0),
                got.get("dpd_rolled", 0),
                pct(got.get("dpd_cured", 0), matured),
                pct(got.get("dpd_rolled", 0), matured),
            ]
        )
    section.chart = _chart(
        "bar",
        [row[0] for row in section.rows],
        [
            {"key": "cure_rate", "data": [row[5].value for row in section.rows]},
            {"key": "roll_rate", "data": [row[6].value for row in section.rows]},
        ],
        percent=True,
    )
    section.ignored = _ignored(metrics, filters)
    return section


def outcomes(session, filters, fetch=None):
    fetch = fetcher(session, filters, fetch)
    """Promises (made, kept, broken), resolutions with and without an agent, opt-outs."""
    metrics = ("promise_made", "promise_due", "resolution", "opt_out", "plan_created", "claim",
               "dispute", "contacted")  # fmt: skip
    got = defaultdict(int)
    for metric, detail, n, _amount in fetch(metrics, by=("detail",)):
        got[metric, detail] += int(n or 0)
        got[metric, "*"] += int(n or 0)
    kept, broken = got["promise_due", "kept"], got["promise_due", "broken"]
    resolutions = got["resolution", "*"]
    self_service, by_agent = got["resolution", "self"], got["resolution", "agent"]
    section = Section("outcomes", ["measure", "count", "rate"])
    section.rows = [
        ["promises_made", got["promise_made", "*"], None],
        ["promises_kept", kept, pct(kept, kept + broken)],
        ["promises_broken", broken, pct(broken, kept + broken)],
        ["promises_pending", got["promise_due", "pending"], None],
        ["plans_created", got["plan_created", "*"], None],
        ["claims", got["claim", "*"], None],
        ["disputes", got["dispute", "*"], None],
        ["resolved_self_service", self_service, pct(self_service, resolutions)],
        ["resolved_with_agent", by_agent, pct(by_agent, resolutions)],
        ["opt_outs", got["opt_out", "*"], pct(got["opt_out", "*"], got["contacted", "*"])],
    ]  # fmt: skip
    section.ignored = _ignored(metrics, filters)
    return section


def agents(session, filters, names, fetch=None):
    fetch = fetcher(session, filters, fetch)
    metrics = ("agent_claimed", "agent_messages", "agent_handled")
    per = defaultdict(lambda: defaultdict(int))
    for metric, agent_id, n, amount in fetch(metrics, by=("agent_id",)):
        per[agent_id][metric] += int(n or 0)
        if metric == "agent_handled":
            per[agent_id]["seconds"] += int(amount or 0)
    section = Section("agents", ["agent", "claimed", "handled", "messages", "average_handling"])
    for agent_id in sorted(per, key=lambda a: -per[a]["agent_handled"]):
        got = per[agent_id]
        handled = got["agent_handled"]
        section.rows.append(
            [
                names.get(agent_id, f"#{agent_id}"),
                got["agent_claimed"],
                handled,
                got["agent_messages"],
                Seconds(got["seconds"] // handled if handled else None),
            ]
        )
    section.chart = _chart(
        "bar",
        [row[0] for row in section.rows],
        [{"key": "handled", "data": [row[2] for row in section.rows]},
         {"key": "messages", "data": [row[3] for row in section.rows]}],
    )  # fmt: skip
    section.ignored = _ignored(metrics, filters)
    return section


def escalations(session, filters, fetch=None):
    fetch = fetcher(session, filters, fetch)
    section = Section("escalations", ["reason", "count"])
    rows = fetch(("escalated",), by=("detail",))
    for _metric, reason, n, _amount in sorted(rows, key=lambda r: -(r[2] or 0)):
        section.rows.append([reason or "unknown", int(n or 0)])
    section.ignored = _ignored(("escalated",), filters)
    return section


SIX_PLACES = Decimal("0.000001")


def cost(session, filters, fetch=None):
    fetch = fetcher(session, filters, fetch)
    """Messages per channel times the admin's price, against what was collected."""
    book = price_book.all_prices(session)
    sent = fetch(("sent",), by=("channel", "currency"), within=COST_DIMS)
    collected = defaultdict(int)
    for _m, _channel, cur, _n, amount in fetch(
        ("collected",), by=("channel", "currency"), within=COST_DIMS
    ):
        collected[cur] += int(amount or 0)
    section = Section(
        "cost", ["channel", "currency", "messages", "price", "cost", "collected", "cost_per_unit"]
    )
    per_currency = defaultdict(Decimal)
    priced = set()
    for _metric, channel, currency, n, _amount in sorted(sent, key=lambda r: (r[2], r[1])):
        price = book.get((channel, currency))
        line = Decimal(int(n or 0)) * price if price is not None else None
        if line is not None:
            per_currency[currency] += line
            priced.add(currency)
        section.rows.append(
            [
                channel,
                currency,
                int(n or 0),
                Exact(price, currency) if price is not None else None,
                Exact(line, currency) if line is not None else None,
                None,
                None,
            ]
        )
    for currency in sorted(priced):
        got = collected.get(currency, 0)
        recovered = to_decimal(got, currency)
        per_unit = per_currency[currency] / recovered if recovered else None
        section.rows.append(
            [
                "*",
                currency,
                None,
                None,
                Exact(per_currency[currency], currency),
                Money(got, currency),
                None if per_unit is None else Exact(per_unit.quantize(SIX_PLACES), currency),
            ]
        )
    section.ignored = catalogue.outside(COST_DIMS, filters.dims)
    return section


def headline(sections):
    """The few numbers read first, taken from the sections."""
    funnel_rows = {row[0]: row for row in sections["funnel"].rows}
    outcome_rows = {row[0]: row for row in sections["outcomes"].rows}
    contacted = funnel_rows["contacted"][1]
    cards = [
        ("contacted", contacted),
        ("reply_rate", funnel_rows["replied"][2]),
        ("promise_kept_rate", outcome_rows["promises_kept"][2]),
        ("cure_rate", sections["rolls"].rows[0][5]),
        ("self_service_rate", outcome_rows["resolved_self_service"][2]),
        ("opt_out_rate", funnel_rows["opted_out"][2]),
    ]
    recovery_rows = sections["recovery"].rows
    if recovery_rows:
        by_currency = defaultdict(lambda: [0, 0])
        for row in recovery_rows:
            by_currency[row[1]][0] += row[4].minor
            by_currency[row[1]][1] += row[2].minor + row[3].minor
        for currency, (collected, due) in sorted(by_currency.items()):
            cards.append((f"recovery_rate:{currency}", pct(collected, due)))
    for row in sections["cost"].rows:
        if row[0] == "*" and row[6] is not None:
            cards.append((f"cost_per_unit:{row[1]}", row[6]))
    return cards


def build(session, filters, agent_names, fetch=None):
    """Every section, from one query per way of grouping; returns (sections, headline cards,
    the money charts' currency)."""
    f = fetcher(session, filters, fetch)
    currency = main_currency(session, filters, f)
    sections = {
        "series": series(session, filters, currency, f),
        "funnel": funnel(session, filters, f),
        "templates": templates(session, filters, f),
        "recovery": recovery(session, filters, f),
        "rolls": rolls(session, filters, f),
        "outcomes": outcomes(session, filters, f),
        "agents": agents(session, filters, agent_names, f),
        "escalations": escalations(session, filters, f),
        "cost": cost(session, filters, f),
    }
    return sections, headline(sections), currency
