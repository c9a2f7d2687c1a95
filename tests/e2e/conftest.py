import pytest

from .stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The whole real stack, started once per test session (Rasa takes a while to load)."""
    s = Stack(tmp_path_factory.mktemp("stack"), workers=2)
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _clean_twilio(request):
    if "stack" in request.fixturenames:
        request.getfixturevalue("stack").twilio.reset()
