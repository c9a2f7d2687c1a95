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
