from types import SimpleNamespace

import pytest

from bot.conversations import media


@pytest.mark.parametrize(
    ("types", "kind"),
    [
        (["audio/ogg"], "voice"),
        (["image/jpeg"], "receipt"),
        (["application/pdf"], "receipt"),
        (["image/webp"], "other"),  # a WhatsApp sticker
        (["location"], "other"),
        (["text/vcard"], "other"),
        ([], None),
    ],
)
def test_kinds(types, kind):
    message = SimpleNamespace(media=[{"url": "https://x", "content_type": t} for t in types])
    assert media.kind(message) == kind


def test_a_voice_note_gets_a_kind_answer_with_a_person_on_offer():
    message = SimpleNamespace(media=[{"url": "https://x", "content_type": "audio/ogg"}])
    [reply] = media.replies(message)
    assert reply["template"] == "media.voice"
    assert [b["payload"] for b in reply["buttons"]] == ["/request_agent"]


def test_a_receipt_is_answered_by_its_own_job_not_the_turn():
    message = SimpleNamespace(media=[{"url": "https://x", "content_type": "image/png"}])
    assert media.replies(message) == []
