"""Champion/challenger comparisons: each variant's rates with Wilson confidence intervals,
and each challenger against the control: the rate ratio with its confidence interval and
Fisher's exact test, significant when p is under alpha divided by the number of challengers
(Bonferroni). The statistics come from SciPy."""

from dataclasses import dataclass

from sqlalchemy import select

from bot.analytics import query
from bot.models import Experiment, ExperimentVariant

ALPHA = 0.05
CONFIDENCE = 0.95
# (rate name, successes metric, trials metric); promise-kept counts promises falling due.
RATES = (
    ("reply", "replied", "contacted"),
    ("promise", "promised", "contacted"),
    ("payment", "paid", "contacted"),
    ("promise_kept", "kept", "settled"),
)


@dataclass
class Rate:
    successes: int
    trials: int
    low: float | None = None
    high: float | None = None
    # Against the control (challengers only):
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    p_value: float | None = None
    significant: bool = False
    better: bool | None = None

    @property
    def value(self):
        return self.successes / self.trials if self.trials else None


def rate(successes, trials):
    out = Rate(int(successes), int(trials))
    if trials:
        from scipy.stats import binomtest  # loaded on first use, as in against()

        ci = binomtest(out.successes, out.trials).proportion_ci(CONFIDENCE, method="wilson")
        out.low, out.high = float(ci.low), float(ci.high)
    return out


def against(control, challenger, tests):
    """Fill in challenger's comparison with control (tests: how many challengers)."""
    if not (control.trials and challenger.trials):
        return challenger
    table = [
        [challenger.successes, challenger.trials - challenger.successes],
        [control.successes, control.trials - control.successes],
    ]
    # scipy (about 430 modules, 24 MiB) loads on the first comparison, not in every web
    # process at start.
    from scipy.stats import fisher_exact
    from scipy.stats.contingency import relative_risk

    _odds, p_value = fisher_exact(table)
    challenger.p_value = float(p_value)
    challenger.significant = p_value < ALPHA / max(tests, 1)
    challenger.better = challenger.value > control.value if challenger.significant else None
    if control.successes and challenger.successes:
        rr = relative_risk(
            challenger.successes, challenger.trials, control.successes, control.trials
        )
        ci = rr.confidence_interval(CONFIDENCE)
        challenger.ratio = float(rr.relative_risk)
        challenger.ratio_low, challenger.ratio_high = float(ci.low), float(ci.high)
    return challenger


@dataclass
class VariantResult:
    variant: ExperimentVariant
    rates: dict


def counts_by_variant(session, filters, variant_ids):
    """{variant id: {metric: n}} over the filters' period (the variant filter aside), in one
    query."""
    base = query.Filters(
        filters.start, filters.end, {k: v for k, v in filters.dims.items() if k != "variant_id"}
    )
    out = {vid: {} for vid in variant_ids}
    metrics = ("contacted", "replied", "promised", "paid", "promise_due")
    for metric, variant_id, detail, n, _amount in query.sums(
        session, base, metrics, by=("variant_id", "detail")
    ):
        entry = out.get(variant_id)
        if entry is None:
            continue
        if metric != "promise_due":
            entry[metric] = entry.get(metric, 0) + int(n or 0)
        elif detail in ("kept", "broken"):
            entry["settled"] = entry.get("settled", 0) + int(n or 0)
            if detail == "kept":
                entry["kept"] = entry.get("kept", 0) + int(n or 0)
    return out


def compare(session, experiment, filters):
    """[VariantResult], control first, for the filters' period."""
    variants = sorted(experiment.variants, key=lambda v: (not v.is_control, v.id))
    counts = counts_by_variant(session, filters, [v.id for v in variants])
    challengers = max(len(variants) - 1, 1)
    results = []
    control = None
    for variant in variants:
        got = counts[variant.id]
        rates = {name: rate(got.get(s, 0), got.get(t, 0)) for name, s, t in RATES}
        if variant.is_control:
            control = rates
        elif control is not None:
            for name in rates:
                against(control[name], rates[name], challengers)
        results.append(VariantResult(variant, rates))
    return results


def evidence(results):
    """What the admin saw when promoting, for the audit trail."""
    return {
        r.variant.name: {
            name: {
                "successes": rt.successes,
                "trials": rt.trials,
                "p_value": rt.p_value,
                "significant": rt.significant,
            }
            for name, rt in r.rates.items()
        }
        for r in results
    }


def experiments_for(session, filters):
    """Experiments to show: those of the template filtered on, else all, newest first."""
    stmt = select(Experiment).order_by(Experiment.id.desc())
    key = filters.dims.get("template_key")
    if key:
        stmt = stmt.where(Experiment.template_key == key)
    return session.execute(stmt.limit(10)).scalars().all()
