"""Jobs a transaction asks for, enqueued only once it commits.

Domain code says what must run after its changes are committed:
`later(session, "deliver_outbound", message.id)`. The task layer (bot.tasks.queues) enqueues
those requests right after the commit and drops them on a rollback, so a job never runs before
the rows it reads exist, and domain code never imports the task layer. Job names are the keys
of bot.tasks.queues.JOBS.
"""

KEY = "outbox"


def later(session, job, *args):
    """Ask for job(*args) once session commits."""
    session.info.setdefault(KEY, []).append((job, args))


def take(session):
    """The requests waiting on session, removed from it."""
    return session.info.pop(KEY, [])


def discard(session):
    session.info.pop(KEY, None)
