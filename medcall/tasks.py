"""Project-level Celery tasks that belong to no app.

`ping` proves a round trip through the broker to a real worker: operators can run
`celery -A medcall call medcall.tasks.ping` and tests use it to know a worker is consuming.
"""
from celery import shared_task


@shared_task(name="medcall.tasks.ping", time_limit=10, soft_time_limit=5)
def ping() -> str:
    """Answer "pong"; carries no data, so it is safe to send at any time."""
    return "pong"
