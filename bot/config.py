"""Typed settings from the environment and `.env`, checked once at start.

Presence rules depend on the command: `staff …` needs only the database, `run` and `check`
need Telegram and both APIs (or `DEMO=1`). Every problem is reported as one line; the caller
prints them and exits without a traceback.
"""

from __future__ import annotations

import re
from datetime import time
from importlib.util import find_spec
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.alerts import QuietHours

_QUIET_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_LOG_LEVELS = {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}


class SettingsError(Exception):
    """Raised with one human line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _matching(pattern: str, problem: str) -> AfterValidator:
    """Refuses a value not matching `pattern` with `problem` (pydantic's own text quotes the regex)."""

    def check(value: Any) -> Any:
        if not re.match(pattern, value.get_secret_value() if isinstance(value, SecretStr) else value):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _owner_ids(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
    for part in parts:
        if not re.fullmatch(r"\d{1,20}", part):
            raise ValueError(f"{part!r} is not a Telegram user id (comma-separated numbers)")
    return [int(part) for part in parts]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a directory, long names too long
        raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Almaty)") from None
    return value


def _quiet(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    if value is None or isinstance(value, QuietHours):
        return value
    match = _QUIET_RE.match(str(value))
    if not match:
        raise ValueError("expected HH:MM-HH:MM, e.g. 22:00-08:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("hours 00-23, minutes 00-59")
    return QuietHours(time(h1, m1), time(h2, m2))


def _level(value: str) -> str:
    if value.upper() not in _LOG_LEVELS:
        raise ValueError(f"one of {', '.join(sorted(_LOG_LEVELS))}")
    return value.upper()


BotToken = Annotated[
    SecretStr,
    _matching(r"^\d{3,}:[A-Za-z0-9_-]{5,}$", "does not look like a bot token from @BotFather (123456:ABC…)"),
]
Url = Annotated[
    str, _matching(r"^https?://[^/\s]+", "must be an http(s) URL"), AfterValidator(lambda v: v.rstrip("/"))
]
DatabaseUrl = Annotated[
    str,
    _matching(
        r"^(sqlite\+aiosqlite|postgresql\+asyncpg)://",
        "use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user:pass@host/db",
    ),
]


class Settings(BaseSettings):
    # An empty NAME= (as in .env.example) means the default; surrounding spaces never count.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        str_strip_whitespace=True,
        extra="ignore",
        arbitrary_types_allowed=True,
    )

    bot_token: BotToken | None = None
    telegram_api_url: Url = "https://api.telegram.org"
    cvety_api_url: Url = "https://cvety.kz/api/v2"
    cvety_api_token: SecretStr | None = None
    crm_api_url: Url | None = None
    crm_api_token: SecretStr | None = None
    database_url: DatabaseUrl = "sqlite+aiosqlite:///data/cvety-bot.db"
    redis_url: str | None = None
    owner_ids: Annotated[list[int], NoDecode, BeforeValidator(_owner_ids)] = Field(default_factory=list)
    alert_chat_id: int | None = None
    alert_thread_id: int | None = None
    new_order_poll_seconds: int = Field(60, ge=0, le=86400)
    low_stock_poll_seconds: int = Field(900, ge=0, le=86400)
    low_stock_threshold: int = Field(5, ge=0, le=100000)
    # with replicas, how soon another takes the scheduled jobs over from one that died
    scheduler_lease_seconds: int = Field(45, ge=3, le=3600)
    timezone: Annotated[str, AfterValidator(_timezone)] = "Asia/Almaty"
    quiet_hours: Annotated[QuietHours | None, NoDecode, BeforeValidator(_quiet)] = None
    demo: bool = False
    webhook_url: Url | None = None
    log_level: Annotated[str, AfterValidator(_level)] = "INFO"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secrets(self) -> list[str]:
        """Every secret value, for the log redaction filter: the tokens, and the passwords in the
        database and Redis URLs (a driver's message may quote the URL it was given)."""
        tokens = (self.bot_token, self.cvety_api_token, self.crm_api_token)
        found = [token.get_secret_value() for token in tokens if token and token.get_secret_value()]
        for url in (self.database_url, self.redis_url):
            password = urlsplit(url).password if url else None
            if password:
                found.append(password)
        return found

    def require_bot(self) -> None:
        """Check what `run` and `check` need; raise SettingsError listing every gap."""
        problems = []
        if self.bot_token is None:
            problems.append("BOT_TOKEN is not set: create a bot with @BotFather and put its token in .env")
        hint = "(or set DEMO=1 to run on the built-in sandbox with demo data)"
        if not self.demo and self.cvety_api_token is None:
            problems.append(f"CVETY_API_TOKEN is not set {hint}")
        if not self.demo and self.crm_api_url is None:
            problems.append(f"CRM_API_URL is not set {hint}")
        if self.webhook_url is not None and not self.webhook_url.startswith("https://"):
            problems.append(
                "WEBHOOK_URL must be an https:// address Telegram can reach (or unset it for long polling)"
            )
        if self.redis_url is not None and find_spec("redis") is None:
            problems.append(
                "REDIS_URL is set but the redis package is missing: pip install 'cvety-bot[redis]'"
            )
        if problems:
            raise SettingsError(problems)


def load_settings(**overrides: Any) -> Settings:
    """Load settings; on invalid values raise SettingsError with one line per problem."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]).upper() or "settings"
            problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError(problems) from None
