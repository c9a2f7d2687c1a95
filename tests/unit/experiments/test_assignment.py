"""Stable-hash assignment, and the seam into reminder planning (text, hour, offer, cadence)."""

from collections import Counter
from datetime import date, datetime

import pytest
from sqlalchemy import select

from bot.experiments import variants
from bot.experiments.assignment import Assigner, bucket, pick
from bot.models import Debtor, ExperimentAssignment, ScheduledMessage
from bot.reminders import planning

# Tuesday 2026-11-17, 10:00 in Bogotá: Camila's debt (due 2026-11-10) is 7 days overdue.
NOW = datetime(2026, 11, 17, 15, 0)
CAMILA = "+573001234567"


class Arm:
    def __init__(self, id, share):
        self.id, self.share = id, share


def test_buckets_are_stable_and_split_by_share():
    assert bucket("salt", 42) == bucket("salt", 42)
    assert bucket("salt", 42) != bucket("other", 42) or bucket("salt", 43) != bucket("other", 43)
    arms = [Arm(1, 70), Arm(2, 30)]
    got = Counter(pick(arms, bucket("s", debtor)).id for debtor in range(20_000))
    assert 0.68 < got[1] / 20_000 < 0.72
    assert pick(arms, 0).id == 1 and pick(arms, 9_999).id == 2


def _experiment(db, shares=(50, 50), **challenger):
    key = variants.add_text_variant(
        db,
        "reminder.overdue.friendly",
        "warm",
        {"es": "Hola {first_name}, sin afán: {amount} ({reference}) venció el {due_date}. {url}"},
        None,
    )
    arms = [
        {"name": "champion", "share": shares[0], "is_control": True},
        {"name": "warm", "share": shares[1], "template_key": key, **challenger},
    ]
    experiment = variants.create(
        db, "overdue-tone", "template", arms, None, template_key="reminder.overdue.friendly"
    )
    db.commit()
    return experiment


def camila(db):
    return db.execute(select(Debtor).where(Debtor.phone == CAMILA)).scalar_one()


def test_planning_renders_the_debtors_variant_and_keeps_it(db, demo_debtors):
    experiment = _experiment(db, shares=(0, 100), send_hour=17, offer="none")
    planning.plan(db, now=NOW)
    row = db.execute(
        select(ScheduledMessage).where(ScheduledMessage.debtor_id == camila(db).id)
    ).scalar_one()
    warm = experiment.variants[1]
    assert row.variant_id == warm.id
    assert row.template_key == "reminder.overdue.friendly~warm"
    assert "offer" not in row.variables  # the variant removes the segment's offer line
    assert row.due_at == datetime(2026, 11, 17, 22, 0)  # 17:00 in Bogotá
    kept = db.get(ExperimentAssignment, (experiment.id, camila(db).id))
    assert kept.variant_id == warm.id
    # New shares send new debtors elsewhere; Camila keeps her variant.
    variants.set_shares(db, experiment, {experiment.variants[0].id: 100, warm.id: 0}, None)
    db.commit()
    assigner = Assigner(db, NOW)
    assigner.preload([camila(db).id])
    assert assigner.template(camila(db).id, "reminder.overdue.friendly", "default").variant_id == (
        warm.id
    )
    assert assigner.template(999_999, "reminder.overdue.friendly", "default").variant_id == (
        experiment.variants[0].id
    )


def test_a_promoted_winner_goes_to_everybody_and_is_audited(db, demo_debtors):
    experiment = _experiment(db)
    warm = experiment.variants[1]
    variants.promote(db, experiment, warm.id, None, evidence={"reply": "better"})
    db.commit()
    assigner = Assigner(db, NOW)
    for debtor_id in range(1, 50):
        assert assigner.template(debtor_id, "reminder.overdue.friendly", "x").variant_id == warm.id
    assert assigner.new == []  # nothing more to remember
    from bot.models import AuditEvent

    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "experiment.promoted")
    ).scalar_one()
    assert event.data["winner"] == "warm" and event.data["evidence"] == {"reply": "better"}


def test_a_stopped_experiment_changes_nothing(db, demo_debtors):
    experiment = _experiment(db, shares=(0, 100))
    variants.stop(db, experiment, None)
    db.commit()
    planning.plan(db, now=NOW)
    row = db.execute(
        select(ScheduledMessage).where(ScheduledMessage.debtor_id == camila(db).id)
    ).scalar_one()
    assert (row.variant_id, row.template_key) == (None, "reminder.overdue.friendly")


def test_a_cadence_variant_replaces_the_segments_steps(db, demo_debtors):
    experiment = variants.create(
        db,
        "default-cadence",
        "cadence",
        [
            {"name": "champion", "share": 0, "is_control": True},
            {"name": "day7-only-sooner", "share": 100, "cadence": [{"kind": "due", "offset": 6}]},
        ],
        None,
        segment="default",
    )
    db.commit()
    planning.plan(db, now=NOW)
    # Camila is 7 days overdue: the variant's step (day 6) is within the two days looked back.
    row = db.execute(
        select(ScheduledMessage).where(ScheduledMessage.debtor_id == camila(db).id)
    ).scalar_one()
    assert (row.step, row.ref_date) == ("due:6", date(2026, 11, 10))
    assert row.variant_id == experiment.variants[1].id


@pytest.mark.parametrize(
    "arms, problem",
    [
        ([{"name": "a", "share": 100, "is_control": True}], "at least one challenger"),
        (
            [{"name": "a", "share": 60, "is_control": True}, {"name": "b", "share": 60}],
            "add up to 100",
        ),
        ([{"name": "a", "share": 50}, {"name": "b", "share": 50}], "exactly one variant"),
        (
            [
                {"name": "a", "share": 50, "is_control": True},
                {"name": "b", "share": 50, "template_key": "payment.link"},
            ],
            "needs variables",
        ),
        (
            [
                {"name": "a", "share": 50, "is_control": True},
                {"name": "b", "share": 50, "send_hour": 25},
            ],
            "send hour",
        ),
    ],
)
def test_bad_experiments_are_refused_with_the_reason(db, arms, problem):
    with pytest.raises(variants.ExperimentError) as info:
        variants.create(db, "x", "template", arms, None, template_key="reminder.overdue.friendly")
    assert any(problem in p for p in info.value.problems), info.value.problems
