"""Settings for Grassroots, read from the environment.

DATA_KEYS      encryption keys of personal values "id:base64,..." (with DATA_HMAC_KEY); else
               the keyring file DATA_KEYRING_FILE (default VAR_DIR/keyring.json, made on first use)
DATABASE_URL   database (default: SQLite in VAR_DIR/grassroots.sqlite3, WAL mode)
SECRET_KEY     or SECRET_KEY_FILE; when both are unset a key is generated into VAR_DIR
DEBUG          1/true/yes to enable debug (default off)
ALLOWED_HOSTS  comma-separated (default: localhost,127.0.0.1,[::1])
HTTPS          1 when served over TLS: secure cookies, HSTS, redirect to https
TRUSTED_PROXY  1 when a reverse proxy terminates TLS and sets X-Forwarded-Proto
LANGUAGE_CODE  default language of pages and command output (default: zh-hans; en available)
OTP_REQUIRED_ROLES  comma-separated roles that must use two-factor sign-in (default:
               county_admin,auditor; superusers always must)
VAR_DIR        where runtime files go (default: ./var in a source checkout, else ./var of cwd)
IMPORT_MAX_BYTES  largest file an import or upload may be (default 256 MiB: a county of a
               million residents is about 80 MB of CSV)
IMPORT_MAX_ROWS  data rows a file uploaded for import (API, console) may hold (default 100,000:
               the largest town or street; `grassroots import` takes any number)
IMPORT_MAX_COLUMNS  columns holding values an imported file may have (default 256)
IMPORT_READER_MEMORY, IMPORT_READER_SECONDS  address space (default 1 GiB) and CPU seconds
               (default 300) of the child process that reads an .xlsx file
IMPORT_MAX_PROBLEMS_SHOWN  problems an import's answer lists (default 1,000), with their total;
               `grassroots import --errors OUT` writes every one
IMPORT_LOCK_SECONDS  how long an import waits for another one to finish writing (default 600)
               before it is refused with a message (imports write one at a time)
UPLOAD_MAX_BYTES  largest body of any other upload (default 9 photos of CASE_PHOTO_MAX_BYTES, whose
               default is 10 MiB); each file of it at most CASE_PHOTO_MAX_BYTES
PORTAL_RATE    requests a minute from one address to the public portal (default 30/m), counted in
               the database across processes
OPEN311_KEY_RATE  service requests one Open311 key may send (default 60/m);
               OPEN311_BAD_KEY_RATE  wrong keys one address may try (default 10/h)
AXES_FAILURE_LIMIT  wrong passwords before an account is locked for an hour (default 5);
AXES_ADDRESS_FAILURE_LIMIT  failures on any accounts before a client address is (default 30)
ASSISTANCE_MAX_YUAN  the most one record of hardship assistance may give (default 50,000)
NOTIFICATION_BACKENDS  comma-separated: console, email, webhook (default: console)
NOTIFICATION_WEBHOOK_URL  where the webhook backend POSTs its JSON (an SMS gateway, WeCom relay)
NOTIFICATION_WEBHOOK_TOKEN  (or _FILE) sent as Authorization: Bearer; NOTIFICATION_WEBHOOK_SECRET
               (or _FILE) signs each body with HMAC-SHA256 (X-Grassroots-Signature)
NOTIFICATION_MAX_ATTEMPTS  sends of a message before it is given up (default 5)
ORGS_REMINDER_DAYS  days before a month or quarter ends from which an organization's secretary
               is reminded of the meetings (三会一课, 主题党日) still missing in it (default 7)
EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD (or _FILE), EMAIL_USE_TLS,
DEFAULT_FROM_EMAIL  the SMTP server of the email backend
MAP_TILE_URL   an XYZ tile address ({z}/{x}/{y}) for the maps, e.g. 天地图 (default: none, grids
               over a plain background); MAP_TILE_ATTRIBUTION its credit line
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_number(name: str, default: float, kind: type = int, minimum: float = 0) -> Any:
    """A number from the environment; a bad value stops start-up with a message naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        return kind(default)
    try:
        number = kind(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not {'a whole' if kind is int else 'a'} number"
        ) from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
    return number


def env_secret(name: str) -> str | None:
    """A secret from NAME or from the file named by NAME_FILE."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return None


if os.environ.get("VAR_DIR"):
    VAR_DIR = Path(os.environ["VAR_DIR"]).resolve()
elif (_CHECKOUT / "pyproject.toml").exists():
    VAR_DIR = _CHECKOUT / "var"
else:
    VAR_DIR = Path.cwd() / "var"
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _generated_secret_key() -> str:
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY") or _generated_secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # serves the API docs page's own static files: no CDN needed offline
    "grassroots.core",
    "grassroots.territory",
    "grassroots.accounts",
    "grassroots.registry",
    "grassroots.audit",
    "grassroots.cases",
    "grassroots.orgs",
    "grassroots.web",
    "grassroots.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, API docs) served by the app itself, with or without DEBUG.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "grassroots.core.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session gave a TOTP code.
    "django_otp.middleware.OTPMiddleware",
    # Every request gets an audit context: channel, request id, client address, actor.
    "grassroots.audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # A NUL character in a URL matches nothing and breaks PostgreSQL queries: 422/400 at once.
    "grassroots.core.middleware.RefuseNulMiddleware",
    # Confines a session that still owes its two-factor code to the two-factor pages.
    "grassroots.accounts.middleware.TwoFactorMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "grassroots.urls"
WSGI_APPLICATION = "grassroots.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "grassroots.web.nav.navigation",
            ],
        },
    },
]

_default_db = f"sqlite:///{VAR_DIR / 'grassroots.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(os.environ.get("DATABASE_URL") or _default_db, conn_max_age=0)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers go on while an import writes; IMMEDIATE avoids lock upgrades failing.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA busy_timeout=10000; PRAGMA cache_size=-65536;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cases: photos attached to a report or a step (JPEG, PNG, WebP, HEIC), kept under VAR_DIR/media
# and served only through pages that check the case's scope.
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
CASE_PHOTO_MAX_BYTES = env_number("CASE_PHOTO_MAX_BYTES", 10 * 1024 * 1024, minimum=1)

# Background work (notifications, the escalation sweep) through Django's tasks API; the database
# backend keeps the queue in the same database, and `grassroots worker` runs it.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses sign-in for a locked-out account or address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "grassroots.accounts.backends.RoleBackend",
]
# Lockout after repeated failures: an account after AXES_FAILURE_LIMIT wrong passwords; a client
# address (an office router shared by many) only after AXES_ADDRESS_FAILURE_LIMIT failures on
# any accounts (accounts/lockout.py), both for an hour.
AXES_HANDLER = "grassroots.accounts.lockout.AccountAndAddressHandler"
AXES_FAILURE_LIMIT = env_number("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_ADDRESS_FAILURE_LIMIT = env_number("AXES_ADDRESS_FAILURE_LIMIT", 30, minimum=1)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes warns when the address is not a lockout parameter; our handler counts it itself.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = 1 if env_bool("TRUSTED_PROXY") else 0
# The API's throttles read the client address the same way (X-Forwarded-For only behind the
# trusted proxy; otherwise a client could name any address it likes).
NINJA_NUM_PROXIES = AXES_IPWARE_PROXY_COUNT
# Requests a minute from one address to the public portal's endpoints (no account: submit,
# look up, rate, reject), against guessing and flooding.
PORTAL_RATE = os.environ.get("PORTAL_RATE") or "30/m"
# Open311 (cases/open311/): service requests one API key may send, and wrong keys one address
# may send before it is refused for the rest of the window. Counted in the database, like
# PORTAL_RATE (core/ratelimit.py).
OPEN311_KEY_RATE = os.environ.get("OPEN311_KEY_RATE") or "60/m"
OPEN311_BAD_KEY_RATE = os.environ.get("OPEN311_BAD_KEY_RATE") or "10/h"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Web hardening. Pages load nothing from other hosts; no inline scripts (style attributes are
# allowed: the admin uses them); nobody may frame us.
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # forms carry the token; scripts never read the cookie
SESSION_COOKIE_AGE = 8 * 3600  # a working day
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Maps: grids are drawn over a plain background unless an XYZ tile address is given, e.g. a
# 天地图 endpoint "https://t0.tianditu.gov.cn/vec_w/wmts?...&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY"
# (the page's Content-Security-Policy then admits that host for images).
MAP_TILE_URL = os.environ.get("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = os.environ.get("MAP_TILE_ATTRIBUTION", "")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if MAP_TILE_URL:
    from urllib.parse import urlsplit

    _tiles = urlsplit(MAP_TILE_URL.replace("{s}", "a"))
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(f"{_tiles.scheme}://{_tiles.netloc}")
HTTPS = env_bool("HTTPS")
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Only marks the header; submitting the domain to the browsers' list stays a manual step.
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
if env_bool("TRUSTED_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/"
# A form sent after its page expired gets a page that says so (web/errors.py).
CSRF_FAILURE_VIEW = "grassroots.web.errors.csrf_failure"


# The default language of pages and of command output; users switch pages to English.
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE") or "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the apps' static folders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True

# Grassroots' own settings
# Encryption at rest of ID and mobile numbers (see core/crypto.py and docs/security.md):
# DATA_KEYS="id:base64key,..." (first is primary) with DATA_HMAC_KEY, or else the keyring file
# (created on first use, mode 0600). Keep the keys and the database backups apart.
DATA_KEYS = os.environ.get("DATA_KEYS", "")
DATA_HMAC_KEY = os.environ.get("DATA_HMAC_KEY", "")
DATA_KEYRING_FILE = os.environ.get("DATA_KEYRING_FILE") or str(VAR_DIR / "keyring.json")

# Audit events marked sensitive (about sensitive tags, 特殊人群) are read only with this
# permission; the registry's explicit grant (`grassroots users grant NAME ...`).
AUDIT_SENSITIVE_PERMISSION = "registry.view_sensitive_tags"

# How many masked values one user may reveal per day (registry.privacy).
REVEAL_DAILY_LIMIT = env_number("REVEAL_DAILY_LIMIT", 100, minimum=0)

# How many identifiers the coverage audit lists per problem.
COVERAGE_SAMPLE_SIZE = 20
# Largest file an import reads (command or upload): bigger ones are refused before reading.
IMPORT_MAX_BYTES = env_number("IMPORT_MAX_BYTES", 256 * 1024 * 1024, minimum=1)
# Data rows of a file uploaded for import (the API, the console; not `grassroots import`, whose
# county-size files hold a million). A town or street of 100,000 residents fits; checking
# that many rows takes about 10 s and a few hundred MB, as an upload's request or job may.
IMPORT_MAX_ROWS = env_number("IMPORT_MAX_ROWS", 100_000, minimum=1)
# Columns holding values in any imported file: ours have about 20; a value past this refuses
# the file (a crafted .xlsx file names column XFD, the 16,384th).
IMPORT_MAX_COLUMNS = env_number("IMPORT_MAX_COLUMNS", 256, minimum=1)
# The child process reading an .xlsx file (core/xlsx.py) may use this much address space and
# CPU time; past either it ends and the file is refused with the setting's name. A million
# residents' .xlsx (its texts shared, as Excel writes them) takes about 20 s and 300 MB.
IMPORT_READER_MEMORY = env_number("IMPORT_READER_MEMORY", 1024**3, minimum=64 * 1024**2)
IMPORT_READER_SECONDS = env_number("IMPORT_READER_SECONDS", 300, minimum=1)
# Problems listed in an import's answer (API, console page, command output), first by row;
# the total is always given.
IMPORT_MAX_PROBLEMS_SHOWN = env_number("IMPORT_MAX_PROBLEMS_SHOWN", 1000, minimum=1)
# Imports write one at a time (core/imports.py: SQLite's write lock, a PostgreSQL advisory
# lock): a second one waits this long for the first to commit, then is refused with a message.
IMPORT_LOCK_SECONDS = env_number("IMPORT_LOCK_SECONDS", 600, minimum=1)
# Any other upload (photos of a case: cases.services.MAX_PHOTOS of them) carries at most this
# much, each file at most CASE_PHOTO_MAX_BYTES.
UPLOAD_MAX_BYTES = env_number("UPLOAD_MAX_BYTES", 9 * CASE_PHOTO_MAX_BYTES, minimum=1)
# The first handler stops an upload as soon as it passes its limit (core/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "grassroots.core.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# The most one record of hardship assistance may give, in yuan (cases.kinds): a typo of a few
# zeros is refused, and larger sums go through the department's own procedure.
ASSISTANCE_MAX_YUAN = env_number("ASSISTANCE_MAX_YUAN", 50_000, minimum=1)
# Duplicate suggestions at intake (cases/duplicates.py): reports of the same category this
# near (metres) and this close in time (days) with similar text are offered as duplicates.
CASE_DUPLICATE_METRES = env_number("CASE_DUPLICATE_METRES", 200, minimum=0)
CASE_DUPLICATE_DAYS = env_number("CASE_DUPLICATE_DAYS", 7, minimum=0)
# Page size of API lists (clients may ask for up to API_MAX_PAGE_SIZE).
API_PAGE_SIZE = 50
API_MAX_PAGE_SIZE = 500
# Days an API token is valid when issued (`grassroots users token NAME --days N` to choose).
API_TOKEN_DAYS = env_number("API_TOKEN_DAYS", 90, minimum=1)
# Roles that must sign in with a TOTP code after the password (superusers always must); any
# other user may enrol and is then asked for the code too. API tokens are not affected.
OTP_REQUIRED_ROLES = env_list("OTP_REQUIRED_ROLES", ["county_admin", "auditor"])
# The name authenticator apps show next to the account.
OTP_TOTP_ISSUER = "Grassroots"
# Keys are never shown again in the admin's TOTP device pages (superusers only).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Notifications (cases/notify.py): which backends tell people, and how failed sends are retried.
NOTIFICATION_BACKENDS = env_list("NOTIFICATION_BACKENDS", ["console"])
NOTIFICATION_WEBHOOK_URL = os.environ.get("NOTIFICATION_WEBHOOK_URL", "")
NOTIFICATION_WEBHOOK_TOKEN = env_secret("NOTIFICATION_WEBHOOK_TOKEN") or ""
NOTIFICATION_WEBHOOK_SECRET = env_secret("NOTIFICATION_WEBHOOK_SECRET") or ""
NOTIFICATION_WEBHOOK_TIMEOUT = env_number("NOTIFICATION_WEBHOOK_TIMEOUT", 10, float, minimum=0.1)
NOTIFICATION_MAX_ATTEMPTS = env_number("NOTIFICATION_MAX_ATTEMPTS", 5, minimum=1)
# The wait before the first retry, doubled after each failure (60 s, 2, 4, 8 minutes, ...).
NOTIFICATION_RETRY_SECONDS = env_number("NOTIFICATION_RETRY_SECONDS", 60, minimum=1)
# Branch life reminders (orgs/reminders.py): an organization still missing a required meeting
# in the current month or quarter is reminded once, when this many days or fewer are left.
ORGS_REMINDER_DAYS = env_number("ORGS_REMINDER_DAYS", 7, minimum=0)
EMAIL_HOST = os.environ.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_number("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL") or "grassroots@localhost"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
