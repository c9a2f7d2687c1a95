"""The conversation suite (tests/e2e/suite/): every scripted conversation, in Spanish and
English, played through the signed webhook on the real stack, reaches the outcome its debtor
came for, discloses nothing about a debt before verification, and gets at most one answer set
per message (bot/testing/conversations.py judges them)."""

import pytest

from bot.testing import conversations as suite

pytestmark = pytest.mark.e2e
CSV, PORTFOLIOS, CONVERSATIONS = suite.load_suite()


@pytest.fixture(scope="module")
def suite_stack(stack):
    suite.prepare(stack, CSV, PORTFOLIOS)
    return stack


def test_the_suite_is_large_enough_and_bilingual():
    ids = [c["id"] for c in CONVERSATIONS]
    assert len(ids) >= 60
    assert (
        sum(i.startswith("es-") for i in ids) >= 30 and sum(i.startswith("en-") for i in ids) >= 20
    )


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=[c["id"] for c in CONVERSATIONS])
def test_the_debtor_reaches_the_outcome(suite_stack, conversation):
    result = suite.run(suite_stack, conversation)
    assert result.reached, result.transcript()
