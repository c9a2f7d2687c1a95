import pytest

from actions import context


@pytest.fixture
def conversation(app, conversation):
    """The shared conversation, with the action server's app pointed at the test app."""
    context._app = app
    yield conversation
    context._app = None
