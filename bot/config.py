"""Typed settings from the environment and `.env`, checked once at start.

Presence rules depend on the command: `staff …` needs only the database, `run` and `check`
need Telegram and both APIs (or `DEMO=1`). Every problem is reported as one line; the caller
prints them and exits without a traceback.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.alerts import QuietHours

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
DEFAULT_CVETY_API_URL = "https://cvety.kz/api/v2"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/cvety-bot.db"

_BOT_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{5,}$")
_QUIET_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_LOG_LEVELS = {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}


class SettingsError(Exception):
    """Raised with one human line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        arbitrary_types_allowed=True,
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    cvety_api_url: str = DEFAULT_CVETY_API_URL
    cvety_api_token: SecretStr | None = None
    crm_api_url: str | None = None
    crm_api_token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    owner_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    alert_chat_id: int | None = None
    alert_thread_id: int | None = None
    new_order_poll_seconds: int = Field(60, ge=0, le=86400)
    low_stock_poll_seconds: int = Field(900, ge=0, le=86400)
    low_stock_threshold: int = Field(5, ge=0, le=100000)
    timezone: str = "Asia/Almaty"
    quiet_hours: Annotated[QuietHours | None, NoDecode] = None
    demo: bool = False
    webhook_url: str | None = None
    log_level: str = "INFO"

    @field_validator(
        "bot_token",
        "cvety_api_token",
        "crm_api_token",
        "crm_api_url",
        "redis_url",
        "webhook_url",
        "alert_chat_id",
        "alert_thread_id",
        mode="before",
    )
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _BOT_TOKEN_RE.match(value.get_secret_value().strip()):
            raise ValueError("does not look like a bot token from @BotFather (123456:ABC…)")
        return value

    @field_validator("telegram_api_url", "cvety_api_url", "crm_api_url", "webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _owner_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            ids = []
            for part in parts:
                if not re.fullmatch(r"\d{1,20}", part):
                    raise ValueError(f"{part!r} is not a Telegram user id (comma-separated numbers)")
                ids.append(int(part))
            return ids
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a directory, long names too long
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Almaty)") from None
        return value

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None or isinstance(value, QuietHours):
            return value
        match = _QUIET_RE.match(str(value))
        if not match:
            raise ValueError("expected HH:MM-HH:MM, e.g. 22:00-08:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError("hours 00-23, minutes 00-59")
        return QuietHours(time(h1, m1), time(h2, m2))

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"one of {', '.join(sorted(_LOG_LEVELS))}")
        return level

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        value = value.strip()
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user:pass@host/db")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secrets(self) -> list[str]:
        """Every secret value, for the log redaction filter."""
        values = []
        for secret in (self.bot_token, self.cvety_api_token, self.crm_api_token):
            if secret is not None and secret.get_secret_value():
                values.append(secret.get_secret_value())
        return values

    def require_bot(self) -> None:
        """Check what `run` and `check` need; raise SettingsError listing every gap."""
        problems = []
        if self.bot_token is None:
            problems.append("BOT_TOKEN is not set: create a bot with @BotFather and put its token in .env")
        if not self.demo:
            hint = "(or set DEMO=1 to run on the built-in sandbox with demo data)"
            if self.cvety_api_token is None:
                problems.append(f"CVETY_API_TOKEN is not set {hint}")
            if self.crm_api_url is None:
                problems.append(f"CRM_API_URL is not set {hint}")
        if self.webhook_url is not None and not self.webhook_url.startswith("https://"):
            problems.append(
                "WEBHOOK_URL must be an https:// address Telegram can reach (or unset it for long polling)"
            )
        if self.redis_url is not None:
            try:
                import redis  # noqa: F401
            except ImportError:
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
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
        raise SettingsError(problems) from None
