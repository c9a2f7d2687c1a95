"""SQLAlchemy models, one module per area; import them from here. Money is integer minor units
beside its currency, never a float."""

from bot.clock import utcnow
from bot.models.audit import AuditEvent
from bot.models.base import Base, TimestampMixin
from bot.models.compliance import ConsentRecord, ContactEvent, HolidayOverride
from bot.models.conversations import Conversation, ConversationNote, Message, SandboxMessage
from bot.models.dialogue import ContactRequest, NluReview, Portfolio
from bot.models.email import EmailEvent
from bot.models.ledger import LedgerBalance, LedgerEntry, Settlement
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
from bot.models.people import Account, ConsoleSession, Debtor, User
from bot.models.rails import (
    AutodebitAttempt,
    AutodebitMandate,
    Document,
    PaymentReceipt,
    RailMethod,
    StoredFile,
)
from bot.models.reminders import ContactRule, ScheduledMessage, Segment
from bot.models.results import (
    DailyFact,
    Experiment,
    ExperimentAssignment,
    ExperimentVariant,
    MessagePrice,
    RollupRun,
)
from bot.models.texts import EmailTemplate, MessageTemplate, TemplateKey

__all__ = [
    "Account",
    "AuditEvent",
    "AutodebitAttempt",
    "AutodebitMandate",
    "Base",
    "Checkout",
    "ConsoleSession",
    "ConsentRecord",
    "ContactEvent",
    "ContactRequest",
    "ContactRule",
    "Conversation",
    "ConversationNote",
    "DailyFact",
    "Debtor",
    "Dispute",
    "EmailEvent",
    "EmailTemplate",
    "Experiment",
    "ExperimentAssignment",
    "ExperimentVariant",
    "Document",
    "HolidayOverride",
    "Installment",
    "LedgerBalance",
    "LedgerEntry",
    "Message",
    "MessagePrice",
    "MessageTemplate",
    "NluReview",
    "Payment",
    "PaymentClaim",
    "PaymentEvent",
    "PaymentPlan",
    "PaymentPolicy",
    "PaymentReceipt",
    "Portfolio",
    "Promise",
    "RollupRun",
    "RailMethod",
    "SandboxMessage",
    "Settlement",
    "ScheduledMessage",
    "Segment",
    "StoredFile",
    "TemplateKey",
    "TimestampMixin",
    "User",
    "utcnow",
]
