"""`GET /healthz`: liveness and dependencies, no auth, no health data.

`instance` is random and fixed for the life of the process: the tunnel verifier compares it with
what comes back through the public URL to prove the tunnel reaches *this* server.
"""
import secrets

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

INSTANCE_ID = secrets.token_hex(8)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception:
        # The connection may be half-open; drop it so the next request reconnects.
        try:
            connection.close()
        except Exception:
            pass
        return "down"


def _check_redis() -> str:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return "ok"
    except Exception:
        return "down"


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _check_database()}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis()
    failing = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "ok" if not failing else "error", "instance": INSTANCE_ID, "checks": checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
