"""The results dashboard's numbers: daily aggregates, what they mean, how they are read.

The layer has three parts:
- sources (bot.analytics.sources): each reads one kind of event from the domain's own tables
  for one day and adds facts to a FactSet: a metric, the dimensions it can be filtered by, a
  count and an amount (minor units, or seconds);
- the daily job (rollup.py): for a day, every source's facts replace that day's rows of
  analytics_daily in one transaction, so it is idempotent and can be re-run for any day; each
  run recomputes the days whose outcomes can still change (a source's `window_days`);
- the readers (query.py, report.py, compare.py): the dashboard adds the facts up for a period
  and filters, and works out rates, cohorts, rolls and variant comparisons from the sums. They
  never read the domain's tables, so the dashboard's cost depends on days x combinations of
  dimensions, not on the number of accounts or messages.

Adding an event source (say, receipts verified or settlements): write a module in sources/
whose collect(session, ctx) reads the day's events (ctx.day has the day's UTC bounds) and calls
ctx.facts.add(metric, n, amount, **dimensions); list it in sources.SOURCES as
Source(name, window_days, metrics, collect); declare which dimensions its metrics carry in
metrics.py (so filters apply only where they mean something); add a section to report.py (and
its query group to report.PLAN) and its labels to bot/web/console/labels.py; then run
`flask --app bot analytics-rollup --since <first day>` once to backfill. Last-touch
attribution (which reminder's segment, channel, template and variant an event counts under) is
ctx.touches.load(debtor_ids) then ctx.touches.last(debtor_id, moment, days).
"""
