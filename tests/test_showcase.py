"""/vitrina end to end: the showcase list under an album of its photos, cards, one card at a time,
adding a bouquet from an album, price changes, «Продан», what the server does not support, and
who may do what."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from sandbox import Sandbox, data
from sandbox.cvety import parse_multipart
from sandbox.state import Product
from services.showcase import (
    AlbumCollector,
    Problem,
    ShowcaseInputError,
    ShowcaseService,
    parse_bouquet_price,
    parse_size,
)
from tests.conftest import ASSISTANT, COURIER, FLORIST, OWNER, Harness, start_harness
from tests.fake_telegram import TINY_PNG, FakeTelegram
from views.callbacks import MenuCb, ShowcaseCb
from views.showcase import Album, main_image, unpack_album

API = "/cvety/api/v2"
ROSES = data.PRODUCT_ROSES  # «25 красных роз 60 см», 24 990 ₸, 40×60, 1 day, 2 photos
NBSP = "\u00a0"


@pytest.fixture
async def bot(tg: FakeTelegram, sandbox: Sandbox, tmp_path) -> AsyncIterator[Harness]:
    """The bot, with the album debounce shortened so that albums take 0.05 s, not 1 s."""
    async for harness in start_harness(tg, sandbox, tmp_path):
        service(harness).albums.wait = 0.05
        yield harness


def service(bot: Harness) -> ShowcaseService:
    showcase = bot.app.dp.workflow_data["showcase"]
    assert isinstance(showcase, ShowcaseService)
    return showcase


def sandbox_of(bot: Harness) -> Sandbox:
    assert bot.sandbox is not None
    return bot.sandbox


def requests_to(bot: Harness, method: str, path: str) -> list:
    return [r for r in sandbox_of(bot).requests if r.method == method and r.path == API + path]


def add_product(bot: Harness, product_id: int, title: str, *, images: list[str] | None = None) -> None:
    sandbox_of(bot).state.products[product_id] = Product(
        id=product_id,
        title=title,
        price=15000,
        type="vitrina",
        images=images or [],
        created_at="2025-09-26T14:59:39+0500",
        width="30",
        height="40",
    )


async def say(bot: Harness, user: int, text: str, expect: str) -> dict:
    await bot.tg.send_message(user, text)
    return await bot.tg.wait_for_message(user, text_contains=expect)


async def press(bot: Harness, user: int, label: str, expect: str, message: dict | None = None) -> dict:
    await bot.tg.press_button(user, text_contains=label, message=message)
    return await bot.tg.wait_for_message(user, text_contains=expect)


async def toast(bot: Harness, user: int, callback: str, message: dict) -> str:
    query = await bot.tg.press_callback_data(user, callback, message=message)
    await bot.tg.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)
    return str(bot.tg.callback_answers[query].get("text", ""))


def labels(bot: Harness, message: dict) -> list[str]:
    return [text for text, _ in bot.tg.buttons(message)]


def text_of(message: dict) -> str:
    return str(message.get("text") or message.get("caption") or "")


def photos_in(bot: Harness, user: int) -> list[dict]:
    """The bot's photo messages in the chat (an album's are one each), oldest first."""
    return [m for m in bot.tg.messages(user) if "photo" in m]


async def images_of_page(bot: Harness, page: int) -> list[str]:
    return [str(main_image(p)) for p in (await service(bot).page(page)).items]


async def open_roses(bot: Harness, user: int) -> dict:
    listing = await say(bot, user, "/vitrina", "Витрина")
    return await press(bot, user, "25 красных роз", "Состав", message=listing)


# --- viewing -------------------------------------------------------------------------------------


async def test_list_shows_what_is_on_sale_and_opens_a_card(bot: Harness):
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    text = listing["text"]
    assert "готовые букеты: 5" in text
    assert f"25 красных роз 60 см</b> — 24{NBSP}990{NBSP}₸".replace("</b>", "") in text
    assert "40×60 см · на витрине 1 день" in text
    assert "на витрине 2 дня" in text and "на витрине с сегодняшнего дня" in text
    assert "«Облако»" not in text  # not available: not on sale
    assert "Шляпная" in text and "101 красная роза" not in text  # catalog items are not the showcase
    assert "➕ Добавить на витрину" in labels(bot, listing)

    card = await press(bot, FLORIST, "25 красных роз", "Состав", message=listing)
    assert "photo" in card, "the card is a photo with a caption"
    caption = card["caption"]
    assert len(caption) <= 1024
    assert "Роза красная 60 см × 25" in caption and "Размер: 40×60 см" in caption
    assert "Сборка: быстрая" in caption and "Фото: 1, 2" in caption
    assert {"✅ Продан / снять с витрины", "💰 Изменить цену", "📏 Размер", "🔄 Обновить"} <= set(
        labels(bot, card)
    )

    # an assistant may look, but changes nothing
    assistant_card = await open_roses(bot, ASSISTANT)
    assert [label for label in labels(bot, assistant_card) if "Продан" in label or "цену" in label] == []
    [assistant_list] = [m for m in bot.tg.messages(ASSISTANT) if "готовые букеты" in text_of(m)]
    assert "➕ Добавить на витрину" not in labels(bot, assistant_list)


async def test_pages_of_five(bot: Harness):
    add_product(bot, 696900, "Розы «Утро»", images=["/upload/iblock/x/utro.png"])
    add_product(bot, 696901, "Розы «Вечер»", images=["/upload/iblock/x/vecher.png"])
    first = await say(bot, OWNER, "/vitrina", "стр. 1 из 2")
    assert "готовые букеты: 7" in first["text"] and "Розы «Вечер»" in first["text"]
    second = await press(bot, OWNER, "▶", "стр. 2 из 2", message=first)
    assert second["message_id"] == first["message_id"]
    assert "6. " in second["text"] and "Монобукет из эустомы" in second["text"]


async def test_one_card_at_a_time_with_photos_and_a_text_card_without(bot: Harness):
    add_product(bot, 696900, "Букет без фото")  # the newest, first in the showcase
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    first = await press(bot, FLORIST, "По одному", "1 / 6", message=listing)
    assert "photo" not in first and "Букет без фото" in first["text"]  # no image: a text card
    second = await press(bot, FLORIST, "▶", "2 / 6", message=first)
    assert "photo" in second and "25 красных роз" in second["caption"]
    third = await press(bot, FLORIST, "▶", "3 / 6", message=second)
    assert third["message_id"] == second["message_id"]  # photo to photo: the media is edited
    assert "Нежность" in third["caption"]
    media_edits = bot.tg.calls("editMessageMedia")
    assert media_edits and all(call.ok for call in media_edits)
    back = await press(bot, FLORIST, "◀", "2 / 6", message=third)
    assert back["message_id"] == second["message_id"]
    details = await press(bot, FLORIST, "Подробнее", "Состав", message=back)
    assert details["message_id"] != back["message_id"]
    as_list = await press(bot, FLORIST, "Списком", "готовые букеты: 6", message=back)
    assert "photo" not in as_list


async def test_a_photo_telegram_cannot_fetch_becomes_a_text_card_with_a_link(bot: Harness):
    bot.tg.fail_next("sendPhoto", error_code=400, description="Bad Request: failed to get HTTP URL content")
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    card = await press(bot, FLORIST, "25 красных роз", "Состав", message=listing)
    assert "photo" not in card and "📷 Фото" in card["text"]
    photos_tried = len(bot.tg.calls("sendPhoto"))
    again = await press(bot, FLORIST, "25 красных роз", "Состав", message=listing)
    assert "photo" not in again and len(bot.tg.calls("sendPhoto")) == photos_tried  # not tried again


# --- the photos above the list -------------------------------------------------------------------


async def test_the_first_screen_is_the_bouquets_photos_with_the_list_under_them(bot: Harness):
    images = await images_of_page(bot, 0)
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    [album] = bot.tg.calls("sendMediaGroup")
    media = album.params["media"]
    assert album.ok and len(media) == 5 <= 10
    assert [item["media"] for item in media] == images  # every bouquet of the page, in the list's order
    assert all(item["type"] == "photo" and len(item["caption"]) <= 1024 for item in media)
    photos = photos_in(bot, FLORIST)
    assert len(photos) == 5 and len({m["media_group_id"] for m in photos}) == 1
    assert photos[0]["caption"] == f"1. 25 красных роз 60 см — 24{NBSP}990{NBSP}₸"
    assert photos[4]["caption"].startswith("5. Монобукет из эустомы — ")
    # then the list, with its buttons; the photos are above it, so it does not link them
    assert bot.tg.messages(FLORIST)[-1]["message_id"] == listing["message_id"]
    assert "готовые букеты: 5" in listing["text"] and ">фото</a>" not in listing["raw"]
    assert {"🖼 По одному", "🔄 Обновить", "➕ Добавить на витрину"} <= set(labels(bot, listing))
    assert bot.tg.calls("sendPhoto") == []

    # a tap on the list opens the card, with Telegram's copy of the photo: not fetched again
    card = await press(bot, FLORIST, "25 красных роз", "Состав", message=listing)
    assert "photo" in card
    [sent] = bot.tg.calls("sendPhoto")
    assert sent.params["photo"] == photos[0]["photo"][-1]["file_id"]


async def test_paging_replaces_the_album_above_the_list(bot: Harness):
    add_product(bot, 696900, "Розы «Утро»", images=["/upload/iblock/x/utro.png"])
    add_product(bot, 696901, "Розы «Вечер»", images=["/upload/iblock/x/vecher.png"])
    first = await say(bot, OWNER, "/vitrina", "стр. 1 из 2")
    album = photos_in(bot, OWNER)
    assert [m["caption"].split(" — ")[0] for m in album[:2]] == ["1. Розы «Вечер»", "2. Розы «Утро»"]

    # to a page of two: two of the album's photos change, the other three go; the list stays
    second = await press(bot, OWNER, "▶", "стр. 2 из 2", message=first)
    assert second["message_id"] == first["message_id"]
    now = photos_in(bot, OWNER)
    assert [m["message_id"] for m in now] == [m["message_id"] for m in album[:2]]
    assert now[0]["caption"].startswith("6. Тюльпаны жёлтые") and now[1]["caption"].startswith("7. Монобукет")
    assert [m["photo"] for m in now] != [m["photo"] for m in album[:2]]
    assert len(bot.tg.messages(OWNER)) == 3 and len(bot.tg.deleted_messages(OWNER)) == 3
    assert [c.ok for c in bot.tg.calls("editMessageMedia")] == [True, True]

    # back to a page of five: a new album and a new list under it, the old ones gone
    back = await press(bot, OWNER, "◀", "стр. 1 из 2", message=second)
    assert len(photos_in(bot, OWNER)) == 5 and len(bot.tg.messages(OWNER)) == 6
    assert bot.tg.messages(OWNER)[-1]["message_id"] == back["message_id"]
    assert photos_in(bot, OWNER)[0]["caption"].startswith("1. Розы «Вечер»")

    # «Обновить» brings a new price into the photo's caption, in place
    sandbox_of(bot).state.products[696901].price = 16000
    fresh = await press(bot, OWNER, "Обновить", "стр. 1 из 2", message=back)
    assert fresh["message_id"] == back["message_id"] and len(bot.tg.messages(OWNER)) == 6
    assert f"16{NBSP}000" in fresh["text"]
    assert f"16{NBSP}000" in photos_in(bot, OWNER)[0]["caption"]

    # and the list's buttons still open the bouquets
    await press(bot, OWNER, "Розы «Утро»", "💐 Розы «Утро»", message=fresh)


async def test_a_page_without_photos_is_the_text_list(bot: Harness):
    for n in range(5):
        add_product(bot, 696900 + n, f"Букет без фото {n + 1}")
    first = await say(bot, FLORIST, "/vitrina", "стр. 1 из 2")
    assert bot.tg.calls("sendMediaGroup") == [] and bot.tg.calls("sendPhoto") == []
    assert bot.tg.messages(FLORIST) == [first] and "Букет без фото 5" in first["text"]

    second = await press(bot, FLORIST, "▶", "стр. 2 из 2", message=first)  # this one has photos
    assert len(photos_in(bot, FLORIST)) == 5
    assert bot.tg.messages(FLORIST)[-1]["message_id"] == second["message_id"]

    back = await press(bot, FLORIST, "◀", "стр. 1 из 2", message=second)  # the album goes
    assert back["message_id"] == second["message_id"] and bot.tg.messages(FLORIST) == [back]


async def test_photos_telegram_cannot_fetch_are_links_in_the_list(bot: Harness):
    images = await images_of_page(bot, 0)
    roses, tulips = images[0], images[3]
    bot.tg.unfetchable_urls.update({roses, tulips})
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    albums = bot.tg.calls("sendMediaGroup")
    assert [len(call.params["media"]) for call in albums] == [5, 4, 3]
    assert [call.ok for call in albums] == [False, False, True]
    assert "message #1 " in str(albums[0].description) and "message #3 " in str(albums[1].description)
    assert [m["caption"].split(".")[0] for m in photos_in(bot, FLORIST)] == ["2", "3", "5"]
    assert listing["raw"].count(">фото</a>") == 2
    assert f'href="{roses}"' in listing["raw"] and f'href="{tulips}"' in listing["raw"]

    # the card is a text card with a link, and neither photo is tried again
    card = await press(bot, FLORIST, "25 красных роз", "Состав", message=listing)
    assert "photo" not in card and "📷 Фото" in card["text"]
    await say(bot, FLORIST, "/vitrina", "Витрина")
    assert [len(call.params["media"]) for call in bot.tg.calls("sendMediaGroup")] == [5, 4, 3, 3]
    assert bot.tg.calls("sendPhoto") == []


async def test_when_telegram_can_fetch_no_photo_the_list_is_text_as_before(bot: Harness):
    bot.tg.unfetchable_urls.update(await images_of_page(bot, 0))
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    assert [len(call.params["media"]) for call in bot.tg.calls("sendMediaGroup")] == [5, 4, 3, 2]
    assert [call.ok for call in bot.tg.calls("sendPhoto")] == [False]  # the last one alone
    assert photos_in(bot, FLORIST) == [] and listing["raw"].count(">фото</a>") == 5
    assert bot.tg.messages(FLORIST) == [listing]


async def test_an_album_refused_without_naming_a_photo_leaves_the_text_list(bot: Harness):
    bot.tg.fail_next("sendMediaGroup", error_code=400, description="Bad Request: group send failed")
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    assert photos_in(bot, FLORIST) == [] and listing["raw"].count(">фото</a>") == 5
    assert len(bot.tg.calls("sendMediaGroup")) == 1 and bot.tg.calls("sendPhoto") == []


async def test_paging_to_a_photo_telegram_cannot_fetch(bot: Harness):
    add_product(bot, 696900, "Розы «Утро»", images=["/upload/iblock/x/utro.png"])
    add_product(bot, 696901, "Розы «Вечер»", images=["/upload/iblock/x/vecher.png"])
    first = await say(bot, OWNER, "/vitrina", "стр. 1 из 2")
    tulips = (await images_of_page(bot, 1))[0]
    bot.tg.unfetchable_urls.add(tulips)
    second = await press(bot, OWNER, "▶", "стр. 2 из 2", message=first)
    assert second["message_id"] == first["message_id"]
    [refused, changed] = bot.tg.calls("editMessageMedia")
    assert not refused.ok and "failed to get HTTP URL content" in str(refused.description) and changed.ok
    [photo] = photos_in(bot, OWNER)
    assert photo["caption"].startswith("7. Монобукет") and len(bot.tg.messages(OWNER)) == 2
    assert f'href="{tulips}"' in second["raw"] and second["raw"].count(">фото</a>") == 1


async def test_taps_on_the_list_are_authorised_again(bot: Harness):
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    [(_, flip)] = [b for b in bot.tg.buttons(listing) if "По одному" in b[0]]
    assert unpack_album(ShowcaseCb.unpack(flip).arg, listing["message_id"]) == [
        m["message_id"] for m in photos_in(bot, FLORIST)
    ]
    # the same button from a courier: refused, nothing deleted
    message = await say(bot, COURIER, "/help", "Что я умею")
    assert "недоступна" in await toast(bot, COURIER, flip, message)
    assert bot.tg.calls("deleteMessages") == [] and bot.tg.calls("deleteMessage") == []

    # an assistant may look: «По одному» takes the album away, the card shows the photos
    assistant_list = await say(bot, ASSISTANT, "/vitrina", "Витрина")
    card = await press(bot, ASSISTANT, "По одному", "1 / 5", message=assistant_list)
    assert "photo" in card and bot.tg.messages(ASSISTANT) == [card]
    assert "недоступна" not in await toast(bot, ASSISTANT, ShowcaseCb(action="p").pack(), card)
    answer = await toast(bot, ASSISTANT, ShowcaseCb(action="a").pack(), card)
    assert "владелец, старший флорист и флорист" in answer


def test_the_album_in_the_list_buttons():
    album = Album((101, 102, 104))
    assert album.pack() == "101.1.2" and Album().pack() == ""
    assert unpack_album("101.1.2", 105) == [101, 102, 104]
    assert unpack_album("101.1.2", 103) == [101, 102]  # only messages above the list
    assert unpack_album("1.1", 105) == []  # and just above it
    assert unpack_album("101.x", 105) == [] and unpack_album("", 105) == []
    assert unpack_album(".".join(["100", *["1"] * 20]), 120) == list(range(100, 110))  # ten at most
    ten = Album(tuple(range(10**9, 10**9 + 10)))
    assert len(ShowcaseCb(action="f", page=995, arg=ten.pack()).pack()) <= 64


# --- adding a bouquet ----------------------------------------------------------------------------


async def test_add_a_bouquet_from_an_album_of_two_photos(bot: Harness):
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    await press(bot, FLORIST, "Добавить на витрину", "Пришлите фото букета", message=listing)
    await bot.tg.send_photo(FLORIST, TINY_PNG, media_group_id="album-1")
    await bot.tg.send_photo(FLORIST, TINY_PNG, media_group_id="album-1")
    await bot.tg.wait_for_message(FLORIST, text_contains="Как назвать букет")
    assert "Фото загружены: 2" in text_of(bot.tg.messages(FLORIST)[-2])
    uploads = requests_to(bot, "POST", "/uploads/images/")
    assert len(uploads) == 1, "one album, one upload"
    parts = parse_multipart(uploads[0].headers["Content-Type"], uploads[0].body)
    assert [field for field, _, _ in parts] == ["images[]", "images[]"]

    await say(bot, FLORIST, "   ", "Название не может быть пустым")
    await say(bot, FLORIST, "Букет «Весна»", "Цена букета")
    await say(bot, FLORIST, "0", "больше нуля")
    await say(bot, FLORIST, "25000", "Размер букета")
    await say(bot, FLORIST, "сорок", "Не понял размер")
    preview = await say(bot, FLORIST, "40 на 60", "Проверьте букет")
    assert "photo" in preview  # the florist's own photo, by its Telegram file id
    assert f"25{NBSP}000{NBSP}₸" in preview["caption"] and "40×60 см" in preview["caption"]

    await bot.tg.press_button(FLORIST, text_contains="Выставить", message=preview)
    done = await bot.tg.wait_for_message(FLORIST, text_contains="на витрине")
    creates = requests_to(bot, "POST", "/product/create")
    assert len(creates) == 1
    body = json.loads(creates[0].body)
    assert body["title"] == "Букет «Весна»" and body["price"] == 25000 and body["type"] == "vitrina"
    assert body["ownerId"] == data.SHOP_ID and body["id"].startswith("VT-")
    assert len(body["images"]) == 2 and len(set(body["images"])) == 2
    assert all(url.startswith(sandbox_of(bot).origin + "/upload/") for url in body["images"])
    created = [p for p in sandbox_of(bot).state.products.values() if p.title == "Букет «Весна»"]
    assert len(created) == 1 and created[0].images == body["images"] and created[0].width == "40"

    # a second tap on the old preview creates nothing more
    answer = await toast(bot, FLORIST, ShowcaseCb(action="k", arg="x").pack(), preview)
    assert "устарело" in answer
    await press(bot, FLORIST, "Открыть карточку", "Букет «Весна»", message=done)
    assert len(requests_to(bot, "POST", "/product/create")) == 1

    # the title is offered the next time
    await press(bot, FLORIST, "Ещё букет", "Пришлите фото букета", message=done)
    await bot.tg.send_photo(FLORIST, TINY_PNG)
    ask = await bot.tg.wait_for_message(FLORIST, text_contains="Как назвать букет")
    assert "Букет «Весна»" in labels(bot, ask)
    await press(bot, FLORIST, "Букет «Весна»", "Цена букета", message=ask)


async def test_a_failed_create_keeps_the_photos_for_a_retry(bot: Harness):
    sandbox = sandbox_of(bot)
    sandbox.faults.add("POST", API + "/product/create", status=500)
    listing = await say(bot, OWNER, "/vitrina", "Витрина")
    await press(bot, OWNER, "Добавить на витрину", "Пришлите фото букета", message=listing)
    await bot.tg.send_photo(OWNER, TINY_PNG, caption="Пионы к празднику")
    await bot.tg.wait_for_message(OWNER, text_contains="Цена букета")  # the caption is the title
    await say(bot, OWNER, "18 500 тг", "Размер букета")
    preview = await press(bot, OWNER, "Пропустить", "Проверьте букет")
    failed = await press(bot, OWNER, "Выставить", "не выставлен", message=preview)
    assert "Фото загружены и сохранены" in failed["text"] and "недоступен" in failed["text"]
    assert not [p for p in sandbox.state.products.values() if p.title == "Пионы к празднику"]

    sandbox.faults.clear()
    await press(bot, OWNER, "Повторить", "на витрине", message=failed)
    created = [p for p in sandbox.state.products.values() if p.title == "Пионы к празднику"]
    assert len(created) == 1 and len(created[0].images) == 1 and created[0].price == 18500
    assert len(requests_to(bot, "POST", "/uploads/images/")) == 1, "the photos were not sent again"
    assert len(requests_to(bot, "POST", "/product/create")) == 2
    answer = await toast(bot, OWNER, bot.tg.buttons(failed)[0][1], failed)
    assert "устарело" in answer
    assert len(requests_to(bot, "POST", "/product/create")) == 2


async def test_documents_that_are_not_images_and_big_photos_are_refused(bot: Harness):
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    await press(bot, FLORIST, "Добавить на витрину", "Пришлите фото букета", message=listing)
    await bot.tg.send_document(
        FLORIST, b"%PDF-1.4 a price list", file_name="bouquet.jpg", mime_type="image/jpeg"
    )
    refused = await bot.tg.wait_for_message(FLORIST, text_contains="Это не фото")
    assert "Пришлите фото букета ещё раз" in refused["text"]
    await bot.tg.send_document(
        FLORIST, b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024 + 1), file_name="big.jpg", mime_type="image/jpeg"
    )
    await bot.tg.wait_for_message(FLORIST, text_contains="больше 10 МБ")
    assert not bot.tg.calls("getFile")[1:], "the big one was not even downloaded"
    await say(bot, FLORIST, "вот", "Жду фото букета")
    assert requests_to(bot, "POST", "/uploads/images/") == []
    # an image sent as a file is fine: what counts is what is inside
    await bot.tg.send_document(FLORIST, TINY_PNG, file_name="букет.png", mime_type="image/png")
    await bot.tg.wait_for_message(FLORIST, text_contains="Как назвать букет")
    assert len(requests_to(bot, "POST", "/uploads/images/")) == 1


async def test_back_goes_one_step_up_and_an_older_back_is_stale(bot: Harness):
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    await press(bot, FLORIST, "Добавить на витрину", "Пришлите фото букета", message=listing)
    await bot.tg.send_photo(FLORIST, TINY_PNG)
    title_ask = await bot.tg.wait_for_message(FLORIST, text_contains="Как назвать букет")
    price_ask = await say(bot, FLORIST, "Букет «Лето»", "Цена букета")
    size_ask = await say(bot, FLORIST, "20000", "Размер букета")
    assert {"Пропустить", "↩️ Назад", "✖️ Отмена"} <= set(labels(bot, size_ask))
    # «Назад» under the size question: the price is asked again, and a new price is kept
    await press(bot, FLORIST, "Назад", "Цена букета", message=size_ask)
    # «Назад» under an older question (the title's) is not this step's: nothing changes
    [(_, older)] = [b for b in bot.tg.buttons(title_ask) if "Назад" in b[0]]
    assert "устарела" in await toast(bot, FLORIST, older, title_ask)
    assert "↩️ Назад" in labels(bot, price_ask)
    await say(bot, FLORIST, "21 000", "Размер букета")
    preview = await press(bot, FLORIST, "Пропустить", "Проверьте букет")
    assert f"21{NBSP}000{NBSP}₸" in preview["caption"] and "Букет «Лето»" in preview["caption"]
    # from the preview back to the size, and on to a preview with the size
    await press(bot, FLORIST, "Назад", "Размер букета", message=preview)
    preview = await say(bot, FLORIST, "30×50", "Проверьте букет")
    assert "30×50 см" in preview["caption"]
    await press(bot, FLORIST, "Выставить", "на витрине", message=preview)
    [created] = [p for p in sandbox_of(bot).state.products.values() if p.title == "Букет «Лето»"]
    assert created.price == 21000 and (created.width, created.height) == ("30", "50")


async def test_the_start_button_opens_the_showcase_as_the_command_does(bot: Harness):
    message = await say(bot, FLORIST, "/help", "Что я умею")
    await bot.tg.press_callback_data(FLORIST, MenuCb(open="vitrina").pack(), message=message)
    listing = await bot.tg.wait_for_message(FLORIST, text_contains="готовые букеты: 5")
    assert "➕ Добавить на витрину" in labels(bot, listing)
    assert "недоступна" in await toast(bot, COURIER, MenuCb(open="vitrina").pack(), message)


# --- changing a bouquet --------------------------------------------------------------------------


async def test_price_change_validates_what_was_typed(bot: Harness):
    card = await open_roses(bot, FLORIST)
    await press(bot, FLORIST, "Изменить цену", "Новая цена", message=card)
    await say(bot, FLORIST, "-5", "больше нуля")
    await say(bot, FLORIST, "abc", "Не понял")
    assert sandbox_of(bot).state.products[ROSES].price == 24990
    await say(bot, FLORIST, "25 000 ₸", "✅ Цена")
    assert sandbox_of(bot).state.products[ROSES].price == 25000
    assert [json.loads(r.body) for r in requests_to(bot, "POST", "/product/price")] == [
        {"id": ROSES, "price": 25000}
    ]
    refreshed = bot.tg.messages(FLORIST)
    [card_now] = [m for m in refreshed if m["message_id"] == card["message_id"]]
    assert f"25{NBSP}000{NBSP}₸" in card_now["caption"] and card_now["edited"]


async def test_taken_down_as_sold(bot: Harness):
    card = await open_roses(bot, FLORIST)
    ask = await press(bot, FLORIST, "Продан", "как проданный?", message=card)
    assert labels(bot, ask) == ["✅ Да, продан", "✖️ Нет"]
    assert not sandbox_of(bot).state.products[ROSES].deleted
    done = await press(bot, FLORIST, "Да, продан", "Снят с витрины", message=ask)
    assert done["message_id"] == card["message_id"]
    assert sandbox_of(bot).state.products[ROSES].deleted
    assert len(requests_to(bot, "DELETE", "/products/delete")) == 1
    assert not [label for label in labels(bot, done) if "Продан" in label or "цену" in label]
    listing = await say(bot, FLORIST, "/vitrina", "Витрина")
    assert "25 красных роз" not in listing["text"]


async def test_an_action_the_server_refuses_with_405_is_explained_once_and_hidden(bot: Harness):
    card = await open_roses(bot, OWNER)
    await press(bot, OWNER, "Размер", "Размер «25 красных роз", message=card)
    await say(bot, OWNER, "большой", "Не понял размер")
    told = await say(bot, OWNER, "45×65", "не поддерживает изменение размера")
    assert "до перезапуска" in told["text"]
    assert len(requests_to(bot, "POST", "/product/properties")) == 1
    [card_now] = [m for m in bot.tg.messages(OWNER) if m["message_id"] == card["message_id"]]
    assert "📏 Размер" not in labels(bot, card_now)
    # the old button (on another message) is answered without asking the server again
    answer = await toast(bot, OWNER, ShowcaseCb(action="z", id=ROSES).pack(), card_now)
    assert "не поддерживает изменение размера" in answer
    assert len(requests_to(bot, "POST", "/product/properties")) == 1

    # /product/price answering 405 (the spec leaves it unverified)
    sandbox_of(bot).faults.add("POST", API + "/product/price", status=405)
    card = await open_roses(bot, FLORIST)
    assert "📏 Размер" not in labels(bot, card)  # for everyone, until the bot restarts
    await press(bot, FLORIST, "Изменить цену", "Новая цена", message=card)
    await say(bot, FLORIST, "30000", "не поддерживает изменение цены")
    assert sandbox_of(bot).state.products[ROSES].price == 24990
    card = await open_roses(bot, FLORIST)
    assert "💰 Изменить цену" not in labels(bot, card)
    assert "✅ Продан / снять с витрины" in labels(bot, card)
    assert len(requests_to(bot, "POST", "/product/price")) == 1


# --- who may do what -----------------------------------------------------------------------------


async def test_couriers_are_refused_and_forged_buttons_change_nothing(bot: Harness):
    await say(bot, COURIER, "/vitrina", "Витрина вам недоступна")
    message = await say(bot, COURIER, "/help", "Что я умею")
    for action in ("p", "o", "S"):
        answer = await toast(bot, COURIER, ShowcaseCb(action=action, id=ROSES).pack(), message)
        assert "недоступна" in answer
    listing = await say(bot, ASSISTANT, "/vitrina", "Витрина")
    for action in ("S", "c", "a"):
        answer = await toast(bot, ASSISTANT, ShowcaseCb(action=action, id=ROSES).pack(), listing)
        assert "владелец, старший флорист и флорист" in answer
    assert not sandbox_of(bot).state.products[ROSES].deleted
    assert requests_to(bot, "DELETE", "/products/delete") == []
    assert requests_to(bot, "POST", "/product/price") == []


# --- the rules underneath ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "price"),
    [
        ("25000", 25000),
        ("25 000", 25000),
        ("25 000 ₸", 25000),
        ("25\u00a0000\u00a0₸", 25000),
        ("25000тг", 25000),
        ("25.000", 25000),
        (" 7 500 тенге ", 7500),
    ],
)
def test_prices_as_florists_type_them(typed: str, price: int):
    assert parse_bouquet_price(typed) == price


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("-5", Problem.NOT_POSITIVE),
        ("0", Problem.NOT_POSITIVE),
        ("abc", Problem.NOT_A_NUMBER),
        ("25.5", Problem.FRACTION),
        ("100 $", Problem.NOT_TENGE),
        ("", Problem.EMPTY),
        ("99999999999", Problem.TOO_BIG),
    ],
)
def test_prices_that_are_refused(typed: str, problem: Problem):
    with pytest.raises(ShowcaseInputError) as refused:
        parse_bouquet_price(typed)
    assert refused.value.problem is problem


def test_sizes():
    assert parse_size("40×60") == parse_size("40x60 см") == parse_size("40 на 60") == (40, 60)
    assert parse_size("40 х 60") == (40, 60)  # a Cyrillic х
    for bad in ("40", "большой", "0×60", "40×1000"):
        with pytest.raises(ShowcaseInputError):
            parse_size(bad)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    return request.getfixturevalue("pg_url")


async def test_an_album_reaching_two_replicas_is_gathered_once_in_order(database_url):
    """Two collectors on one database, as two replicas have: the parts of an album arriving at
    both, side by side, are one album for exactly one of them; a late part starts nothing."""
    from services.storage.db import create_engine, make_sessionmaker, migrate
    from services.storage.repositories import KeyValueStore

    engine = create_engine(database_url)
    await migrate(engine)
    try:
        kv = KeyValueStore(make_sessionmaker(engine))
        one, two = (
            AlbumCollector(kv, wait=0.3, look_every=0.02),
            AlbumCollector(kv, wait=0.3, look_every=0.02),
        )
        results = await asyncio.gather(
            one.collect(7, "a", 12, {"n": 12}),
            two.collect(7, "a", 11, {"n": 11}),
            one.collect(7, "a", 13, {"n": 13}),
            two.collect(7, "b", 20, {"n": 20}),  # another album is not mixed in
        )
        gathered = [r for r in results[:3] if r is not None]
        assert gathered == [[{"n": 11}, {"n": 12}, {"n": 13}]], results
        assert results[3] == [{"n": 20}]
        assert await two.collect(7, "a", 14, {"n": 14}) is None  # after it was gathered
        assert await kv.with_prefix("album:7:a:part:") == {"album:7:a:part:000000000014": {"n": 14}}
    finally:
        await engine.dispose()
