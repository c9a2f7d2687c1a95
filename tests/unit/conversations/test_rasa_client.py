import itertools
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.conversations import rasa_client


class FakeRasa(ThreadingHTTPServer):
    """A local HTTP server answering Rasa's REST and tracker routes; it records each path."""

    def __init__(self):
        self.paths = []
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    def _answer(self, payload):
        self.server.paths.append(self.path.split("?")[0])
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer([{"custom": {"template": "greet"}}])

    def do_GET(self):
        if self.path.startswith("/status"):
            self._answer({"model_file": "model.tar.gz"})
        else:
            self._answer({"events": []})

    def log_message(self, *args):
        pass


@pytest.fixture
def replicas():
    servers = [FakeRasa(), FakeRasa()]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_turns_go_round_robin_over_the_listed_replicas(app, replicas):
    app.config["RASA_URL"] = f" {replicas[0].url}/ ,{replicas[1].url},"
    with app.app_context():
        assert rasa_client.urls() == [replicas[0].url, replicas[1].url]
        for i in range(4):
            assert rasa_client.send(f"{i}", "hola", {}) == [{"custom": {"template": "greet"}}]
        assert rasa_client.answers_already_given("1", 7) is None
        rasa_client.pause("1")
    # Requests alternate: of the six, each replica got every other one.
    rest = "/webhooks/rest/webhook"
    assert sorted(r.paths for r in replicas) == [
        [rest, rest, "/conversations/1/tracker"],
        [rest, rest, "/conversations/1/tracker/events"],
    ]


def test_one_url_takes_every_request(app, replicas):
    app.config["RASA_URL"] = replicas[0].url
    with app.app_context():
        for i in range(3):
            rasa_client.send(f"{i}", "hola", {})
    assert replicas[0].paths == ["/webhooks/rest/webhook"] * 3 and replicas[1].paths == []


def test_rasa_is_healthy_while_one_replica_answers(app, replicas):
    down = f"http://127.0.0.1:{replicas[1].server_address[1]}"
    replicas[1].shutdown()
    replicas[1].server_close()
    app.config["RASA_URL"] = f"{down},{replicas[0].url}"
    with app.app_context():
        assert rasa_client.healthy() is True
        app.config["RASA_URL"] = down
        assert rasa_client.healthy() is False
    assert replicas[0].paths == ["/status"]


def _stopped(server):
    """The URL of a replica that is down (connections refused)."""
    server.shutdown()
    server.server_close()
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_replica_refusing_connections_is_skipped_for_the_next(app, replicas, monkeypatch):
    monkeypatch.setattr(rasa_client, "_turn", itertools.count())  # the stopped one first
    down = _stopped(replicas[1])
    app.config["RASA_URL"] = f"{down},{replicas[0].url}"
    with app.app_context():
        for i in range(4):
            assert rasa_client.send(f"{i}", "hola", {}) == [{"custom": {"template": "greet"}}]
        assert rasa_client.answers_already_given("1", 7) is None
        rasa_client.resume("1")
    rest = "/webhooks/rest/webhook"
    assert replicas[0].paths == [rest] * 4 + [
        "/conversations/1/tracker",
        "/conversations/1/tracker/events",
    ]


def test_every_replica_down_is_rasa_unavailable(app, replicas):
    app.config["RASA_URL"] = ",".join(_stopped(server) for server in replicas)
    with app.app_context(), pytest.raises(rasa_client.RasaUnavailable, match="not reachable"):
        rasa_client.send("1", "hola", {})


def test_a_replica_that_may_have_the_turn_is_not_skipped(app, replicas, monkeypatch):
    """Connected but silent (a read timeout): the turn may be running there, so it is not sent
    to another replica; the job's retry asks the tracker first."""
    monkeypatch.setattr(rasa_client, "_turn", itertools.count())  # the silent one first
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app.config["RASA_URL"] = f"http://127.0.0.1:{silent.getsockname()[1]},{replicas[0].url}"
        app.config["RASA_TIMEOUT"] = 0.3
        with app.app_context(), pytest.raises(rasa_client.RasaUnavailable, match="ReadTimeout"):
            rasa_client.send("1", "hola", {})
    assert replicas[0].paths == []
