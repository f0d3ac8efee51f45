"""One settings module, driven by environment variables (docs/operations.md lists them all).

With no variables set it runs embedded: SQLite, the in-memory channel layer, eager Celery and
media in ./var. With MYSQL_DATABASE and REDIS_URL it runs on MySQL/MariaDB and Redis. With
DJANGO_DEBUG=0 it refuses to start unless the production settings are all given.
"""

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value else default


def env_list(name: str) -> list[str]:
    return [item.strip() for item in env(name).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
MYSQL_DATABASE = env("MYSQL_DATABASE")
REDIS_URL = env("REDIS_URL")

if not DEBUG:
    missing = [
        name
        for name, value in (
            ("DJANGO_SECRET_KEY", env("DJANGO_SECRET_KEY")),
            ("DJANGO_ALLOWED_HOSTS", env("DJANGO_ALLOWED_HOSTS")),
            ("MYSQL_DATABASE", MYSQL_DATABASE),
            ("REDIS_URL", REDIS_URL),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is off, so these settings are required: " + ", ".join(missing)
        )

# The fallback key only ever serves the embedded default (DEBUG on); production refuses it above.
SECRET_KEY = env("DJANGO_SECRET_KEY") or "embedded-default-insecure-key-change-me"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or (
    ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# ERP portal pages (scheme://host[:port]) allowed to open the WebSocket besides our own hosts,
# and to show the client pages in a frame (messenger/security.py).
MESSENGER_WS_ORIGINS = env_list("MESSENGER_WS_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "corsheaders",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt",
    # Logout revokes the refresh token it names (docs/security.md, "Sessions and sign-out").
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "messenger",
    "orgsync",
    "rooms",
    "messages.apps.TalkConfig",
    "notifications",
    "filetransfer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that may answer on its own (whitenoise, CommonMiddleware), so that every
    # /api/ answer, errors included, carries the CORS headers the portal's page needs to read it.
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "messenger.urls"
ASGI_APPLICATION = "messenger.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "messenger.security.https_refusal",
            ],
        },
    },
]

VAR_DIR = Path(env("MESSENGER_VAR_DIR") or BASE_DIR / "var")

DATABASES: dict[str, dict[str, Any]]
if MYSQL_DATABASE:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": MYSQL_DATABASE,
            "USER": env("MYSQL_USER", "root"),
            "PASSWORD": env("MYSQL_PASSWORD"),
            # Empty host means the unix socket, where MariaDB's root is accepted.
            "HOST": env("MYSQL_HOST"),
            "PORT": env("MYSQL_PORT"),
            "CONN_MAX_AGE": env_int("MYSQL_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "charset": "utf8mb4",
                "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
                "isolation_level": "read committed",
            },
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    }
    if env("MYSQL_UNIX_SOCKET"):
        DATABASES["default"]["OPTIONS"]["unix_socket"] = env("MYSQL_UNIX_SOCKET")
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH") or VAR_DIR / "messenger.sqlite3",
            "OPTIONS": {
                # Every request of the server runs on a thread of its own (Django's ASGI
                # handler), beside the socket's database thread, so writes meet. A deferred
                # transaction that reads and then writes fails at once with "database is locked"
                # when another holds the write lock (SQLite cannot wait there without risking a
                # deadlock); BEGIN IMMEDIATE takes the write lock first and waits up to `timeout`
                # seconds for it. WAL lets reads go on beside the writer. Three uploads and six
                # people sending over REST and sockets at once, 10 rounds: 78 of 150 writes
                # failed (503) before, none after (docs/benchmarks.md, "Embedded default").
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "orgsync.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# API errors are in English; what people write (and the system lines) is theirs.
# Korean-first: every text a person reads exists in Korean and English (locale/, compiled by
# ./run and ./test with `manage.py compilemessages`). A request's language comes from its
# Accept-Language header (the browser client sends the language it shows); without one, English.
LANGUAGE_CODE = "en"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("MESSENGER_TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT") or VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
if DEBUG:
    # whitenoise warns on every request when its root is missing; in debug it serves from the
    # finders, so an empty folder is all it needs.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Attachments are never served from a public URL: only through the authorised file views.
MEDIA_ROOT = Path(env("MEDIA_ROOT") or VAR_DIR / "media")

LOGIN_URL = "/admin/login/"

# --- Redis: channel layer, cache, Celery broker -------------------------------------------
REDIS_PREFIX = env("REDIS_PREFIX", "messenger")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 caps a pool at 100 connections and raises under a storm.
                        "max_connections": env_int("REDIS_MAX_CONN", 1000),
                        # redis-py 8 reads with a 5 s socket timeout by default, which breaks the
                        # layer's blocking BZPOPMIN (channels_redis#422): give it more than 5 s.
                        "socket_timeout": 30,
                        "socket_connect_timeout": 5,
                    }
                ],
                "prefix": f"{REDIS_PREFIX}:asgi",
                "capacity": env_int("CHANNEL_CAPACITY", 1000),
                "expiry": 60,
                # Longer than the server's websocket timeout, so a live socket never silently
                # falls out of its user's group.
                "group_expiry": 2 * 86400,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_PREFIX}:cache",
            # A Redis host that is down answers nothing: without a connect timeout each cache
            # call (a send's rate limit) would hang for the kernel's TCP retries (minutes)
            # before failing open (messenger/outage.py).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
    CELERY_BROKER_URL = env("CELERY_BROKER_URL") or REDIS_URL
    # Every key and pub/sub channel of the broker (the queue list, bindings, unacked tasks,
    # the workers' control and event channels) under the prefix: two installations on one
    # Redis never take each other's tasks, which carry database ids.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True

CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True

# --- REST ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, also refusing tokens of a session that has ended (signed out).
        "orgsync.authentication.SessionJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "messenger.jsoninput.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "messenger.schema.AutoSchema",
    "EXCEPTION_HANDLER": "messenger.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env_int("JWT_REFRESH_HOURS", 12)),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "uid",
    "SIGNING_KEY": SECRET_KEY,
    "UPDATE_LAST_LOGIN": True,
    # Tokens carry a digest of the password hash: a new password (an admin's reset of a
    # compromised account) makes every older token of the account fail.
    "CHECK_REVOKE_TOKEN": True,
    "TOKEN_REFRESH_SERIALIZER": "orgsync.api.RefreshSerializer",
    # No rotation: a refresh answers with an access token only, and a sign-in ends
    # JWT_REFRESH_HOURS after it started. Rotating with blacklisting would make the portal
    # tabs that share one refresh token (embed.js) race, the loser being logged out; signing
    # a device out does not need it, since its refresh tokens carry the session id (`sid`),
    # which the refresh refuses once the session has ended (docs/security.md).
    "ROTATE_REFRESH_TOKENS": False,
    "BLACKLIST_AFTER_ROTATION": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Messenger API",
    "DESCRIPTION": "REST half of the client protocol; the WebSocket half is in docs/protocol.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # On-premise sites have no internet: the docs page's assets are served by the app itself.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Messenger rules ---------------------------------------------------------------------
MESSENGER = {
    "BODY_MAX_CHARS": env_int("MESSENGER_BODY_MAX_CHARS", 4000),
    "CANCEL_WINDOW_SECONDS": env_int("MESSENGER_CANCEL_WINDOW_SECONDS", 24 * 3600),
    "ROOM_MAX_MEMBERS": env_int("MESSENGER_ROOM_MAX_MEMBERS", 5000),
    "ROOM_NAME_MAX_CHARS": 100,
    "HISTORY_PAGE_DEFAULT": 50,
    "HISTORY_PAGE_MAX": 200,
    "SEARCH_LIMIT_MAX": 100,
    "WS_FRAME_MAX_BYTES": env_int("MESSENGER_WS_FRAME_MAX_BYTES", 64 * 1024),
    # Push frames a socket may have waiting; a client that falls further behind is closed
    # (4008) and catches up by seq when it reconnects.
    "SOCKET_QUEUE_MAX": env_int("MESSENGER_SOCKET_QUEUE_MAX", 1000),
    # Threads (each with its own database connection) that store sends of this process side
    # by side; the room lock keeps seq gap-free. 0: every send on the one thread that runs the
    # process's other database work (the embedded SQLite has no row locks to rely on).
    "SEND_THREADS": env_int("MESSENGER_SEND_THREADS", 4 if MYSQL_DATABASE else 0),
}

# --- Rate limits ----------------------------------------------------------------------------
# "N/period" (s, m, h) per scope, or "off"; messenger/ratelimit.py counts in the cache (Redis
# in production, so they hold across server processes). docs/operations.md explains each.
RATE_LIMITS = {
    "ENABLED": env_bool("MESSENGER_RATE_LIMITS", True),
    # Messages (and forwards) one person sends, REST and socket together.
    "send": env("MESSENGER_RATE_SEND", "120/60s"),
    # typing events per person and room; the client sends one every 2.1 s at most.
    "typing": env("MESSENGER_RATE_TYPING", "1/2s"),
    # Upload requests (each up to MESSENGER_FILES_PER_REQUEST files) per person.
    "upload": env("MESSENGER_RATE_UPLOAD", "60/60s"),
    # Failed logins per user id, and per client address; past them a login is refused (429)
    # without trying the password until the window closes.
    "login_user": env("MESSENGER_RATE_LOGIN_USER", "10/15m"),
    "login_ip": env("MESSENGER_RATE_LOGIN_IP", "100/15m"),
    # WebSocket tickets one person asks for (a reconnecting client needs one per attempt).
    "ws_ticket": env("MESSENGER_RATE_WS_TICKET", "60/60s"),
}

# --- OpenID Connect ---------------------------------------------------------------------------
# Sign-in with the company's OpenID provider (Keycloak, Entra ID, ADFS): docs/sso.md. On when a
# client id and a discovery URL (or an issuer, whose discovery URL is derived) are given.
_OIDC_ISSUER = env("MESSENGER_OIDC_ISSUER").rstrip("/")
MESSENGER_OIDC = {
    "DISCOVERY_URL": env("MESSENGER_OIDC_DISCOVERY_URL")
    or (f"{_OIDC_ISSUER}/.well-known/openid-configuration" if _OIDC_ISSUER else ""),
    "ISSUER": _OIDC_ISSUER,
    "CLIENT_ID": env("MESSENGER_OIDC_CLIENT_ID"),
    # Empty: a public client, which proves itself by PKCE alone.
    "CLIENT_SECRET": env("MESSENGER_OIDC_CLIENT_SECRET"),
    "SCOPES": env("MESSENGER_OIDC_SCOPES", "openid profile"),
    # The claim that holds the messenger user id (the HR id).
    "CLAIM": env("MESSENGER_OIDC_CLAIM", "preferred_username"),
    # The callback URL registered at the provider; empty: built from the request's host.
    "REDIRECT_URI": env("MESSENGER_OIDC_REDIRECT_URI"),
    # ID-token signatures accepted: asymmetric ones, checked with the provider's published keys.
    "ID_TOKEN_ALGS": env_list("MESSENGER_OIDC_ID_TOKEN_ALGS") or ["RS256", "PS256", "ES256"],
    "TIMEOUT_SECONDS": env_int("MESSENGER_OIDC_TIMEOUT_SECONDS", 10),
    # How long a started sign-in may take at the provider, and the one-time code that hands the
    # result to the page.
    "STATE_SECONDS": env_int("MESSENGER_OIDC_STATE_SECONDS", 600),
    "CODE_SECONDS": min(env_int("MESSENGER_OIDC_CODE_SECONDS", 60), 60),
}
# --- Cross-origin REST (django-cors-headers) ------------------------------------------------
# The portal pages that may open the socket may also call the API from their own origin
# (embed.js, docs/embed.md): bearer tokens in the Authorization header, never cookies.
CORS_ALLOWED_ORIGINS = MESSENGER_WS_ORIGINS
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["accept", "accept-language", "authorization", "content-type"]
CORS_EXPOSE_HEADERS = ["Retry-After"]
CORS_PREFLIGHT_MAX_AGE = 3600

# --- Sign-on -----------------------------------------------------------------------------------
# ERP tickets (docs/sso.md): the ERP's backend signs a short JWT naming the employee, which
# POST /api/auth/erp exchanges for tokens. HS256 with the shared secret and/or RS256/ES256
# checked with the ERP's public key (a PEM file); off (404) unless an issuer and a key are set.
MESSENGER_ERP = {
    "ISSUER": env("MESSENGER_ERP_ISSUER"),
    "SECRET": env("MESSENGER_ERP_SECRET"),
    "PUBLIC_KEY_FILE": env("MESSENGER_ERP_PUBLIC_KEY_FILE"),
    "AUDIENCE": "messenger",
    "MAX_LIFETIME_SECONDS": 300,
    "LEEWAY_SECONDS": 30,
    # A used ticket id is kept this long after the ticket's expiry, so a replay stays refused.
    "USED_KEEP_SECONDS": 24 * 3600,
}
if (MESSENGER_ERP["SECRET"] or MESSENGER_ERP["PUBLIC_KEY_FILE"]) and not MESSENGER_ERP["ISSUER"]:
    raise ImproperlyConfigured("MESSENGER_ERP_ISSUER is required with an ERP secret or key.")
if MESSENGER_ERP["SECRET"] and len(MESSENGER_ERP["SECRET"].encode()) < 32:
    # RFC 7518 3.2: an HS256 key at least as long as the hash (32 bytes).
    raise ImproperlyConfigured("MESSENGER_ERP_SECRET must be at least 32 bytes long.")
# Single-use tickets for the WebSocket (POST /api/auth/ws-ticket), so that no token travels in
# a URL that proxies log; at most 60 seconds.
MESSENGER_WS_TICKET_SECONDS = min(max(env_int("MESSENGER_WS_TICKET_SECONDS", 30), 1), 60)

# --- Security headers ------------------------------------------------------------------------
# Content-Security-Policy (django-csp) on every response: scripts and styles from our own
# origin only, sockets to our own host. The client pages may be framed by the ERP portal
# origins (MESSENGER_WS_ORIGINS); everything else, admin included, by nobody.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: for the blank favicon; blob: for attachments fetched with the token.
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        # 'self' covers ws:// and wss:// to the page's own host (CSP level 3).
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env("DJANGO_REFERRER_POLICY", "same-origin")
# HTTPS: DJANGO_HTTPS=1 when clients reach the site over https (directly or through a proxy
# that terminates TLS and sets DJANGO_PROXY_SSL_HEADER, e.g. X-Forwarded-Proto, to "https").
# Django sends HSTS only on requests it sees as secure.
HTTPS = env_bool("DJANGO_HTTPS", False)
if env("DJANGO_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + env("DJANGO_PROXY_SSL_HEADER").upper().replace("-", "_"),
        "https",
    )
if HTTPS:
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 365 * 86400)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = False
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
# The session and CSRF cookies are Secure when people reach the site over https; a browser does
# not keep a Secure cookie set on an http page, so on an http-only (intranet) install they must
# not be, or nobody can log into the admin. DJANGO_SECURE_COOKIES overrides either way.
SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", HTTPS)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
# A CSRF refusal that Secure cookies on an http request explain says so (messenger/security.py).
CSRF_FAILURE_VIEW = "messenger.views.csrf_failure"

# --- Sign-on: directory passwords (LDAP / Active Directory) ------------------------------------
# With MESSENGER_LDAP_URI set, POST /api/auth/token checks the password of an HR-synced person
# against the company directory (orgsync/auth_backends.py; docs/sso.md); manual accounts keep
# their local passwords. docs/operations.md explains each variable.
MESSENGER_LDAP = {
    # One or more space-separated URIs, ldap:// or ldaps://, tried in order.
    "URI": env("MESSENGER_LDAP_URI"),
    # The account that searches for people (empty: an anonymous search).
    "BIND_DN": env("MESSENGER_LDAP_BIND_DN"),
    "BIND_PASSWORD": env("MESSENGER_LDAP_BIND_PASSWORD"),
    "USER_BASE": env("MESSENGER_LDAP_USER_BASE"),
    # The attribute holding the messenger's user id: uid (OpenLDAP), sAMAccountName (AD).
    "USER_ATTR": env("MESSENGER_LDAP_USER_ATTR", "uid"),
    # An extra filter ANDed to the search, e.g. (objectClass=person).
    "USER_FILTER": env("MESSENGER_LDAP_USER_FILTER"),
    "START_TLS": env_bool("MESSENGER_LDAP_START_TLS", False),
    # CA certificates (PEM) trusted for ldaps:// and StartTLS; empty: the system's store.
    "CA_FILE": env("MESSENGER_LDAP_CA_FILE"),
    # Connecting, and each search or bind, give up after this long (then 503).
    "TIMEOUT_SECONDS": env_int("MESSENGER_LDAP_TIMEOUT_SECONDS", 5),
}
if MESSENGER_LDAP["URI"]:
    if not MESSENGER_LDAP["USER_BASE"]:
        raise ImproperlyConfigured("MESSENGER_LDAP_URI is set, so MESSENGER_LDAP_USER_BASE is too.")
    if not all(uri.startswith(("ldap://", "ldaps://")) for uri in MESSENGER_LDAP["URI"].split()):
        raise ImproperlyConfigured("MESSENGER_LDAP_URI takes ldap:// or ldaps:// URIs.")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", MESSENGER_LDAP["USER_ATTR"]):
        raise ImproperlyConfigured("MESSENGER_LDAP_USER_ATTR is one attribute name, e.g. uid.")
# The directory backend does nothing while MESSENGER_LDAP_URI is empty; the local one comes
# first, as Django's own would (force_login and sessions without a backend use the first).
AUTHENTICATION_BACKENDS = [
    "orgsync.auth_backends.LocalPasswordBackend",
    "orgsync.auth_backends.DirectoryPasswordBackend",
]

# --- HR sync --------------------------------------------------------------------------------
# The HR interface-table sync (docs/hr-interface.md) and the directory's profile pictures.
HR_SYNC = {
    # Seconds a run waits for a running one to finish before it records itself as "busy".
    "LOCK_WAIT_SECONDS": env_int("HR_SYNC_LOCK_WAIT_SECONDS", 0),
    # A batch that would deactivate more than this share of the active synced people (and more
    # than MASS_DEACTIVATE_MIN of them) is refused unless applied with --allow-mass-deactivation.
    "MAX_DEACTIVATE_PERCENT": env_int("HR_SYNC_MAX_DEACTIVATE_PERCENT", 20),
    "MASS_DEACTIVATE_MIN": 10,
    # A batch is all or nothing by default: one bad row refuses it. On, its good rows are
    # applied and the bad ones reported row by row (the run's status is "partial").
    "SKIP_BAD_ROWS": env_bool("HR_SYNC_SKIP_BAD_ROWS", False),
    "CHUNK_SIZE": env_int("HR_SYNC_CHUNK_SIZE", 1000),
    "MAX_PROBLEMS": 500,
    "SAMPLE_SIZE": 20,
    # Runs that found no new batch are kept this many days (they show the schedule is alive).
    "IDLE_RUN_DAYS": 7,
    # Without MySQL/MariaDB (the embedded default) runs are serialised by a lock on this file.
    "LOCK_FILE": VAR_DIR / "hr-sync.lock",
}
PROFILE_PICTURE = {
    "MAX_BYTES": env_int("PROFILE_PICTURE_MAX_BYTES", 5 * 1024 * 1024),
    "SIZE": 256,
    "MAX_PIXELS": 40_000_000,
}

# --- Notifications --------------------------------------------------------------------------
# Alerts about new messages (docs/notifications.md): batching, Web Push (VAPID), mobile push.
NOTIFICATIONS = {
    "ENABLED": env_bool("NOTIFICATIONS_ENABLED", True),
    # A burst in one room within this window becomes one alert; it is also the delay after
    # which an alert is sent only if the message is still unread (at least 1 s, the seed's rule).
    "BATCH_WINDOW_SECONDS": max(env_int("NOTIFICATIONS_BATCH_WINDOW_SECONDS", 2), 1),
    # VAPID keys: the private key as PEM or base64url (DER or raw), the public key base64url.
    # Without a private key the embedded default (DEBUG) generates a pair into VAPID_KEY_FILE;
    # production leaves Web Push off.
    "VAPID_PRIVATE_KEY": env("VAPID_PRIVATE_KEY"),
    "VAPID_PUBLIC_KEY": env("VAPID_PUBLIC_KEY"),
    "VAPID_SUBJECT": env("VAPID_SUBJECT", "mailto:admin@localhost"),
    "VAPID_KEY_FILE": VAR_DIR / "vapid_private.pem",
    "WEBPUSH_TIMEOUT_SECONDS": env_int("WEBPUSH_TIMEOUT_SECONDS", 10),
    "WEBPUSH_TTL_SECONDS": env_int("WEBPUSH_TTL_SECONDS", 3600),
    # A dotted path to a class with send(*, user_pk, notification) (notifications.mobile).
    "MOBILE_BACKEND": env("NOTIFICATIONS_MOBILE_BACKEND", "notifications.mobile.LoggingBackend"),
}

# --- Files ----------------------------------------------------------------------------------
# Uploads, downloads, expiry and link previews; docs/files.md explains each. Sizes are bytes.
MESSENGER_FILES: dict[str, Any] = {
    # A storage alias of STORAGES; attachments are never served from its URL.
    "STORAGE": env("MESSENGER_FILES_STORAGE", "default"),
    "MAX_BYTES": env_int("MESSENGER_FILE_MAX_BYTES", 100 * 1024 * 1024),
    "MAX_PER_REQUEST": env_int("MESSENGER_FILES_PER_REQUEST", 10),
    # Unexpired uploads per user; 0 means no quota.
    "QUOTA_BYTES": env_int("MESSENGER_FILE_QUOTA_BYTES", 5 * 1024**3),
    # Kinds refused with 415 (the names are those of filetransfer/sniff.py).
    "REFUSED_KINDS": env_list("MESSENGER_FILE_REFUSED_KINDS")
    or ["html", "svg", "exe", "elf", "macho"],
    # Days a file is kept; 0 keeps it forever. Overrides by MIME type or "major/*".
    "EXPIRE_DAYS": env_int("MESSENGER_FILE_EXPIRE_DAYS", 30),
    "EXPIRE_DAYS_BY_TYPE": {
        key.strip(): int(value)
        for key, _, value in (
            item.partition("=") for item in env_list("MESSENGER_FILE_EXPIRE_DAYS_BY_TYPE")
        )
    },
    # An upload whose message was never written is deleted after this long.
    "PENDING_GRACE_SECONDS": env_int("MESSENGER_FILE_PENDING_GRACE_SECONDS", 3600),
    "IMAGE_MAX_PIXELS": env_int("MESSENGER_IMAGE_MAX_PIXELS", 64_000_000),
    "THUMBNAIL_MAX_PX": env_int("MESSENGER_THUMBNAIL_MAX_PX", 480),
    # ffmpeg for video posters: a path, a name on PATH, or "" for none (plain file cards).
    "FFMPEG": env("MESSENGER_FFMPEG", "ffmpeg"),
    "FFMPEG_TIMEOUT_SECONDS": env_int("MESSENGER_FFMPEG_TIMEOUT_SECONDS", 20),
    # "django" streams from the app; "accel" (nginx X-Accel-Redirect) and "sendfile"
    # (X-Sendfile) leave the bytes to the proxy.
    "SERVE": env("MESSENGER_FILES_SERVE", "django"),
    "ACCEL_PREFIX": env("MESSENGER_FILES_ACCEL_PREFIX", "/protected-files/"),
    "LINK_PREVIEWS": env_bool("MESSENGER_LINK_PREVIEWS", True),
    "LINK_PREVIEW_TIMEOUT_SECONDS": env_int("MESSENGER_LINK_PREVIEW_TIMEOUT_SECONDS", 5),
    "LINK_PREVIEW_MAX_BYTES": env_int("MESSENGER_LINK_PREVIEW_MAX_BYTES", 512 * 1024),
    "LINK_PREVIEW_IMAGE_MAX_BYTES": env_int("MESSENGER_LINK_PREVIEW_IMAGE_MAX_BYTES", 2 * 1024**2),
    "LINK_PREVIEW_MAX_REDIRECTS": 3,
    "LINK_PREVIEW_PORTS": [int(p) for p in env_list("MESSENGER_LINK_PREVIEW_PORTS")] or [80, 443],
    # Networks (CIDR) fetched although private, e.g. an intranet; empty: public addresses only.
    "LINK_PREVIEW_ALLOW_NETS": env_list("MESSENGER_LINK_PREVIEW_ALLOW_NETS"),
    "LINK_PREVIEW_CACHE_SECONDS": env_int("MESSENGER_LINK_PREVIEW_CACHE_SECONDS", 86400),
    "LINK_PREVIEW_KEEP_DAYS": env_int("MESSENGER_LINK_PREVIEW_KEEP_DAYS", 30),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
