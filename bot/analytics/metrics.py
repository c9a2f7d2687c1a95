"""Which dimensions each metric carries, so a filter applies only where it means something
(a segment filter cannot split the amounts placed, which belong to no reminder)."""

from bot.analytics.sources import accounts, agents, buckets, contacts

TOUCHED = frozenset(
    {"portfolio", "segment", "country", "channel", "template_key", "variant_id", "currency"}
)
FIXED = frozenset({"portfolio", "country", "currency", "cohort"})
FILTERS = ("portfolio", "segment", "country", "channel", "template_key", "variant_id", "currency")

DIMS = {}
for _metric in contacts.STAGES:
    DIMS[_metric] = TOUCHED
DIMS["sent"] = frozenset({"portfolio", "country", "channel", "currency"})
for _metric in ("placed", "credited", "written_off"):
    DIMS[_metric] = FIXED
for _metric in set(accounts.METRICS) - {"placed", "credited", "written_off"}:
    DIMS[_metric] = TOUCHED | {"cohort"}
for _metric in buckets.METRICS:
    DIMS[_metric] = TOUCHED | {"cohort"}
for _metric in agents.METRICS:
    DIMS[_metric] = frozenset({"channel", "agent_id"})


def applicable(metric, filters):
    """The filter names (among those set) that apply to metric."""
    return {name for name in filters if name in DIMS[metric]}


def outside(dims, filters):
    """The filters set that are not among dims (a section read within them says so)."""
    return sorted(name for name in filters if name not in dims)


def ignored(metrics, filters):
    """The filters set that apply to none of metrics (the page says so)."""
    return sorted(name for name in filters if not any(name in DIMS[m] for m in metrics))
