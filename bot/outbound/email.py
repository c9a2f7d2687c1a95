"""E-mail leaving: one outbound row (the bot's reply, an agent's message, a reminder) rendered
from the template store into a multipart/alternative message (text and HTML) and handed to a
Mailer: SMTP (smtplib) by default, the sandbox's catcher without an SMTP host.

Every e-mail carries List-Unsubscribe with a signed one-click URL and List-Unsubscribe-Post
(RFC 8058) plus a visible link in the footer; both record the debtor's e-mail opt-out. The
row is marked 'sending' (committed) before the SMTP transaction; SMTP cannot be asked whether
it took a message, so a transaction cut off mid-way is sent again with the same Message-ID,
which mail clients show once.
"""

import hashlib
import logging
import secrets
import smtplib
import ssl
import time
from datetime import timezone
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from bot import audit, channels, hooks, statuses
from bot.clock import utcnow
from bot.contact import preferences
from bot.models import Debtor, EmailEvent, Message
from bot.outbound.compose import conversation_locale
from bot.outbound.errors import ProviderUnavailable
from bot.outbound.sandbox import SandboxMailer
from bot.templates import email as email_templates

log = logging.getLogger(__name__)
Out = statuses.Outbound
SENT = "sent"  # the SMTP server accepted it
# Reply codes that say the address does not exist (RFC 3463 5.1.x): nothing is sent to it again.
UNKNOWN_ADDRESS = (550, 551, 553)
_SALT = "email-unsubscribe"
# Long headers (the List-Unsubscribe URL) stay on one line, within RFC 5322's 998 characters.
_POLICY = compat32.clone(max_line_length=998)
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
# A kept SMTP connection idle this long is checked (NOOP) before it is used again.
IDLE_CHECK_SECONDS = 5


class MailUnavailable(RuntimeError):
    """The server did not take the message now (retry). not_sent: it certainly did not."""

    def __init__(self, text, not_sent):
        super().__init__(text)
        self.not_sent = not_sent


class MailRejected(RuntimeError):
    """The server refused the message for good (a 5xx reply)."""

    def __init__(self, code, text, recipient=False):
        super().__init__(f"{code} {text}")
        self.code, self.text, self.recipient = code, text, recipient


# -- the interface -------------------------------------------------------------------------------
class SmtpMailer:
    """send(EmailMessage) over one kept SMTP connection (STARTTLS, implicit TLS or plain), with
    login when a user is set. Not shared between threads."""

    def __init__(self, host, port, tls="starttls", user=None, password=None, timeout=10.0):
        self.host, self.port, self.tls = host, int(port), tls
        self.user, self.password, self.timeout = user, password, timeout
        self.conn = None
        self.used_at = 0.0

    @classmethod
    def from_config(cls, config):
        return cls(
            config["EMAIL_SMTP_HOST"],
            config["EMAIL_SMTP_PORT"],
            config["EMAIL_SMTP_TLS"],
            config["EMAIL_SMTP_USER"],
            config["EMAIL_SMTP_PASSWORD"],
            config["EMAIL_SMTP_TIMEOUT"],
        )

    def _connect(self):
        try:
            if self.tls == "ssl":
                conn = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.tls == "starttls":
                    conn.starttls(context=ssl.create_default_context())
            if self.user:
                conn.login(self.user, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(f"SMTP server not reachable: {type(exc).__name__}", True) from exc
        self.conn = conn

    def _ready(self):
        if self.conn is not None and time.monotonic() - self.used_at > IDLE_CHECK_SECONDS:
            try:
                self.conn.noop()
            except (OSError, smtplib.SMTPException):
                self.close()
        if self.conn is None:
            self._connect()

    def send(self, message):
        self._ready()
        try:
            refused = self.conn.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _refusal(code, text, recipient=True) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _refusal(exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Cut off mid-transaction: the server may have taken it.
            self.close()
            raise MailUnavailable(f"SMTP transaction cut off: {type(exc).__name__}", False) from exc
        finally:
            self.used_at = time.monotonic()
        if refused:  # one recipient per message: a partial refusal is that recipient's refusal
            code, text = next(iter(refused.values()))
            raise _refusal(code, text, recipient=True)

    def close(self):
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self.conn = None


def _refusal(code, text, recipient=False):
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    if 400 <= code < 500:
        return MailUnavailable(f"SMTP {code}: {text[:200]}", True)
    return MailRejected(code, text[:200], recipient)


def get_mailer():
    """The process's mailer: SMTP when EMAIL_SMTP_HOST is set, else in sandbox mode the
    catcher that keeps e-mails for the simulator, else none (e-mail is off)."""
    ext = current_app.extensions
    config = current_app.config
    if "email_mailer" not in ext:
        if config.get("EMAIL_SMTP_HOST"):
            ext["email_mailer"] = SmtpMailer.from_config(config)
        elif config.get("SANDBOX") and config.get("EMAIL_ENABLED"):
            ext["email_mailer"] = SandboxMailer()
        else:
            raise ProviderUnavailable("e-mail is not configured (EMAIL_SMTP_HOST)")
    return ext["email_mailer"]


# -- unsubscribe -------------------------------------------------------------------------------
def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def address_hash(address):
    return hashlib.sha256(address.lower().encode()).hexdigest()[:16]


def unsubscribe_token(debtor_id, address):
    """Signed, not expiring (an old e-mail's link must still work), nothing personal readable."""
    return _serializer().dumps([debtor_id, address_hash(address)])


def read_unsubscribe_token(token):
    """(debtor id, address hash), or None for a token that is not ours."""
    try:
        debtor_id, hashed = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return (debtor_id, hashed) if isinstance(debtor_id, int) else None


def unsubscribe_url(debtor_id, address):
    base = current_app.config["PUBLIC_BASE_URL"]
    return f"{base}/email/unsubscribe/{unsubscribe_token(debtor_id, address)}"


# -- composing ---------------------------------------------------------------------------------
def _domain():
    return parseaddr(current_app.config["EMAIL_FROM"])[1].rpartition("@")[2] or "localhost"


def message_id_header(token):
    return f"<{token}@{_domain()}>"


def _thread(session, row):
    """(subject, In-Reply-To) of the debtor's e-mail this row answers (or, for a message
    without a template, an agent's, the latest one); a reminder starts its own thread."""
    inbound = None
    if row.reply_to_id:
        inbound = session.get(Message, row.reply_to_id)
    elif row.template_key:
        return None, None
    if inbound is None:
        inbound = session.execute(
            select(Message)
            .where(Message.conversation_id == row.conversation_id, Message.direction == "in")
            .order_by(Message.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    if inbound is None:
        return None, None
    header = session.execute(
        select(EmailEvent.event_id).where(
            EmailEvent.message_id == inbound.id, EmailEvent.kind == "inbound"
        )
    ).scalar_one_or_none()
    subject = inbound.subject or ""
    if subject and not subject.lower().startswith("re:"):
        subject = "Re: " + subject
    return subject or None, header


def compose(session, row, locale, cache=None):
    """Render the row's e-mail once (subject and HTML kept on the row, its Message-ID token as
    its provider id) and return the message to send: multipart/alternative, text then HTML.
    cache (a dict kept for one batch) holds the template rows looked up."""
    conversation = row.conversation
    debtor = conversation.debtor
    config = current_app.config
    url = unsubscribe_url(debtor.id if debtor else 0, conversation.address)
    subject, in_reply_to = _thread(session, row)
    rendered = email_templates.render_email(
        session,
        row.template_key,
        locale,
        row.variables,
        row.body,
        config.get("CREDITOR_NAME") or _domain(),
        url,
        subject=subject,
        cache=cache,
    )
    if row.subject is None or row.html is None:
        row.subject, row.html = rendered.subject, rendered.html
    if row.provider_sid is None:
        row.provider_sid = f"em{row.id}.{secrets.token_hex(8)}"
    # The email package's MIME classes: the same message as EmailMessage builds, several times
    # faster to build (headers are not parsed back), which matters at campaign sizes.
    msg = MIMEMultipart("alternative", policy=_POLICY)
    msg["Subject"] = Header(row.subject, "utf-8")
    msg["From"] = _address_header(config["EMAIL_FROM"])
    msg["To"] = _address_header(conversation.address)
    if config.get("EMAIL_REPLY_TO"):
        msg["Reply-To"] = _address_header(config["EMAIL_REPLY_TO"])
    msg["Date"] = format_datetime(row.created_at.replace(tzinfo=timezone.utc))
    msg["Message-ID"] = message_id_header(row.provider_sid)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg["List-Unsubscribe"] = f"<{url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.attach(_part(rendered.text, "plain"))
    msg.attach(_part(row.html, "html"))
    return msg


def _part(content, subtype):
    """A UTF-8 text part in quoted-printable: readable in the raw message, lines short."""
    part = MIMENonMultipart("text", subtype, policy=_POLICY)
    part.set_payload(content, _UTF8_QP)
    return part


def _address_header(value):
    """An address header with a non-ASCII display name or address encoded (RFC 2047, IDNA)."""
    name, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    return formataddr((name, f"{local}@{domain}"), charset="utf-8")


# -- delivering --------------------------------------------------------------------------------
def prepare(session, row, locale, cache=None):
    """Mark an unsent row 'sending' with its e-mail rendered (the caller commits)."""
    msg = compose(session, row, locale, cache)
    row.status = Out.SENDING
    row.attempts += 1
    return msg


def record(session, row, error):
    """Apply one send's outcome to a row marked 'sending' (the caller commits); the
    ProviderUnavailable to raise when it must be retried, else None."""
    if error is None:
        row.status = SENT
        row.error_code = row.error_message = None
        return None
    if isinstance(error, MailUnavailable):
        row.status = Out.PENDING if error.not_sent else Out.SENDING
        return ProviderUnavailable(str(error))
    row.status, row.error_code = Out.FAILED, f"smtp:{error.code}"
    row.error_message = str(error)[:256]
    debtor = row.conversation.debtor
    if error.recipient and error.code in UNKNOWN_ADDRESS and debtor is not None:
        mark_undeliverable(session, debtor, row.conversation.address, f"smtp {error}")
    hooks.delivery_failed.first(session, row, row.error_code)
    return None


def deliver(session, row, mailer=None):
    """Send one unsent e-mail row; a cut-off transaction is sent again with the same
    Message-ID. Raises ProviderUnavailable for the job to retry."""
    if row.status not in Out.UNSENT:
        return
    mailer = mailer or get_mailer()
    msg = prepare(session, row, conversation_locale(row.conversation))
    session.commit()
    try:
        mailer.send(msg)
        error = None
    except (MailUnavailable, MailRejected) as exc:
        error = exc
    retry = record(session, row, error)
    session.commit()
    if retry is not None:
        raise retry from error


def mark_undeliverable(session, debtor, address, detail, now=None):
    """The debtor's address bounced for good: nothing is e-mailed to it again (until changed)."""
    if debtor.email_undeliverable_at is not None or (debtor.email or "") != address:
        return False
    debtor.email_undeliverable_at = now or utcnow()
    audit.record(session, "worker", "email.undeliverable", debtor, {"detail": detail[:200]})
    return True


def is_email(conversation):
    return conversation.channel == channels.EMAIL


def unsubscribe(session, token, how, now=None):
    """Record the e-mail opt-out a signed unsubscribe token asks for, with its evidence (how:
    "one_click", the RFC 8058 POST from the mail client, or "link", the footer's page).
    Returns the debtor, or None for a token that is not ours. Idempotent."""
    found = read_unsubscribe_token(token)
    if found is None:
        return None
    debtor_id, hashed = found
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        return None
    words = (
        "List-Unsubscribe one-click POST (RFC 8058)"
        if how == "one_click"
        else "unsubscribe link in an e-mail footer, confirmed on the page"
    )
    preferences.record_opt_out(
        session,
        debtor,
        channels.EMAIL,
        f"debtor:{debtor.id}",
        now=now,
        words=f"{words}; address sha256 {hashed}",
        method="unsubscribe",
    )
    return debtor
