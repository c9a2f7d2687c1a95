"""Champion/challenger experiments, the dashboard's daily aggregates and message prices."""

from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from bot.clock import utcnow
from bot.models.base import Base, TimestampMixin

# SQLite only auto-increments an INTEGER primary key; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Experiment(TimestampMixin, Base):
    """A champion/challenger test: variants of a template key, or of a segment's cadence."""

    __tablename__ = "experiments"

    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    kind = Column(String(16), nullable=False)  # template / cadence
    template_key = Column(String(128))  # kind template: the key whose reminders are varied
    segment = Column(String(64))  # kind cadence: the segment; kind template: optional limit
    status = Column(String(16), nullable=False, default="running")  # statuses.Experiment
    # Hashing salt: a debtor's bucket differs between experiments, never between runs.
    salt = Column(String(32), nullable=False)
    winner_variant_id = Column(Integer)
    description = Column(String(256))
    created_by = Column(String(64), nullable=False)
    started_at = Column(DateTime, nullable=False, default=utcnow)
    ended_at = Column(DateTime)

    variants = relationship(
        "ExperimentVariant",
        back_populates="experiment",
        order_by="ExperimentVariant.id",
        cascade="all",
    )


class ExperimentVariant(Base):
    """One arm: its share of the traffic and what it changes (the control changes nothing)."""

    __tablename__ = "experiment_variants"
    __table_args__ = (UniqueConstraint("experiment_id", "name", name="uq_variant_name"),)

    id = Column(Integer, primary_key=True)
    experiment_id = Column(ForeignKey("experiments.id"), nullable=False)
    name = Column(String(32), nullable=False)
    is_control = Column(Boolean, nullable=False, default=False)
    share = Column(Integer, nullable=False)  # percent of the traffic; an experiment's sum to 100
    template_key = Column(String(128))  # another text or tone with the same variables
    send_hour = Column(Integer)  # local hour (0-23) the reminder goes out at
    offer = Column(String(16))  # "none", "plan" or "discount" instead of the segment's offer
    cadence = Column(JSON)  # kind cadence: the steps instead of the segment's

    experiment = relationship("Experiment", back_populates="variants")


class ExperimentAssignment(Base):
    """The variant a debtor got, kept for the experiment's life (shares may change later)."""

    __tablename__ = "experiment_assignments"

    experiment_id = Column(ForeignKey("experiments.id"), primary_key=True)
    debtor_id = Column(ForeignKey("debtors.id"), primary_key=True)
    variant_id = Column(ForeignKey("experiment_variants.id"), nullable=False)
    assigned_at = Column(DateTime, nullable=False, default=utcnow)


class DailyFact(Base):
    """One aggregate of the results dashboard: a metric on a day for one combination of
    dimensions (empty string or 0 = not applicable). Written only by the daily job
    (bot.analytics.rollup), which replaces a day's rows as a whole."""

    __tablename__ = "analytics_daily"
    __table_args__ = (Index("ix_analytics_daily_metric_day", "metric", "day"),)

    id = Column(BigId, primary_key=True)
    day = Column(Date, nullable=False)
    metric = Column(String(32), nullable=False)
    portfolio = Column(String(64), nullable=False, default="")
    segment = Column(String(64), nullable=False, default="")
    country = Column(String(2), nullable=False, default="")
    channel = Column(String(16), nullable=False, default="")
    template_key = Column(String(128), nullable=False, default="")
    variant_id = Column(Integer, nullable=False, default=0)
    agent_id = Column(Integer, nullable=False, default=0)
    currency = Column(String(3), nullable=False, default="")
    cohort = Column(String(7), nullable=False, default="")  # YYYY-MM of the accounts' due date
    detail = Column(String(32), nullable=False, default="")  # a metric's own breakdown
    n = Column(BigInteger, nullable=False, default=0)
    amount = Column(BigInteger, nullable=False, default=0)  # minor units, or seconds


class RollupRun(Base):
    """When a day's aggregates were last computed, and how long it took."""

    __tablename__ = "analytics_runs"

    day = Column(Date, primary_key=True)
    computed_at = Column(DateTime, nullable=False, default=utcnow)
    rows = Column(Integer, nullable=False, default=0)
    seconds = Column(Float, nullable=False, default=0)


class MessagePrice(TimestampMixin, Base):
    """What one message costs on a channel, in a currency (admin-entered, audited)."""

    __tablename__ = "message_prices"

    channel = Column(String(16), primary_key=True)
    currency = Column(String(3), primary_key=True)
    # Major units as exact decimal text ("0.0125"): SQLite would keep a NUMERIC as a float.
    price_text = Column("price", String(24), nullable=False)
    updated_by = Column(String(64), nullable=False)

    @property
    def price(self):
        return Decimal(self.price_text)

    @price.setter
    def price(self, value):
        self.price_text = str(Decimal(value))
