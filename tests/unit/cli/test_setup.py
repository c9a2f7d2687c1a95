"""The dev stack's Redis (`flask --app bot dev-redis`)."""

import shutil
import subprocess

from redis import Redis

from bot.cli.setup import redis_command
from bot.testing import wait_for
from tests.conftest import free_port


def test_the_dev_redis_keeps_queues_across_a_restart(tmp_path):
    """dev-redis's redis-server runs with an append-only file: a job queued before a restart is
    still queued after it."""
    port = free_port()
    args = redis_command(shutil.which("redis-server"), port, tmp_path / "redis")
    client = Redis(port=port)

    def up():
        try:
            return client.ping()
        except Exception:
            return False

    for attempt in range(2):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        try:
            wait_for(up, 10, what="redis-server answering")
            if attempt == 0:
                assert client.config_get("appendonly") == {"appendonly": "yes"}
                assert client.config_get("bind") == {"bind": "127.0.0.1"}
                client.rpush("rq:queue:inbound", "job-1")
            else:
                assert client.lrange("rq:queue:inbound", 0, -1) == [b"job-1"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
