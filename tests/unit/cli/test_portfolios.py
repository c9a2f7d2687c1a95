"""`flask portfolio-set`: a portfolio's register, creditor and (for demos and suites) policy."""

from sqlalchemy import select

from bot.debts import policies
from bot.models import AuditEvent, Portfolio


def test_the_command_sets_the_voice_and_the_policy_audited(app, db):
    result = app.test_cli_runner().invoke(
        args=[
            "portfolio-set",
            "suite_descuento",
            "--register",
            "usted",
            "--creditor",
            "Financiera Andina",
            "--policy",
            "discount_max_pct=10",
            "--policy",
            "discount_valid_days=5",
        ]
    )
    assert result.exit_code == 0, result.output
    db.expire_all()
    row = db.get(Portfolio, "suite_descuento")
    assert (row.register, row.creditor_name) == ("usted", "Financiera Andina")
    policy = policies.get(db, "suite_descuento")
    assert (policy.discount_max_pct, policy.discount_valid_days) == (10, 5)
    created = db.execute(
        select(AuditEvent).where(AuditEvent.action == "policy.created")
    ).scalar_one()
    assert created.actor == "cli:portfolio-set"


def test_a_bad_policy_value_is_refused_and_nothing_is_saved(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portfolio-set", "p", "--policy", "discount_max_pct=10"])
    assert result.exit_code != 0 and "days" in result.output
    result = runner.invoke(args=["portfolio-set", "p", "--policy", "colour=blue"])
    assert result.exit_code != 0 and "policy field" in result.output
    db.expire_all()
    assert policies.get(db, "p") is None
