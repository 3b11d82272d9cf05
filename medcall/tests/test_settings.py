"""Settings come from the environment: loud failures in production, switches for Postgres and Redis.

Settings are module-level code, so each case imports them in a fresh `python` process with a
controlled environment, the way a server would start.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Prints what a case needs to know after `django.setup()`. The repository's `.env` (a developer's
# local overrides) is not read, so results depend only on the environment given here.
_PROBE = """
import json, environ
environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)
import django
django.setup()
from django.conf import settings
print(json.dumps({
    "debug": settings.DEBUG,
    "secret_key": settings.SECRET_KEY,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "db_host": settings.DATABASES["default"].get("HOST", ""),
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION", ""),
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
}))
"""


def _start(tmp_path, **variables):
    """Run the settings probe with only `variables` (plus PATH/HOME) in the environment."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "medcall.settings",
        "VAR_DIR": str(tmp_path / "var"),  # keeps the dev secret key file of this run out of the checkout
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def _settings(tmp_path, **variables) -> dict:
    result = _start(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_refuses_to_start_without_secret_key_when_debug_is_off(tmp_path):
    result = _start(tmp_path, DEBUG="False", ALLOWED_HOSTS="clinica.example.com")

    assert result.returncode == 1
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set and DEBUG=False" in result.stderr


def test_it_refuses_to_start_without_allowed_hosts_when_debug_is_off(tmp_path):
    result = _start(tmp_path, DEBUG="False", SECRET_KEY="x" * 50)

    assert result.returncode == 1
    assert "ImproperlyConfigured" in result.stderr
    assert "ALLOWED_HOSTS is not set and DEBUG=False" in result.stderr


def test_it_starts_in_production_mode_with_secret_key_and_allowed_hosts(tmp_path):
    values = _settings(tmp_path, DEBUG="False", SECRET_KEY="k" * 50, ALLOWED_HOSTS="clinica.example.com,127.0.0.1")

    assert values["debug"] is False
    assert values["secret_key"] == "k" * 50
    # The configured hosts come first; tunnel hosts may follow (see TUNNEL_PROVIDER in settings).
    assert values["allowed_hosts"][:2] == ["clinica.example.com", "127.0.0.1"]


def test_it_reads_the_secret_key_from_secret_key_file(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-a-docker-secret-0123456789abcdefghijklmnopqrstuvwxyz\n")

    values = _settings(tmp_path, DEBUG="False", SECRET_KEY_FILE=str(secret_file), ALLOWED_HOSTS="127.0.0.1")

    assert values["secret_key"] == "from-a-docker-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def test_it_prefers_secret_key_file_over_secret_key(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("file-wins-" + "z" * 40)

    values = _settings(tmp_path, SECRET_KEY="env-value-" + "y" * 40, SECRET_KEY_FILE=str(secret_file))

    assert values["secret_key"] == "file-wins-" + "z" * 40


def test_it_fails_loudly_when_secret_key_file_cannot_be_read(tmp_path):
    missing = tmp_path / "no-such-secret"

    result = _start(tmp_path, DEBUG="False", SECRET_KEY_FILE=str(missing), ALLOWED_HOSTS="127.0.0.1")

    assert result.returncode == 1
    assert f"SECRET_KEY_FILE points to '{missing}', which cannot be read" in result.stderr


def test_it_defaults_to_sqlite_in_memory_layers_and_eager_celery(tmp_path):
    values = _settings(tmp_path)

    assert values["debug"] is True
    assert values["db_engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(tmp_path / "var" / "medcall.sqlite3")
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["broker"] == "memory://"
    assert values["eager"] is True


def test_it_switches_to_postgres_with_database_url(tmp_path):
    values = _settings(tmp_path, DATABASE_URL="postgres://medcall:pw@127.0.0.1:5432/medcall_prod")

    assert values["db_engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "medcall_prod"
    assert values["db_host"] == "127.0.0.1"
    # Only the database moved: without REDIS_URL the rest stays in-process.
    assert values["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["eager"] is True


def test_it_switches_cache_channel_layer_and_broker_to_redis_with_redis_url(tmp_path):
    values = _settings(tmp_path, REDIS_URL="redis://127.0.0.1:6379/7")

    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["cache_location"] == "redis://127.0.0.1:6379/7"
    assert values["channel_layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["broker"] == "redis://127.0.0.1:6379/7"
    assert values["eager"] is False


def test_it_reads_redis_url_from_a_file_too(tmp_path):
    redis_file = tmp_path / "redis_url"
    redis_file.write_text("redis://127.0.0.1:6379/9\n")

    values = _settings(tmp_path, REDIS_URL_FILE=str(redis_file))

    assert values["broker"] == "redis://127.0.0.1:6379/9"
    assert values["channel_layer"] == "channels_redis.core.RedisChannelLayer"


@pytest.mark.parametrize("value, expected", [("true", True), ("false", False)])
def test_it_lets_celery_eager_mode_be_forced(tmp_path, value, expected):
    values = _settings(tmp_path, REDIS_URL="redis://127.0.0.1:6379/7", CELERY_TASK_ALWAYS_EAGER=value)

    assert values["eager"] is expected


def _environment_variables_read_by_settings() -> set[str]:
    import re

    source = (BASE_DIR / "medcall" / "settings.py").read_text(encoding="utf-8")
    return set(re.findall(r'\benv(?:\.[a-z_]+|_secret)\(\s*"([A-Z][A-Z0-9_]*)"', source))


def test_it_documents_every_environment_variable_in_the_readme_and_env_example():
    names = _environment_variables_read_by_settings()
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    env_example = (BASE_DIR / ".env.example").read_text(encoding="utf-8")

    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= names  # the scan itself works
    missing_in_readme = sorted(name for name in names if f"| `{name}`" not in readme)
    missing_in_env_example = sorted(name for name in names if f"# {name}=" not in env_example)
    assert not missing_in_readme, f"Add a row to README.md's configuration table for: {missing_in_readme}"
    assert not missing_in_env_example, f"Add a commented line to .env.example for: {missing_in_env_example}"
