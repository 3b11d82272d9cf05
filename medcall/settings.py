"""MedCall settings.

Everything comes from the environment (django-environ) with defaults that run from a fresh clone:
SQLite under var/, in-memory channel layer, Celery eager. DATABASE_URL switches to Postgres and
REDIS_URL switches cache, channel layer and Celery broker to Redis. `.env.example` documents every
setting. Secrets may also be given as <NAME>_FILE (a path whose content is the value).
"""
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_secret(name: str, default: str | None = None) -> str | None:
    """Value of NAME, or the content of the file named by NAME_FILE (Docker/K8s secrets)."""
    file_path = env.str(f"{name}_FILE", default="")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points to {file_path!r}, which cannot be read: {exc}")
    return env.str(name, default=default)


VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set and DEBUG=False. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value."
        )
    # Development only: a random key kept under var/ so sessions survive restarts.
    key_file = VAR_DIR / "dev_secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text(encoding="utf-8").strip()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if not DEBUG else ["*"])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set and DEBUG=False. Set ALLOWED_HOSTS to the host names this server answers "
        "(comma-separated, e.g. clinica.example.com,127.0.0.1)."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",  # first, so `runserver` is the ASGI server
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally: no CDN
    "django_celery_beat",
    "audit",
    "patients",
    "consultations",
    "tunnels",
    "transcription",
    "assist",  # suggestions persistence, consultation notes, AI usage (issue 6)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "medcall.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "medcall.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'medcall.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout: the ASGI server, the supervisor and the STT pool write concurrently.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )

# Test databases are files/databases of their own; TEST_DB_SUFFIX keeps parallel runs apart.
_test_suffix = env.str("TEST_DB_SUFFIX", default="")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so a real server process started by a test sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_medcall{_test_suffix}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}{_test_suffix}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_secret("REDIS_URL", default="") or ""

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: eager (in-process) unless a broker is configured.
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL", default="") or REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not bool(REDIS_URL))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_TIMEZONE = "America/Sao_Paulo"

# Tunnels (tunnels/providers): how the patient's phone reaches this server. "auto" picks static if
# PUBLIC_BASE_URL is set, then ngrok (token or a running agent), then cloudflared, then lan.
TUNNEL_PROVIDER = env.str("TUNNEL_PROVIDER", default="auto")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
NGROK_AUTHTOKEN = env_secret("NGROK_AUTHTOKEN", default="") or ""
NGROK_DOMAIN = env.str("NGROK_DOMAIN", default="")
NGROK_AGENT_API = env.str("NGROK_AGENT_API", default="http://127.0.0.1:4040").rstrip("/")
CLOUDFLARED_BIN = env.str("CLOUDFLARED_BIN", default="")
LAN_HTTPS_PORT = env.int("LAN_HTTPS_PORT", default=8443)
# The LAN address patients' phones use (empty = detected: the interface of the default route).
LAN_ADDRESS = env.str("LAN_ADDRESS", default="")

# The public URL is runtime state (a quick tunnel gets a new host on every start), so the hosts a
# tunnel provider can hand out are accepted up front; with DEBUG=False ALLOWED_HOSTS is otherwise strict.
_TUNNEL_HOST_SUFFIXES = [".ngrok-free.app", ".ngrok-free.dev", ".ngrok.app", ".ngrok.dev", ".ngrok.io", ".trycloudflare.com"]
if TUNNEL_PROVIDER in ("auto", "ngrok", "cloudflared"):
    ALLOWED_HOSTS += [h for h in _TUNNEL_HOST_SUFFIXES if h not in ALLOWED_HOSTS]
    CSRF_TRUSTED_ORIGINS += [f"https://*{h}" for h in _TUNNEL_HOST_SUFFIXES]
for _public in filter(None, [PUBLIC_BASE_URL, f"https://{NGROK_DOMAIN}" if NGROK_DOMAIN else ""]):
    _host = _public.split("://", 1)[-1].split("/", 1)[0]
    if _host.split(":")[0] not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_host.split(":")[0])
    CSRF_TRUSTED_ORIGINS.append(_public.rstrip("/"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Portuguese (Brazil)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve from the app/static dirs without collectstatic in small setups

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="MedCall <no-reply@localhost>")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("TRUST_X_FORWARDED_PROTO", default=True) else None
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MedCall API",
    "DESCRIPTION": "Patients, consultations and links for MedCall teleconsultation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# LiveKit (optional media server). Empty LIVEKIT_URL and no auto-start = calls use the built-in
# peer-to-peer mode. LIVEKIT_AUTOSTART runs `livekit-server` (LIVEKIT_BIN or PATH) under supervision.
LIVEKIT_URL = env.str("LIVEKIT_URL", default="")
LIVEKIT_API_KEY = env_secret("LIVEKIT_API_KEY", default="") or ""
LIVEKIT_API_SECRET = env_secret("LIVEKIT_API_SECRET", default="") or ""
LIVEKIT_AUTOSTART = env.bool("LIVEKIT_AUTOSTART", default=False)
LIVEKIT_BIN = env.str("LIVEKIT_BIN", default="")
LIVEKIT_CONFIG = env.str("LIVEKIT_CONFIG", default="")  # path to a livekit.yaml; empty = --dev mode
LIVEKIT_PORT = env.int("LIVEKIT_PORT", default=7880)
LIVEKIT_BIND = env.str("LIVEKIT_BIND", default="0.0.0.0")
LIVEKIT_START_TIMEOUT = env.float("LIVEKIT_START_TIMEOUT", default=20.0)
if LIVEKIT_AUTOSTART and not LIVEKIT_CONFIG and not (LIVEKIT_API_KEY or LIVEKIT_API_SECRET):
    # `livekit-server --dev` without keys uses these documented placeholder keys.
    LIVEKIT_API_KEY, LIVEKIT_API_SECRET = "devkey", "secret"

# Error reports (500 e-mails, DEBUG page) never show POST values, frame locals, query values or
# database row details: they carry health data (LGPD). See medcall/error_reporting.py.
DEFAULT_EXCEPTION_REPORTER_FILTER = "medcall.error_reporting.HealthDataExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "medcall.error_reporting.HealthDataExceptionReporter"

# Demo data (make run) is only ever created when DEBUG is on.
DEMO_DATA = env.bool("DEMO_DATA", default=DEBUG)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Constraint errors quote row values (a CPF) in their DETAIL line: kept out of every log line.
    "filters": {"no_db_row_values": {"()": "medcall.error_reporting.DatabaseDetailLogFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["no_db_row_values"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Never log request bodies or SQL parameters: they may carry health data (LGPD).
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# Patient links (/p/<token>): lifetime of a generated link.
PATIENT_LINK_TTL_HOURS = env.int("PATIENT_LINK_TTL_HOURS", default=24)

# Where the web server listens locally (used by a Celery worker that owns the tunnel).
WEB_LOCAL_URL = env.str("WEB_LOCAL_URL", default="http://127.0.0.1:8000")
# Service checks (Celery beat and the runtunnels supervisor loop).
SERVICE_CHECK_INTERVAL = env.float("SERVICE_CHECK_INTERVAL", default=15.0)
CELERY_BEAT_SCHEDULE["check-services"] = {
    "task": "tunnels.check_services",
    "schedule": SERVICE_CHECK_INTERVAL,
    # Expires before the next run, so a backlog never piles up overlapping checks.
    "options": {"expires": max(1.0, SERVICE_CHECK_INTERVAL - 1)},
}

# Consultation room (issue 4). MEDIA_MODE: auto = LiveKit when configured (tunnels.probes.
# livekit_configured), else built-in peer-to-peer WebRTC. ICE servers for p2p: ICE_SERVERS (a JSON
# list in RTCIceServer form) wins; otherwise STUN_URLS plus TURN_URL/TURN_USERNAME/TURN_PASSWORD.
# Media (UDP) does not cross HTTP tunnels: a remote patient usually needs TURN.
MEDIA_MODE = env.str("MEDIA_MODE", default="auto")
ICE_SERVERS = env.json("ICE_SERVERS", default=[])
STUN_URLS = env.list("STUN_URLS", default=[])
TURN_URL = env.str("TURN_URL", default="")
TURN_USERNAME = env.str("TURN_USERNAME", default="")
TURN_PASSWORD = env_secret("TURN_PASSWORD", default="") or ""
# Bump when the consent wording changes: every consent record keeps the version it was given for.
CONSENT_TEXT_VERSION = env.str("CONSENT_TEXT_VERSION", default="2025-01-cfm2314")
# LiveKit access tokens only need to live long enough to join; LiveKit refreshes them in-session.
LIVEKIT_TOKEN_TTL_SECONDS = env.int("LIVEKIT_TOKEN_TTL_SECONDS", default=600)

# Live transcription (transcription/). Local faster-whisper by default; no audio leaves this machine
# unless TRANSCRIPTION_ENGINE=openai points at an external endpoint.
TRANSCRIPTION_ENGINE = env.str("TRANSCRIPTION_ENGINE", default="faster_whisper")  # faster_whisper | openai
# A local model directory (`manage.py installwhispermodels` puts base there) or, with internet, a
# model name such as "small" that faster-whisper downloads.
WHISPER_MODEL = env.str("WHISPER_MODEL", default=str(VAR_DIR / "models" / "whisper-base"))
WHISPER_LANGUAGE = env.str("WHISPER_LANGUAGE", default="pt")
WHISPER_DEVICE = env.str("WHISPER_DEVICE", default="auto")  # auto | cpu | cuda
WHISPER_COMPUTE_TYPE = env.str("WHISPER_COMPUTE_TYPE", default="default")  # default = int8 on CPU, float16 on GPU
WHISPER_CPU_THREADS = env.int("WHISPER_CPU_THREADS", default=0)  # 0 = all cores
# Encode VAD utterances in a 10/20 s window instead of Whisper's fixed 30 s (~4-5x faster on CPU).
WHISPER_SHORT_WINDOW = env.bool("WHISPER_SHORT_WINDOW", default=True)
TRANSCRIPTION_QUEUE = env.str("TRANSCRIPTION_QUEUE", default="inprocess")  # inprocess | celery (needs REDIS_URL)
TRANSCRIPTION_WORKERS = env.int("TRANSCRIPTION_WORKERS", default=1)
TRANSCRIPTION_PARTIAL_INTERVAL_S = env.float("TRANSCRIPTION_PARTIAL_INTERVAL_S", default=1.0)
TRANSCRIPTION_LAG_S = env.float("TRANSCRIPTION_LAG_S", default=4.0)  # queue age that shows "transcrição atrasada"
TRANSCRIPTION_RETRY_DELAY_S = env.float("TRANSCRIPTION_RETRY_DELAY_S", default=30.0)
TRANSCRIPTION_MAX_ATTEMPTS = env.int("TRANSCRIPTION_MAX_ATTEMPTS", default=5)
VAD_THRESHOLD = env.float("VAD_THRESHOLD", default=0.5)
VAD_MIN_UTTERANCE_S = env.float("VAD_MIN_UTTERANCE_S", default=0.3)
VAD_MAX_UTTERANCE_S = env.float("VAD_MAX_UTTERANCE_S", default=15.0)
VAD_MIN_SILENCE_MS = env.int("VAD_MIN_SILENCE_MS", default=400)
VAD_PADDING_MS = env.int("VAD_PADDING_MS", default=200)
RECORDINGS_DIR = Path(env.str("RECORDINGS_DIR", default=str(VAR_DIR / "recordings")))
OPENAI_STT_BASE_URL = env.str("OPENAI_STT_BASE_URL", default="https://api.openai.com/v1").rstrip("/")
OPENAI_STT_API_KEY = env_secret("OPENAI_STT_API_KEY", default="") or ""
OPENAI_STT_MODEL = env.str("OPENAI_STT_MODEL", default="whisper-1")  # Azure: the deployment is in the base URL
OPENAI_STT_API_VERSION = env.str("OPENAI_STT_API_VERSION", default="")  # set for Azure (api-key header)
OPENAI_STT_TIMEOUT_S = env.float("OPENAI_STT_TIMEOUT_S", default=30.0)
OPENAI_STT_RETRIES = env.int("OPENAI_STT_RETRIES", default=2)
if TRANSCRIPTION_ENGINE == "openai" and not OPENAI_STT_API_KEY and not DEBUG:
    raise ImproperlyConfigured(
        "TRANSCRIPTION_ENGINE=openai needs OPENAI_STT_API_KEY (or OPENAI_STT_API_KEY_FILE). "
        "Set it, or use TRANSCRIPTION_ENGINE=faster_whisper to keep audio on this machine."
    )
CELERY_TASK_ROUTES = {**globals().get("CELERY_TASK_ROUTES", {}), "transcription.transcribe_utterance": {"queue": "stt"}}
CELERY_BEAT_SCHEDULE["transcription-retry-failed"] = {
    "task": "transcription.retry_failed",
    "schedule": 60.0,
    "options": {"expires": 55.0},
}

# Consultation assistant (assist/, issue 6): follow-up suggestions, note drafts, AI usage accounting.
# SUGGESTION_ENGINE: local (offline knowledge base, default) | llm (an OpenAI/Azure-compatible
# chat-completions endpoint; falls back to local on any error, and the suggestion's source says so).
SUGGESTION_ENGINE = env.str("SUGGESTION_ENGINE", default="local")
LLM_BASE_URL = env.str("LLM_BASE_URL", default="").rstrip("/")  # e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1
LLM_API_KEY = env_secret("LLM_API_KEY", default="") or ""
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")  # Azure: the deployment name
LLM_API_VERSION = env.str("LLM_API_VERSION", default="")  # set for Azure OpenAI (api-key header, deployment path)
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=8.0)
if SUGGESTION_ENGINE == "llm" and not LLM_BASE_URL:
    raise ImproperlyConfigured(
        "SUGGESTION_ENGINE=llm needs LLM_BASE_URL (an OpenAI/Azure-compatible endpoint). "
        "Set it, or use SUGGESTION_ENGINE=local to keep suggestions offline."
    )
# Price table for the estimated cost of AI usage, in AI_PRICES_CURRENCY: per engine, then per model
# ("*" = any model). Keys: audio_minute, tokens_in_1k, tokens_out_1k. Local engines cost 0; their
# compute seconds are still recorded. Override with AI_PRICES as JSON.
AI_PRICES_CURRENCY = env.str("AI_PRICES_CURRENCY", default="USD")
AI_PRICES = env.json(
    "AI_PRICES",
    default={
        "faster_whisper": {"*": {"audio_minute": 0}},
        "local": {"*": {}},
        "openai": {"*": {"audio_minute": 0.006}, "gpt-4o-mini-transcribe": {"audio_minute": 0.003}},
        "llm": {
            "*": {"tokens_in_1k": 0.00015, "tokens_out_1k": 0.0006},
            "gpt-4o": {"tokens_in_1k": 0.0025, "tokens_out_1k": 0.01},
        },
    },
)
