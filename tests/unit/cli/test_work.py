"""The worker's process: started as the Procfile starts it, it does not import the web tier."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Load the app the way `flask --app <Procfile's app> worker` does, resolve the worker command
# and import everything its body imports, then list what came in.
PROBE = """
import json, sys
from flask.cli import ScriptInfo
from bot.cli import work
from bot.tasks import health, jobs, queues, worker

app = ScriptInfo(app_import_path=sys.argv[1]).load_app()
assert app.cli.commands["worker"] is work.worker
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("bot.", "flask_babel", "scipy")))))
"""


def _worker_app(procfile):
    line = next(x for x in (ROOT / procfile).read_text().splitlines() if x.startswith("worker:"))
    return re.search(r'--app "([^"]+)"', line).group(1)


def _modules(app_path, tmp_path):
    env = {
        **os.environ,
        "APP_ENV": "test",
        "SECRET_KEY": "x" * 32,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE, app_path],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_worker_does_not_import_the_web_tier(tmp_path):
    for procfile in ("Procfile", "Procfile.dev"):
        assert _worker_app(procfile) == "bot:create_app(web=False)"
    modules = _modules(_worker_app("Procfile"), tmp_path)
    assert "bot.tasks.jobs" in modules and "bot.conversations.turn" in modules
    web = sorted(m for m in modules if m == "bot.web" or m.startswith("bot.web."))
    assert web == [], f"the worker imports the web tier: {web}"
    assert "flask_babel" not in modules


def test_the_web_app_still_has_the_consoles(tmp_path):
    modules = _modules("bot:create_app()", tmp_path)
    assert "bot.web.console.agent" in modules and "bot.web.webhooks" in modules
    # The results console's statistics load scipy on its first comparison, not in every web
    # process at start (about 430 modules and 24 MiB each).
    assert "bot.analytics.compare" in modules and "scipy" not in modules
