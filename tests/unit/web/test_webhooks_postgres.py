"""The inbound webhook's Core statements on a real PostgreSQL: a new conversation linked to its
debtor, a retried MessageSid stored once, a closed conversation reopened, an agent's hold kept."""

from redis import Redis
from rq import Queue
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot import create_app
from bot.db import session as db_session
from bot.debts.imports import import_csv
from bot.models import Conversation, Message
from bot.tasks import queues
from tests.conftest import DEMO_CSV

PATH = "/webhooks/twilio/messages"


def test_inbound_on_postgresql(postgres, redis_server):
    app = create_app(
        {
            "APP_ENV": "test",
            "DATABASE_URL": postgres.create_database(),
            "REDIS_URL": redis_server,
            "PUBLIC_BASE_URL": "https://bot.example.test",
        }
    )
    assert app.test_cli_runner().invoke(args=["db-upgrade"]).exit_code == 0
    client = app.test_client()
    validator = RequestValidator(app.config["TWILIO_AUTH_TOKEN"])

    def post(sid, body="hola"):
        form = {"MessageSid": sid, "From": "whatsapp:+573001234567", "Body": body}
        signature = validator.compute_signature("https://bot.example.test" + PATH, form)
        return client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})

    with app.app_context():
        s = db_session()
        with DEMO_CSV.open("rb") as fh:
            assert not import_csv(s, fh).errors
        assert post("SM1").status_code == 200
        assert post("SM1").status_code == 200  # Twilio's retry
        conversation = s.execute(select(Conversation)).scalar_one()
        assert conversation.debtor_id is not None and conversation.last_inbound_at is not None
        conversation.state = "closed"
        s.commit()
        assert post("SM2", "sigo aquí\x00").status_code == 200
        s.expire_all()
        assert s.get(Conversation, conversation.id).state == "bot"
        s.get(Conversation, conversation.id).state = "agent"
        s.commit()
        assert post("SM3").status_code == 200
        s.expire_all()
        assert s.get(Conversation, conversation.id).state == "agent"
        assert s.execute(select(func.count()).select_from(Message)).scalar() == 3
        ids = s.execute(select(Message.id)).scalars().all()
        assert s.execute(select(Message.body).where(Message.provider_sid == "SM2")).scalar() == (
            "sigo aquí"
        )
    redis = Redis.from_url(redis_server)  # each message's job enqueued after its commit
    jobs = {job.id for job in Queue(queues.INBOUND, connection=redis).jobs}
    assert all(redis.get(queues.marker("process_inbound", i)).decode() in jobs for i in ids)
