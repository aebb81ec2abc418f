from __future__ import annotations

import io
import logging

import pytest

from bot.logs import RedactingFilter, _OneLineFormatter

TOKEN = "s3cr3t-Token_value"
BOT_TOKEN = "123456:AAbbCCdd-EEff"


@pytest.fixture
def capture():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([TOKEN, BOT_TOKEN]))
    handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_token_in_message_args_and_traceback_is_redacted(capture):
    logger, stream = capture
    logger.info("GET https://cvety.kz/api/v2/orders?access_token=%s&limit=5", TOKEN)
    logger.warning("bot url https://api.telegram.org/bot%s/getMe", BOT_TOKEN)
    try:
        raise RuntimeError(f"failed with {TOKEN} and %2F{BOT_TOKEN}")
    except RuntimeError:
        logger.exception("boom")
    output = stream.getvalue()
    assert TOKEN not in output
    assert BOT_TOKEN not in output
    assert "AAbbCCdd" not in output
    assert "access_token=***" in output
    assert output.count("\n") == 3  # one line per event, traceback folded


def test_url_encoded_and_unknown_tokens_are_redacted(capture):
    logger, stream = capture
    logger.info("Authorization: Bearer abc.def-ghi and access_token=other-token")
    logger.info("encoded %s", "123456%3AAAbbCCdd-EEff")
    output = stream.getvalue()
    assert "abc.def-ghi" not in output
    assert "other-token" not in output
    assert "AAbbCCdd" not in output


def test_filter_on_handler_sees_records_from_other_loggers():
    stream = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([TOKEN]))
    root.addHandler(handler)
    try:
        logging.getLogger("httpx").warning("HTTP Request: GET /x?access_token=%s", TOKEN)
    finally:
        root.removeHandler(handler)
    assert TOKEN not in stream.getvalue()
