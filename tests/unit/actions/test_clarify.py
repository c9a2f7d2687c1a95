from rasa_sdk.events import FollowupAction
from sqlalchemy import select

from actions.clarify import ActionClarify
from bot.clock import utcnow
from bot.models import NluReview
from tests.unit.actions.helpers import run, sent, tracker


def test_a_clarification_ends_the_turn_and_is_kept_for_review(db, conversation):
    t = tracker(
        conversation, intent="nlu_fallback", text="mi cedula 1234567 y algo raro", message_id=77
    )
    dispatcher, events = run(ActionClarify(), t)
    assert sent(dispatcher)[0][0] == "fallback"
    assert events == [FollowupAction("action_listen")]
    db.expire_all()
    review = db.execute(select(NluReview)).scalar_one()
    assert review.message_id == 77 and review.fell_back == 1
    assert review.text == "mi cedula 0000000 y algo raro"  # long numbers never kept


def test_writing_again_while_in_line_gets_still_in_line(db, conversation):
    conversation.needs_agent = True
    conversation.agent_reason = "request_agent"
    conversation.escalated_at = utcnow()
    db.commit()
    dispatcher, _events = run(
        ActionClarify(), tracker(conversation, intent="out_of_scope", text="??")
    )
    [(template, _variables)] = sent(dispatcher)
    assert template in ("agent.still_waiting", "agent.still_waiting_later")
