"""A photographed paper invoice through the real bot: the fake Telegram, the sandbox CRM and the
real Tesseract reading generated invoice images (tests/invoice_images.py)."""

from __future__ import annotations

import json

import pytest

from sandbox import data
from services import ocr
from tests.conftest import COURIER, FLORIST, OWNER, Harness
from tests.invoice_images import invoice_image

DELIVERY = "/crm/api/flowers/delivery"
ROSE, EUCALYPTUS, LILY = data.FLOWER_ROSE_RED, data.fid("eucalyptus"), data.fid("white-lily")
FIVE = [
    "Роза красная 60 см  50  950",
    "Эвкалипт  10  600",
    "Лилия белая  20  1500",
    "Гипсофила  15  1200",
    "Тюльпан жёлтый  30  400",
]
WAIT = 30.0  # reading a photo takes a second or two; a loaded CI machine, more


def posts(bot: Harness) -> list[dict]:
    assert bot.sandbox is not None
    return [json.loads(r.body) for r in bot.sandbox.requests if r.method == "POST" and r.path == DELIVERY]


def stock(bot: Harness, flower_id: str) -> int:
    assert bot.sandbox is not None
    return bot.sandbox.state.flowers[flower_id].quantity


async def send_invoice(bot: Harness, image: bytes, *, caption: str | None = None) -> dict:
    if caption is None:
        await bot.tg.send_message(FLORIST, "/delivery")
        await bot.tg.wait_for_message(FLORIST, text_contains="Какой цветок")
    await bot.tg.send_photo(FLORIST, image, caption=caption)
    return await bot.tg.wait_for_message(FLORIST, text_contains="Накладная с фото", timeout=WAIT)


async def test_a_clean_invoice_is_saved_in_two_interactions_after_delivery(bot: Harness):
    before = stock(bot, ROSE)
    table = await send_invoice(bot, invoice_image(FIVE, total="Итого: 125 шт"))  # 1: the photo
    assert "❓" not in table["text"] and "Не сходится" not in table["text"]
    assert "5 из 5" in table["text"]
    await bot.tg.press_button(FLORIST, text_contains="Сохранить", message=table)  # 2: «Сохранить»
    await bot.tg.wait_for_message(FLORIST, text_contains="Накладная:", timeout=WAIT)
    sent = sorted((p["flower_id"], p["quantity"]) for p in posts(bot))
    assert sent == sorted(
        [
            (ROSE, 50),
            (EUCALYPTUS, 10),
            (LILY, 20),
            (data.fid("gypsophila"), 15),
            (data.fid("yellow-tulip"), 30),
        ]
    )
    assert all("фото накладной" in (p.get("note") or "") for p in posts(bot))
    assert stock(bot, ROSE) == before + 50
    # a second tap on «Сохранить» (its button is gone; a slow phone may still send it) writes nothing
    await bot.tg.press_callback_data(FLORIST, f"fl:save:{_op(table, 'save')}", message=table)
    await bot.tg.wait_for(
        "answerCallbackQuery", lambda c: "Уже сохранено" in str(c.params.get("text")), timeout=WAIT
    )
    assert len(posts(bot)) == 5


async def test_every_doubtful_number_is_asked_before_saving(bot: Harness, monkeypatch):
    monkeypatch.setattr(ocr, "DOUBTFUL_BELOW", 101.0)  # as if every number were read unsurely
    table = await send_invoice(bot, invoice_image(FIVE[:2]), caption="накладная")
    assert "Сохранить" not in str(table.get("reply_markup"))
    # a forged or stale «Сохранить» is refused while numbers are doubtful
    await bot.tg.press_callback_data(FLORIST, f"fl:save:{_op(table, 'fix')}", message=table)
    await bot.tg.wait_for("answerCallbackQuery", lambda c: "❓" in str(c.params.get("text")), timeout=WAIT)
    await bot.tg.press_button(FLORIST, text_contains="❓ 1.", message=table)
    await bot.tg.wait_for_message(FLORIST, text_contains="сколько штук", timeout=WAIT)
    await bot.tg.send_message(FLORIST, "пятьдесят")  # not a number: asked again
    await bot.tg.wait_for_message(FLORIST, text_contains="число", timeout=WAIT)
    await bot.tg.send_message(FLORIST, "30")  # the paper said 30
    await bot.tg.wait_for_message(FLORIST, text_contains="какая цена", timeout=WAIT)
    await bot.tg.press_button(FLORIST, text_contains="верно")
    second = await bot.tg.wait_for_message(FLORIST, text_contains="Накладная с фото", timeout=WAIT)
    assert "❓ 2." in str(second.get("reply_markup")) and "❓ 1." not in str(second.get("reply_markup"))
    await bot.tg.press_button(FLORIST, text_contains="❓ 2.", message=second)
    await bot.tg.wait_for_message(FLORIST, text_contains="сколько штук", timeout=WAIT)
    await bot.tg.press_button(FLORIST, text_contains="верно")
    await bot.tg.wait_for_message(FLORIST, text_contains="какая цена", timeout=WAIT)
    await bot.tg.send_message(FLORIST, "600")
    done = await bot.tg.wait_for_message(FLORIST, text_contains="Накладная с фото", timeout=WAIT)
    assert "❓" not in done["text"]
    await bot.tg.press_button(FLORIST, text_contains="Сохранить", message=done)
    await bot.tg.wait_for_message(FLORIST, text_contains="Накладная:", timeout=WAIT)
    assert sorted((p["flower_id"], p["quantity"], p.get("price")) for p in posts(bot)) == [
        (EUCALYPTUS, 10, 600),
        (ROSE, 30, 950),
    ]


def _op(message: dict, action: str) -> str:
    """The invoice's operation id, from its «Сохранить» (save) or a «❓» (fix) button."""
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button.get("callback_data", "").startswith(f"fl:{action}:"):
                return str(button["callback_data"].split(":")[2].split(".")[0])
    raise AssertionError(f"no {action} button")


async def test_a_total_that_does_not_add_up_is_said_plainly(bot: Harness):
    table = await send_invoice(bot, invoice_image(FIVE, total="Итого: 130 шт"))
    assert "Не сходится: в накладной итого 130 шт, в строках 125 шт" in table["text"]


@pytest.mark.parametrize(
    ("what", "expect"),
    [("pdf", "Это не фото"), ("blank", "не нашлось строк"), ("dark", "Сфотографируйте накладную")],
)
async def test_what_cannot_be_read_is_said_and_nothing_is_saved(bot: Harness, what: str, expect: str):
    await bot.tg.send_message(FLORIST, "/delivery")
    await bot.tg.wait_for_message(FLORIST, text_contains="Какой цветок")
    if what == "pdf":
        await bot.tg.send_document(
            FLORIST, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", file_name="накладная.pdf"
        )
    else:
        await bot.tg.send_photo(FLORIST, invoice_image([] if what == "blank" else FIVE, dark=what == "dark"))
    reply = await bot.tg.wait_for_message(FLORIST, text_contains=expect, timeout=WAIT)
    assert "вставьте её текст" in reply["text"]
    assert posts(bot) == []


async def test_a_courier_s_invoice_photo_is_not_read(bot: Harness):
    await bot.tg.send_photo(COURIER, invoice_image(FIVE), caption="накладная")
    await bot.tg.wait_for("sendMessage", lambda c: c.chat_id == COURIER, timeout=WAIT)
    assert posts(bot) == []


async def test_others_are_answered_while_a_photo_is_read(bot: Harness):
    await bot.tg.send_message(FLORIST, "/delivery")
    await bot.tg.wait_for_message(FLORIST, text_contains="Какой цветок")
    await bot.tg.send_photo(FLORIST, invoice_image(FIVE))
    await bot.tg.wait_for_message(FLORIST, text_contains="Читаю накладную", timeout=WAIT)
    await bot.tg.send_message(OWNER, "/orders")
    await bot.tg.wait_for_message(OWNER, text_contains="Заказы", timeout=WAIT)
    assert not [m for m in bot.tg.messages(FLORIST) if "Накладная с фото" in m.get("text", "")]
    await bot.tg.wait_for_message(FLORIST, text_contains="Накладная с фото", timeout=WAIT)
