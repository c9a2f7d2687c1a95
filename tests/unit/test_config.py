import pytest

from bot.config import ConfigError, load_config


def test_production_names_each_missing_secret(monkeypatch):
    for name in ("SECRET_KEY", "RASA_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError) as err:
        load_config()
    for name in ("SECRET_KEY", "RASA_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        assert name in str(err.value)


def test_production_starts_with_secrets(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("RASA_TOKEN", "r" * 32)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bot.example.com/")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_x")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    cfg = load_config()
    assert cfg["SANDBOX"] is False
    assert cfg["PAYMENT_PROVIDER"] == "stripe"
    assert cfg["PUBLIC_BASE_URL"] == "https://bot.example.com"
    assert cfg["TWILIO_API_BASE_URL"] is None


def test_development_without_credentials_is_sandbox(monkeypatch):
    for name in ("APP_ENV", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://localhost:5000")
    cfg = load_config()
    assert cfg["SANDBOX"] is True
    assert cfg["TWILIO_API_BASE_URL"] == "http://localhost:5000/sandbox/twilio"
    assert cfg["DATABASE_URL"].startswith("sqlite:///") and cfg["DATABASE_URL"].endswith("bot.db")


def test_production_requires_public_base_url(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    for name in ("SECRET_KEY", "RASA_TOKEN", "TWILIO_AUTH_TOKEN"):
        monkeypatch.setenv(name, "x" * 32)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_config()


def test_live_twilio_credentials_require_a_secret_key(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        load_config()


def test_production_refuses_the_sandbox_payment_provider(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    for name in ("SECRET_KEY", "RASA_TOKEN", "TWILIO_AUTH_TOKEN"):
        monkeypatch.setenv(name, "x" * 32)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bot.example.com")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="sandbox payment provider is not allowed"):
        load_config()
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_x")
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        load_config()


def test_payment_provider_defaults_to_sandbox_without_a_stripe_key(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("PAYMENT_PROVIDER", raising=False)
    cfg = load_config()
    assert cfg["PAYMENT_PROVIDER"] == "sandbox"
    assert cfg["SANDBOX_PAYMENT_SECRET"].startswith("whsec_")


def _clear_providers(monkeypatch):
    for name in (
        "APP_ENV",
        "PAYMENT_PROVIDER",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "MERCADOPAGO_ACCESS_TOKEN",
        "MERCADOPAGO_WEBHOOK_SECRET",
        "AUTODEBIT_PROVIDER",
        "AUTODEBIT_RETRY_DAYS",
        "AUTODEBIT_FROM_HOUR",
    ):
        monkeypatch.delenv(name, raising=False)


def test_mercado_pago_needs_its_token_and_webhook_secret(monkeypatch):
    _clear_providers(monkeypatch)
    monkeypatch.setenv("MERCADOPAGO_ACCESS_TOKEN", "APP_USR-1")
    with pytest.raises(ConfigError, match="PAYMENT_PROVIDER=mercadopago needs MERCADOPAGO_WEBHOOK"):
        load_config()
    monkeypatch.setenv("MERCADOPAGO_WEBHOOK_SECRET", "whsec")
    cfg = load_config()
    # Mercado Pago by default with its token; no auto-debit through it (see README).
    assert cfg["PAYMENT_PROVIDER"] == "mercadopago" and cfg["AUTODEBIT_PROVIDER"] is None


def test_auto_debit_follows_the_provider_or_is_set_apart(monkeypatch):
    _clear_providers(monkeypatch)
    assert load_config()["AUTODEBIT_PROVIDER"] == "sandbox"
    monkeypatch.setenv("AUTODEBIT_PROVIDER", "none")
    assert load_config()["AUTODEBIT_PROVIDER"] is None
    # Checkout by Mercado Pago, auto-debit by Stripe: each needs its own secrets.
    monkeypatch.setenv("PAYMENT_PROVIDER", "mercadopago")
    monkeypatch.setenv("MERCADOPAGO_ACCESS_TOKEN", "APP_USR-1")
    monkeypatch.setenv("MERCADOPAGO_WEBHOOK_SECRET", "whsec")
    monkeypatch.setenv("AUTODEBIT_PROVIDER", "stripe")
    with pytest.raises(ConfigError, match="AUTODEBIT_PROVIDER=stripe needs STRIPE_SECRET_KEY"):
        load_config()
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    cfg = load_config()
    assert (cfg["PAYMENT_PROVIDER"], cfg["AUTODEBIT_PROVIDER"]) == ("mercadopago", "stripe")
    monkeypatch.setenv("AUTODEBIT_PROVIDER", "mercadopago")
    with pytest.raises(ConfigError, match="do not fit installment plans"):
        load_config()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AUTODEBIT_RETRY_DAYS", "7,3", "increasing"),
        ("AUTODEBIT_RETRY_DAYS", "tres", "increasing"),
        ("AUTODEBIT_RETRY_DAYS", "0,2", "increasing"),
        ("AUTODEBIT_FROM_HOUR", "24", "hour from 0 to 23"),
        ("PAYMENT_PROVIDER", "paypal", "sandbox, stripe or mercadopago"),
    ],
)
def test_odd_payment_settings_are_named(monkeypatch, name, value, message):
    _clear_providers(monkeypatch)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_retry_days_and_the_document_key(monkeypatch):
    _clear_providers(monkeypatch)
    monkeypatch.setenv("AUTODEBIT_RETRY_DAYS", "2, 5,9")
    cfg = load_config()
    assert cfg["AUTODEBIT_RETRY_DAYS"] == [2, 5, 9]
    assert cfg["DOCUMENT_SECRET"] and cfg["DOCUMENT_SECRET"] != cfg["SECRET_KEY"]
    monkeypatch.setenv("DOCUMENT_SECRET", "kept-across-rotations")
    assert load_config()["DOCUMENT_SECRET"] == "kept-across-rotations"


def test_contact_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("CONTACT_PACKS_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="CONTACT_PACKS_DIR"):
        load_config()
    monkeypatch.setenv("CONTACT_PACKS_DIR", str(tmp_path))
    monkeypatch.setenv("CREDITOR_NAME", "Tienda Sol")
    monkeypatch.setenv("FIRST_CONTACT_NAMES_CREDITOR", "1")
    cfg = load_config()
    assert cfg["CONTACT_PACKS_DIR"] == str(tmp_path) and cfg["CREDITOR_NAME"] == "Tienda Sol"
    assert cfg["FIRST_CONTACT_NAMES_CREDITOR"] is True


def test_a_bad_pack_stops_the_app_at_start(tmp_path):
    from bot import create_app
    from bot.contact.packs import PackError

    (tmp_path / "BR.yml").write_text("country: BR\ngate: {bedtime: true}\n", encoding="utf-8")
    with pytest.raises(PackError, match="bedtime"):
        create_app({"APP_ENV": "test", "CONTACT_PACKS_DIR": str(tmp_path)})
