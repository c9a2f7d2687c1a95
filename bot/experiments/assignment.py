"""Who gets which variant: a stable hash of the experiment's salt and the debtor, kept once
given. Reminder planning asks an Assigner (one per planning run) what a debtor gets."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from bot import clock, statuses
from bot.models import Experiment, ExperimentAssignment, ExperimentVariant

BUCKETS = 10_000  # shares are whole percents: 100 buckets each


def bucket(salt, debtor_id):
    """The debtor's bucket in [0, BUCKETS) for this salt: the same on every run and process."""
    digest = hashlib.sha256(f"{salt}:{debtor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def pick(variants, position):
    """The variant whose slice of the buckets holds position (shares in percent, in id order)."""
    edge = 0
    for variant in variants:
        edge += variant.share * (BUCKETS // 100)
        if position < edge:
            return variant
    return variants[-1]


@dataclass(frozen=True)
class Treatment:
    """What a variant changes in one reminder; None fields change nothing."""

    variant_id: int
    template_key: str | None = None
    send_hour: int | None = None
    offer: str | None = None  # "none" removes the segment's offer
    cadence: list | None = None

    def key(self, default):
        return self.template_key or default

    def offer_for(self, default):
        if self.offer is None:
            return default
        return None if self.offer == "none" else self.offer

    def due_at(self, now, zone):
        """When the reminder should go: at send_hour in the debtor's zone today (now when that
        has passed, so it is never pushed to tomorrow), else now."""
        if self.send_hour is None:
            return now
        local_day = clock.local_date(now, zone)
        local = datetime.combine(local_day, time(self.send_hour), tzinfo=ZoneInfo(zone))
        at = clock.to_utc(local)
        return at if at > now else now


def _treatment(variant):
    return Treatment(
        variant_id=variant.id,
        template_key=variant.template_key,
        send_hour=variant.send_hour,
        offer=variant.offer,
        cadence=variant.cadence,
    )


class Assigner:
    """The running (and promoted) experiments, loaded once; answers what a debtor gets and
    remembers new assignments until flush() writes them (insert-or-ignore: the first one
    stays, so a debtor keeps their variant even if the shares change later)."""

    def __init__(self, session, now=None):
        self.session = session
        self.now = now or clock.utcnow()
        self.by_key, self.by_segment = {}, {}
        self.kept = {}  # (experiment id, debtor id) -> variant id
        self.new = []
        experiments = session.execute(
            select(Experiment).where(
                Experiment.status.in_((statuses.Experiment.RUNNING, statuses.Experiment.PROMOTED))
            )
        ).scalars()
        for experiment in experiments:
            variants = list(experiment.variants)
            if not variants:
                continue
            entry = (experiment, variants, {v.id: v for v in variants})
            if experiment.kind == "cadence":
                self.by_segment.setdefault(experiment.segment, entry)
            else:
                self.by_key.setdefault(experiment.template_key, []).append(entry)

    def __bool__(self):
        return bool(self.by_key or self.by_segment)

    def preload(self, debtor_ids):
        """Read the kept assignments of these debtors in one query (a planning batch)."""
        if not self or not debtor_ids:
            return
        rows = self.session.execute(
            select(
                ExperimentAssignment.experiment_id,
                ExperimentAssignment.debtor_id,
                ExperimentAssignment.variant_id,
            ).where(ExperimentAssignment.debtor_id.in_(set(debtor_ids)))
        )
        for experiment_id, debtor_id, variant_id in rows:
            self.kept[experiment_id, debtor_id] = variant_id

    def _variant(self, entry, debtor_id):
        experiment, variants, by_id = entry
        if experiment.status == statuses.Experiment.PROMOTED:
            return by_id.get(experiment.winner_variant_id)
        kept = self.kept.get((experiment.id, debtor_id))
        if kept in by_id:
            return by_id[kept]
        variant = pick(variants, bucket(experiment.salt, debtor_id))
        self.kept[experiment.id, debtor_id] = variant.id
        self.new.append(
            {
                "experiment_id": experiment.id,
                "debtor_id": debtor_id,
                "variant_id": variant.id,
                "assigned_at": self.now,
            }
        )
        return variant

    def template(self, debtor_id, template_key, segment):
        """The treatment of a reminder rendered from template_key for a debtor in segment, or
        None when no experiment varies it."""
        for entry in self.by_key.get(template_key, ()):
            experiment = entry[0]
            if experiment.segment and experiment.segment != segment:
                continue
            variant = self._variant(entry, debtor_id)
            return _treatment(variant) if variant is not None else None
        return None

    def cadence(self, debtor_id, segment):
        """The cadence treatment of a debtor in segment, or None."""
        entry = self.by_segment.get(segment)
        if entry is None:
            return None
        variant = self._variant(entry, debtor_id)
        return _treatment(variant) if variant is not None else None

    def flush(self):
        """Write the new assignments (the caller commits); the first assignment wins."""
        if not self.new:
            return 0
        dialect = self.session.get_bind().dialect.name
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(ExperimentAssignment).on_conflict_do_nothing()
        count = self.session.execute(stmt, self.new).rowcount or 0
        self.new = []
        return count


def variant_names(session, variant_ids):
    """{variant id: (experiment name, variant name)} for labels."""
    if not variant_ids:
        return {}
    rows = session.execute(
        select(ExperimentVariant.id, Experiment.name, ExperimentVariant.name)
        .join(Experiment, Experiment.id == ExperimentVariant.experiment_id)
        .where(ExperimentVariant.id.in_(set(variant_ids)))
    )
    return {vid: (exp, name) for vid, exp, name in rows}
