"""`flask autodebit run`: what the workers' job does, for an operator (idempotent)."""

from bot.payments import autodebit


def test_the_command_reports_what_it_did(app, monkeypatch):
    monkeypatch.setattr(autodebit, "run", lambda session: {"charged": 2, "declined": 1})
    result = app.test_cli_runner().invoke(args=["autodebit", "run"])
    assert result.exit_code == 0 and result.output.strip() == "2 charged, 1 declined"


def test_the_command_waits_for_no_one_forever(app, monkeypatch):
    class Busy:
        def acquire(self, **kwargs):
            return False

    monkeypatch.setattr("bot.cli.autodebit.autodebit_lock", lambda: Busy())
    result = app.test_cli_runner().invoke(args=["autodebit", "run"])
    assert result.exit_code == 1 and "another auto-debit run" in result.output
