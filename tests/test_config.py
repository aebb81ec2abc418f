from __future__ import annotations

from datetime import time

import pytest

from bot.config import Settings, SettingsError, load_settings

ALL_NAMES = [
    "BOT_TOKEN",
    "TELEGRAM_API_URL",
    "CVETY_API_URL",
    "CVETY_API_TOKEN",
    "CRM_API_URL",
    "CRM_API_TOKEN",
    "DATABASE_URL",
    "REDIS_URL",
    "OWNER_IDS",
    "ALERT_CHAT_ID",
    "ALERT_THREAD_ID",
    "NEW_ORDER_POLL_SECONDS",
    "LOW_STOCK_POLL_SECONDS",
    "LOW_STOCK_THRESHOLD",
    "SCHEDULER_LEASE_SECONDS",
    "TIMEZONE",
    "QUIET_HOURS",
    "DEMO",
    "WEBHOOK_URL",
    "LOG_LEVEL",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ALL_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_every_setting_of_the_design_is_known_and_documented():
    fields = {name.upper() for name in Settings.model_fields}
    assert fields == set(ALL_NAMES)
    from pathlib import Path

    example = (Path(__file__).parent.parent / ".env.example").read_text(encoding="utf-8")
    for name in ALL_NAMES:
        assert f"{name}=" in example, name


def test_defaults():
    settings = load_settings()
    assert settings.new_order_poll_seconds == 60
    assert settings.low_stock_poll_seconds == 900
    assert settings.low_stock_threshold == 5
    assert settings.timezone == "Asia/Almaty"
    assert settings.database_url == "sqlite+aiosqlite:///data/cvety-bot.db"
    assert settings.cvety_api_url == "https://cvety.kz/api/v2"
    assert settings.telegram_api_url == "https://api.telegram.org"


def test_values_are_parsed(monkeypatch):
    monkeypatch.setenv("OWNER_IDS", " 1001, 1002 ,")
    monkeypatch.setenv("QUIET_HOURS", "22:00-08:00")
    monkeypatch.setenv("ALERT_CHAT_ID", "-100123")
    monkeypatch.setenv("CRM_API_URL", "http://127.0.0.1:8001/")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.owner_ids == [1001, 1002]
    assert settings.alert_chat_id == -100123
    assert settings.crm_api_url == "http://127.0.0.1:8001"
    assert settings.log_level == "DEBUG"
    quiet = settings.quiet_hours
    assert quiet is not None
    assert quiet.contains(time(23, 30)) and quiet.contains(time(7, 59)) and not quiet.contains(time(8, 0))


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("LOW_STOCK_THRESHOLD=7\nDEMO=1\n", encoding="utf-8")
    settings = load_settings()
    assert settings.low_stock_threshold == 7 and settings.demo is True


def test_every_invalid_value_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", "not-a-token")
    monkeypatch.setenv("OWNER_IDS", "1,abc")
    monkeypatch.setenv("NEW_ORDER_POLL_SECONDS", "-1")
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("QUIET_HOURS", "late")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    problems = caught.value.problems
    assert len(problems) == 6
    assert all("\n" not in p for p in problems)
    joined = "\n".join(problems)
    for name in (
        "BOT_TOKEN",
        "OWNER_IDS",
        "NEW_ORDER_POLL_SECONDS",
        "TIMEZONE",
        "QUIET_HOURS",
        "DATABASE_URL",
    ):
        assert name in joined
    assert "not-a-token" not in joined  # a (wrong) secret is not echoed back


def test_missing_api_settings_mention_demo(monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST-token")
    with pytest.raises(SettingsError) as caught:
        load_settings().require_bot()
    assert len(caught.value.problems) == 2
    assert all("DEMO=1" in p for p in caught.value.problems)
    monkeypatch.setenv("DEMO", "1")
    load_settings().require_bot()


def test_secrets_are_listed_for_redaction(monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST-token")
    monkeypatch.setenv("CVETY_API_TOKEN", "cvety-secret")
    settings = load_settings()
    assert set(settings.secrets()) == {"123456:TEST-token", "cvety-secret"}
    assert "cvety-secret" not in repr(settings)


def test_env_example_as_is_is_valid(tmp_path):
    from pathlib import Path

    example = Path(__file__).parent.parent / ".env.example"
    (tmp_path / ".env").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_settings()
    assert settings.demo is False and settings.bot_token is None and settings.quiet_hours is None


def test_passwords_in_the_database_and_redis_urls_are_secrets():
    from bot.config import load_settings

    settings = load_settings(
        bot_token="123456:TEST-token",
        demo=True,
        database_url="postgresql+asyncpg://cvety:pg-S3cret@db.example:5432/cvety",
        redis_url="redis://:redis-S3cret@cache.example:6379/0",
    )
    assert {"pg-S3cret", "redis-S3cret", "123456:TEST-token"} <= set(settings.secrets())
