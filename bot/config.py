"""Configuration from environment variables only (see .env.example)."""

import hashlib
import os
from pathlib import Path

from bot.hours import ScheduleError, parse_hours

ROOT = Path(__file__).resolve().parent.parent
# Development and tests only: production refuses SQLite (see database_url).
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'instance' / 'bot.db'}"

# Secrets a production deployment must set; sandbox/development derives harmless stand-ins.
PRODUCTION_SECRETS = ("SECRET_KEY", "RASA_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot work."""


def _env(name, default=None):
    value = os.environ.get(name, "").strip()
    return value if value else default


def load_config(overrides=None):
    """Build the settings dict from the environment, then apply overrides (tests)."""
    env = _env("APP_ENV", "development")
    cfg = {
        "APP_ENV": env,
        "SECRET_KEY": _env("SECRET_KEY"),
        "DATABASE_URL": _env("DATABASE_URL"),
        "REDIS_URL": _env("REDIS_URL", "redis://localhost:6379/0"),
        "RASA_URL": _env("RASA_URL", "http://localhost:5005"),
        "RASA_TOKEN": _env("RASA_TOKEN"),
        "ACTION_SERVER_URL": _env("ACTION_SERVER_URL", "http://localhost:5055/webhook"),
        "TWILIO_ACCOUNT_SID": _env("TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": _env("TWILIO_AUTH_TOKEN"),
        "TWILIO_WHATSAPP_FROM": _env("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886"),
        "TWILIO_SMS_FROM": _env("TWILIO_SMS_FROM", "+15005550006"),
        "TWILIO_API_BASE_URL": _env("TWILIO_API_BASE_URL"),
        "PUBLIC_BASE_URL": _env("PUBLIC_BASE_URL", "http://localhost:5000").rstrip("/"),
        "DEFAULT_LOCALE": _env("DEFAULT_LOCALE", "es"),
        "RASA_TIMEOUT": float(_env("RASA_TIMEOUT", "10")),
        "TWILIO_TIMEOUT": float(_env("TWILIO_TIMEOUT", "10")),
        "MAX_INBOUND_BODY": int(_env("MAX_INBOUND_BODY", "4096")),
        "SWEEP_INTERVAL": int(_env("SWEEP_INTERVAL", "30")),
        "SWEEP_MIN_AGE": int(_env("SWEEP_MIN_AGE", "60")),
        "CONVERSATION_LOCK_TTL": int(_env("CONVERSATION_LOCK_TTL", "30")),
        # Rasa or Twilio down: a message goes to the agents only after this many minutes of
        # failed tries; one failed that way is tried again when the dependency answers, for
        # FAILED_RETRY_HOURS after it arrived.
        "OUTAGE_GIVE_UP_MINUTES": int(_env("OUTAGE_GIVE_UP_MINUTES", "30")),
        "FAILED_RETRY_HOURS": int(_env("FAILED_RETRY_HOURS", "24")),
        "PAY_LINK_TTL_HOURS": int(_env("PAY_LINK_TTL_HOURS", "72")),
        "AGENT_HOURS": _env("AGENT_HOURS", "mon-fri 08:00-18:00, sat 09:00-13:00"),
        "AGENT_TIMEZONE": _env("AGENT_TIMEZONE", "America/Bogota"),
        # Minutes an agent takes per conversation in the queue: a debtor who writes again while
        # waiting is told about this many minutes for each conversation ahead of theirs.
        "AGENT_MINUTES_PER_CONVERSATION": int(_env("AGENT_MINUTES_PER_CONVERSATION", "5")),
        "LOG_LEVEL": _env("LOG_LEVEL", "INFO"),
        # text (a line per record) or json (one object per line, personal data masked).
        "LOG_FORMAT": _env("LOG_FORMAT", "text"),
        # /metrics (web) and the workers' metrics ports: a bearer token; empty: local only.
        "METRICS_TOKEN": _env("METRICS_TOKEN"),
        # Where a worker's --metrics-port listens (0.0.0.0 inside a container network).
        "METRICS_INTERFACE": _env("METRICS_INTERFACE", "127.0.0.1"),
        # Console sessions end after this many minutes without a request.
        "CONSOLE_IDLE_MINUTES": int(_env("CONSOLE_IDLE_MINUTES", "30")),
        # Reverse proxies in front of the web app whose X-Forwarded-* headers are trusted.
        "PROXY_HOPS": int(_env("PROXY_HOPS", "0")),
        # Payments (issue 6): the provider behind the payment page and its webhook.
        "PAYMENT_PROVIDER": _env("PAYMENT_PROVIDER"),  # sandbox / stripe; see _finish
        "STRIPE_SECRET_KEY": _env("STRIPE_SECRET_KEY"),
        "STRIPE_WEBHOOK_SECRET": _env("STRIPE_WEBHOOK_SECRET"),
        "STRIPE_API_BASE": _env("STRIPE_API_BASE"),  # a local fake Stripe in tests
        "FRESH_LINKS_PER_HOUR": int(_env("FRESH_LINKS_PER_HOUR", "3")),
        # Local rails (issue 13): Mercado Pago, auto-debit, receipts and documents.
        "MERCADOPAGO_ACCESS_TOKEN": _env("MERCADOPAGO_ACCESS_TOKEN"),
        "MERCADOPAGO_WEBHOOK_SECRET": _env("MERCADOPAGO_WEBHOOK_SECRET"),
        "MERCADOPAGO_API_BASE": _env("MERCADOPAGO_API_BASE"),  # a local fake in tests
        "AUTODEBIT_PROVIDER": _env("AUTODEBIT_PROVIDER"),  # see _autodebit
        "AUTODEBIT_RETRY_DAYS": _env("AUTODEBIT_RETRY_DAYS", "3,7"),
        "AUTODEBIT_INTERVAL": int(_env("AUTODEBIT_INTERVAL", "3600")),
        "AUTODEBIT_FROM_HOUR": int(_env("AUTODEBIT_FROM_HOUR", "8")),
        "RECEIPT_MAX_BYTES": int(_env("RECEIPT_MAX_BYTES", str(10 * 1024 * 1024))),
        "CREDITOR_NAME": _env("CREDITOR_NAME", ""),
        "DOCUMENT_SECRET": _env("DOCUMENT_SECRET"),
        "DOCUMENT_LINK_TTL_HOURS": int(_env("DOCUMENT_LINK_TTL_HOURS", "72")),
        # Proactive reminders and campaigns (issue 5).
        "SEND_RATE_PER_SECOND": float(_env("SEND_RATE_PER_SECOND", "80")),
        "REMINDER_PLAN_INTERVAL": int(_env("REMINDER_PLAN_INTERVAL", "3600")),
        "REMINDER_MAX_DELAY_HOURS": int(_env("REMINDER_MAX_DELAY_HOURS", "72")),
        "REMINDER_BATCH": int(_env("REMINDER_BATCH", "1000")),
        "REMINDER_SEND_BATCH": int(_env("REMINDER_SEND_BATCH", "200")),
        "REMINDER_REQUEUE_AFTER": int(_env("REMINDER_REQUEUE_AFTER", "600")),
        "REMINDER_TICK": _env("REMINDER_TICK", "1") not in ("0", "false", "no"),
        # Results dashboard (issue 15): the zone its days are counted in, and how often the
        # workers recompute the daily aggregates (seconds).
        "ANALYTICS_TIMEZONE": _env("ANALYTICS_TIMEZONE"),
        "ANALYTICS_INTERVAL": int(_env("ANALYTICS_INTERVAL", "3600")),
        # The daily accrual of interest and late fees (issue 13): how often the workers' tick
        # asks for it (each debtor's day changes at their own midnight); 0 = never.
        "ACCRUAL_INTERVAL": int(_env("ACCRUAL_INTERVAL", "3600")),
        "ACCRUAL_BATCH": int(_env("ACCRUAL_BATCH", "2000")),
        # Compliance (issue 12): extra or replacement country packs, and whether a discreet
        # first contact may carry the creditor's name (CREDITOR_NAME above).
        "CONTACT_PACKS_DIR": _env("CONTACT_PACKS_DIR"),
        "FIRST_CONTACT_NAMES_CREDITOR": _env("FIRST_CONTACT_NAMES_CREDITOR", "0")
        in ("1", "true", "yes"),
        # E-mail (issue 14): SMTP (TLS: starttls, ssl or none), the sender and reply address,
        # the HMAC key of the inbound and bounce webhooks, and the order channels are tried in
        # after the debtor's preferred one.
        "EMAIL_SMTP_HOST": _env("EMAIL_SMTP_HOST"),
        "EMAIL_SMTP_PORT": int(_env("EMAIL_SMTP_PORT", "587")),
        "EMAIL_SMTP_TLS": _env("EMAIL_SMTP_TLS", "starttls").lower(),
        "EMAIL_SMTP_USER": _env("EMAIL_SMTP_USER"),
        "EMAIL_SMTP_PASSWORD": _env("EMAIL_SMTP_PASSWORD"),
        "EMAIL_SMTP_TIMEOUT": float(_env("EMAIL_SMTP_TIMEOUT", "10")),
        "EMAIL_FROM": _env("EMAIL_FROM", "Cobranzas <cobros@localhost>"),
        "EMAIL_REPLY_TO": _env("EMAIL_REPLY_TO"),
        "EMAIL_WEBHOOK_SECRET": _env("EMAIL_WEBHOOK_SECRET"),
        "CHANNEL_ORDER": _env("CHANNEL_ORDER", "whatsapp,sms,email"),
        # Sandbox mode without an SMTP host: e-mails are kept for the simulator (on by default
        # in development; tests turn e-mail on themselves).
        "EMAIL_SANDBOX": _env("EMAIL_SANDBOX", "0" if env in ("test", "production") else "1")
        in ("1", "true", "yes"),
    }
    if overrides:
        cfg.update(overrides)
    _finish(cfg, overrides)
    return cfg


def database_url(app_env=None, url=None):
    """The database URL (DATABASE_URL and APP_ENV by default), checked: production runs on
    PostgreSQL only and says so at start-up rather than fall back to a SQLite file. Heroku-style
    postgres:// URLs are accepted (SQLAlchemy 1.4 knows only postgresql://)."""
    app_env = app_env or _env("APP_ENV", "development")
    url = url if url is not None else _env("DATABASE_URL")
    if url and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if app_env != "production":
        return url or DEFAULT_DATABASE_URL
    if not url:
        raise ConfigError(
            "DATABASE_URL is not set: production needs a PostgreSQL database "
            "(postgresql://user:password@host:5432/name), not the development SQLite file."
        )
    if not url.startswith("postgresql"):
        scheme = url.split(":", 1)[0]
        why = (
            " SQLite is one file on one machine: processes elsewhere would not share it, and it "
            "takes one writer at a time."
            if scheme.startswith("sqlite")
            else ""
        )
        raise ConfigError(
            f"DATABASE_URL names a {scheme} database: production needs PostgreSQL "
            f"(postgresql://user:password@host:5432/name).{why}"
        )
    return url


def _finish(cfg, overrides=None):
    production = cfg["APP_ENV"] == "production"
    if production:
        missing = [name for name in PRODUCTION_SECRETS if not cfg.get(name)]
        # PUBLIC_BASE_URL has a development default; production must say where Twilio calls.
        if not (_env("PUBLIC_BASE_URL") or (overrides or {}).get("PUBLIC_BASE_URL")):
            missing.append("PUBLIC_BASE_URL")
        if not cfg["DATABASE_URL"]:
            missing.append("DATABASE_URL (PostgreSQL)")
        if missing:
            raise ConfigError(
                "Missing required setting(s) for production: "
                + ", ".join(missing)
                + ". Set them in the environment (see .env.example)."
            )
    cfg["DATABASE_URL"] = database_url(cfg["APP_ENV"], cfg["DATABASE_URL"] or "")
    live = bool(cfg["TWILIO_ACCOUNT_SID"] and cfg["TWILIO_AUTH_TOKEN"])
    if live and not production and not cfg["SECRET_KEY"]:
        raise ConfigError(
            "SECRET_KEY is required when Twilio credentials are set: it keys the hash of the "
            "debtors' ID digits and must not be the development default."
        )
    if not cfg["SECRET_KEY"]:
        # Development only: stable per checkout so sessions and signatures survive restarts.
        cfg["SECRET_KEY"] = hashlib.sha256(f"dev-secret:{ROOT}".encode()).hexdigest()
    if not cfg["RASA_TOKEN"]:
        cfg["RASA_TOKEN"] = hashlib.sha256(f"rasa:{cfg['SECRET_KEY']}".encode()).hexdigest()[:32]
    cfg["ANALYTICS_TIMEZONE"] = cfg.get("ANALYTICS_TIMEZONE") or cfg["AGENT_TIMEZONE"]
    try:
        parse_hours(cfg["AGENT_HOURS"])
    except ScheduleError as exc:
        raise ConfigError(str(exc)) from exc
    _payment_provider(cfg, production)
    _email(cfg)
    if cfg["CONTACT_PACKS_DIR"] and not Path(cfg["CONTACT_PACKS_DIR"]).is_dir():
        raise ConfigError(f"CONTACT_PACKS_DIR {cfg['CONTACT_PACKS_DIR']} is not a directory.")
    cfg["SANDBOX"] = not (cfg["TWILIO_ACCOUNT_SID"] and cfg["TWILIO_AUTH_TOKEN"])
    if cfg["SANDBOX"]:
        if production:
            raise ConfigError("Sandbox mode is not allowed in production: set TWILIO_* settings.")
        cfg["TWILIO_ACCOUNT_SID"] = "AC" + "0" * 32
        cfg["TWILIO_AUTH_TOKEN"] = hashlib.sha256(
            f"sandbox:{cfg['SECRET_KEY']}".encode()
        ).hexdigest()[:32]
        if not cfg["TWILIO_API_BASE_URL"]:
            cfg["TWILIO_API_BASE_URL"] = cfg["PUBLIC_BASE_URL"] + "/sandbox/twilio"
    return cfg


PROVIDER_SECRETS = {
    "stripe": ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"),
    "mercadopago": ("MERCADOPAGO_ACCESS_TOKEN", "MERCADOPAGO_WEBHOOK_SECRET"),
    "sandbox": (),
}


def _default_provider(cfg):
    if cfg["STRIPE_SECRET_KEY"]:
        return "stripe"
    return "mercadopago" if cfg["MERCADOPAGO_ACCESS_TOKEN"] else "sandbox"


def _payment_provider(cfg, production):
    """Stripe or Mercado Pago when its key is set, else the sandbox provider, which production
    refuses; each real provider needs its secrets."""
    provider = (cfg["PAYMENT_PROVIDER"] or _default_provider(cfg)).lower()
    if provider not in PROVIDER_SECRETS:
        raise ConfigError(
            f"PAYMENT_PROVIDER must be sandbox, stripe or mercadopago, not {provider!r}."
        )
    if provider == "sandbox" and production:
        raise ConfigError(
            "The sandbox payment provider is not allowed in production: set PAYMENT_PROVIDER="
            "stripe (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET) or mercadopago "
            "(MERCADOPAGO_ACCESS_TOKEN, MERCADOPAGO_WEBHOOK_SECRET)."
        )
    _require_secrets(cfg, "PAYMENT_PROVIDER", provider)
    cfg["PAYMENT_PROVIDER"] = provider
    _autodebit(cfg, production)
    # The sandbox provider signs its events like Stripe does, with a key derived from SECRET_KEY.
    cfg["SANDBOX_PAYMENT_SECRET"] = (
        "whsec_sandbox_" + hashlib.sha256(f"pay:{cfg['SECRET_KEY']}".encode()).hexdigest()[:32]
    )
    if not cfg["DOCUMENT_SECRET"]:
        # Documents stay verifiable as long as this key does: set DOCUMENT_SECRET to keep them
        # verifiable across a SECRET_KEY rotation.
        cfg["DOCUMENT_SECRET"] = hashlib.sha256(f"docs:{cfg['SECRET_KEY']}".encode()).hexdigest()


def _require_secrets(cfg, setting, provider):
    missing = [n for n in PROVIDER_SECRETS[provider] if not cfg.get(n)]
    if missing:
        raise ConfigError(
            f"{setting}={provider} needs " + ", ".join(missing) + " (see .env.example)."
        )


# Providers that can save a payment method and charge it off-session.
AUTODEBIT_PROVIDERS = ("stripe", "sandbox")


def _autodebit(cfg, production):
    """Auto-debit through AUTODEBIT_PROVIDER: by default the payment provider when it can
    charge a saved card (Stripe, the sandbox), none otherwise; "none" turns it off."""
    value = (cfg["AUTODEBIT_PROVIDER"] or "").lower()
    if not value:
        value = cfg["PAYMENT_PROVIDER"] if cfg["PAYMENT_PROVIDER"] in AUTODEBIT_PROVIDERS else ""
    if value == "none":
        value = ""
    if value and value not in AUTODEBIT_PROVIDERS:
        raise ConfigError(
            f"AUTODEBIT_PROVIDER must be stripe, sandbox or none, not {value!r} (Mercado Pago's "
            "recurring payments do not fit installment plans: see README)."
        )
    if value == "sandbox" and production:
        raise ConfigError("AUTODEBIT_PROVIDER=sandbox is not allowed in production.")
    if value:
        _require_secrets(cfg, "AUTODEBIT_PROVIDER", value)
    cfg["AUTODEBIT_PROVIDER"] = value or None
    raw = cfg["AUTODEBIT_RETRY_DAYS"]
    try:
        days = [int(d) for d in (raw if isinstance(raw, list | tuple) else raw.split(",")) if d]
    except (ValueError, AttributeError):
        days = [-1]
    if any(d <= 0 or d > 60 for d in days) or days != sorted(set(days)):
        raise ConfigError(
            "AUTODEBIT_RETRY_DAYS must be increasing days after the due date, like 3,7."
        )
    cfg["AUTODEBIT_RETRY_DAYS"] = days
    if not 0 <= cfg["AUTODEBIT_FROM_HOUR"] <= 23:
        raise ConfigError("AUTODEBIT_FROM_HOUR must be an hour from 0 to 23.")


CHANNEL_NAMES = ("whatsapp", "sms", "email")


def _email(cfg):
    """E-mail is on when an SMTP host is set; the channel order names each channel once."""
    if cfg["EMAIL_SMTP_TLS"] not in ("starttls", "ssl", "none"):
        raise ConfigError("EMAIL_SMTP_TLS must be starttls, ssl or none.")
    if "@" not in (cfg["EMAIL_FROM"] or ""):
        raise ConfigError('EMAIL_FROM must be an address, like "Cobranzas <cobros@example.com>".')
    raw = cfg["CHANNEL_ORDER"]
    order = [c.strip() for c in (raw if isinstance(raw, list | tuple) else raw.split(","))]
    order = [c for c in order if c]
    if not order or any(c not in CHANNEL_NAMES for c in order) or len(set(order)) != len(order):
        raise ConfigError("CHANNEL_ORDER must list whatsapp, sms and email, each once.")
    cfg["CHANNEL_ORDER"] = tuple(order)
    sandbox = not (cfg["TWILIO_ACCOUNT_SID"] and cfg["TWILIO_AUTH_TOKEN"])
    cfg["EMAIL_ENABLED"] = bool(cfg["EMAIL_SMTP_HOST"]) or (sandbox and cfg["EMAIL_SANDBOX"])
    if not cfg["EMAIL_WEBHOOK_SECRET"]:
        cfg["EMAIL_WEBHOOK_SECRET"] = hashlib.sha256(
            f"email:{cfg['SECRET_KEY']}".encode()
        ).hexdigest()
