"""SQLAlchemy models, one module per area; import them from here. Money is integer minor units
beside its currency, never a float."""

from bot.clock import utcnow
from bot.models.audit import AuditEvent
from bot.models.base import Base, TimestampMixin
from bot.models.conversations import Conversation, ConversationNote, Message, SandboxMessage
from bot.models.money import (
    Checkout,
    Dispute,
    Installment,
    Payment,
    PaymentClaim,
    PaymentEvent,
    PaymentPlan,
    PaymentPolicy,
    Promise,
)
from bot.models.people import Account, Debtor, User
from bot.models.reminders import ContactRule, ScheduledMessage, Segment
from bot.models.results import (
    DailyFact,
    Experiment,
    ExperimentAssignment,
    ExperimentVariant,
    MessagePrice,
    RollupRun,
)
from bot.models.texts import MessageTemplate, TemplateKey

__all__ = [
    "Account",
    "AuditEvent",
    "Base",
    "Checkout",
    "ContactRule",
    "Conversation",
    "ConversationNote",
    "DailyFact",
    "Debtor",
    "Dispute",
    "Experiment",
    "ExperimentAssignment",
    "ExperimentVariant",
    "Installment",
    "Message",
    "MessagePrice",
    "MessageTemplate",
    "Payment",
    "PaymentClaim",
    "PaymentEvent",
    "PaymentPlan",
    "PaymentPolicy",
    "Promise",
    "RollupRun",
    "SandboxMessage",
    "ScheduledMessage",
    "Segment",
    "TemplateKey",
    "TimestampMixin",
    "User",
    "utcnow",
]
