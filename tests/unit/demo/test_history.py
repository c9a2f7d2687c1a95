"""The demo history: made through the services on a moving clock, then aggregated, once."""

from datetime import datetime

from sqlalchemy import func, select

from bot.demo import history
from bot.models import (
    Account,
    DailyFact,
    Experiment,
    ExperimentAssignment,
    Message,
    Payment,
    ScheduledMessage,
)

END = datetime(2026, 3, 20, 12, 0)


def count(db, model, *where):
    return db.execute(select(func.count()).select_from(model).where(*where)).scalar()


def test_a_small_history_fills_the_dashboard_and_is_made_once(db):
    lines = []
    report = history.load(debtors=80, days=20, end=END, log=lines.append)
    db.expire_all()
    assert report.debtors >= 75  # a generated phone may clash with another's
    assert count(db, Account, Account.external_id.like("HIST-%")) == report.debtors
    sent = count(db, ScheduledMessage, ScheduledMessage.status == "sent")
    assert sent == report.contacts > 20
    greetings = Message.body.in_(("hola", "buenas", "ok", "hi"))
    # Each reply opens with a greeting; those who verify send their ID digits next.
    assert count(db, Message, Message.direction == "in", greetings) == report.replies > 5
    assert count(db, Message, Message.direction == "in") > report.replies
    assert count(db, Payment) == report.payments
    experiment = db.execute(select(Experiment)).scalar_one()
    assert experiment.name == history.EXPERIMENT and experiment.status == "running"
    assert count(db, ExperimentAssignment) > 0
    assert count(db, DailyFact, DailyFact.metric == "contacted") > 0
    assert report.days > 0 and "demo history:" in lines[-1]
    assert history.load(debtors=80, days=20, end=END, log=lines.append).debtors == 0
    assert lines[-1] == "demo history: already loaded"
