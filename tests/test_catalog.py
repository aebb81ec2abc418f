"""The catalogue and customer lookup at the counter: matchers, and end to end over the fake
Telegram and the sandbox APIs."""

from __future__ import annotations

from datetime import datetime

from sandbox import data
from sandbox.state import Customer as SandboxCustomer
from sandbox.state import Product as SandboxProduct
from services.catalog import (
    QueryKind,
    customer_stats,
    find_customers,
    parse_customer_query,
    product_score,
    rank_products,
    server_terms,
    too_short,
)
from services.models import Customer, Order, Product
from services.parsing import SHOP_TZ
from tests.conftest import ASSISTANT, COURIER, FLORIST, OWNER, Harness

PRODUCTS = "/cvety/api/v2/products"
CUSTOMERS = "/cvety/api/v2/customers/"
CUSTOMER_ORDERS = "/cvety/api/v2/customers/orders.php"
WITH_STATS = "/cvety/api/v2/customers/with-stats/"


def calls(bot: Harness, path: str) -> int:
    assert bot.sandbox is not None
    return bot.sandbox.faults.calls("GET", path)


# --- matchers ------------------------------------------------------------------------------------


def test_product_matcher_takes_word_forms_word_order_yo_and_typos():
    assert product_score("розы", "25 красных роз 60 см")
    assert product_score("красные розы", "25 красных роз 60 см")
    assert product_score("желтые тюльпаны", "Тюльпаны жёлтые, 15 шт")
    assert product_score("гортензя", "Композиция «Гортензия и розы»")  # a typo
    assert not product_score("пионы", "25 красных роз 60 см")
    assert not product_score("розы 101", "25 красных роз 60 см")  # every word must meet the title
    # an exact word ranks above another form of it
    assert product_score("розы", "Композиция «Гортензия и розы»") > product_score("розы", "25 красных роз")


def test_rank_puts_exact_matches_and_what_can_be_sold_first():
    products = [
        Product(id=1, title="Букет из роз", type="vitrina"),  # another form of the word: last
        Product(id=6, title="Розовые мечты", type="vitrina"),  # pink, not roses
        Product(id=2, title="Розы белые", type="catalog"),
        Product(id=3, title="Розы красные", type="vitrina", is_available=False),
        Product(id=4, title="Розы алые", type="vitrina"),
        Product(id=5, title="Пионы", type="vitrina"),
    ]
    assert [p.id for p in rank_products("розы", products)] == [4, 2, 3, 1]


def test_server_terms_add_the_stem_of_the_longest_word():
    assert server_terms("красные розы") == ["красные розы", "красн"]
    assert server_terms("розы") == ["розы", "роз"]
    assert server_terms("101") == ["101"]


def test_too_short_counts_letters_and_digits():
    assert too_short("р") and too_short(" р. ") and too_short("")
    assert not too_short("ро") and not too_short("25")


CUSTOMER_LIST = [
    Customer(id=1, name="Айгерим Нурланова", phone="+77015552341"),
    Customer(id=2, name="Камила Есенова", phone="+77780001212"),
    Customer(id=3, name="Алёна Ёлкина", phone="+77051234567"),
    Customer(id=4, name="Emily Johnson", phone="+1 415 555 0134"),
]


def ids(query: str) -> list[int]:
    return [c.id for c in find_customers(parse_customer_query(query), CUSTOMER_LIST)]


def test_customer_by_phone_in_any_spelling():
    for spelling in ("8 701 555 23 41", "+7 (701) 555-23-41", "7015552341", "87015552341", "+77015552341"):
        query = parse_customer_query(spelling)
        assert query.kind is QueryKind.PHONE and query.phone == "+77015552341", spelling
        assert ids(spelling) == [1], spelling
    assert ids("52341") == [1]  # the last digits
    assert ids("23 41") == []  # too few digits to tell people apart
    assert parse_customer_query("2341").kind is QueryKind.FEW_DIGITS
    assert ids("701 555") == [1]  # the start of the number, no trunk prefix
    assert ids("8 701 555") == [1]  # the start with 8 for +7
    assert ids("5550134") == [4]  # a foreign number, kept as typed by the server
    assert ids("8 702 000 00 00") == []


def test_customer_by_part_of_name_case_and_yo():
    assert ids("айгерим") == [1]
    assert ids("НУРЛАН") == [1]
    assert ids("алена елкина") == [3]
    assert ids("Ёлкин") == [3]
    assert set(ids("нова")) == {1, 2}
    assert parse_customer_query("а").kind is QueryKind.TOO_SHORT
    assert ids("Зарина") == []


def test_customer_stats_fall_back_to_the_orders():
    orders = [
        Order(id=1, number="1", status="F", amount=10000, created_at=datetime(2025, 1, 5, tzinfo=SHOP_TZ)),
        Order(id=2, number="2", status="UN", amount=5000, created_at=datetime(2025, 2, 5, tzinfo=SHOP_TZ)),
        Order(id=3, number="3", status="N", amount=7000, created_at=datetime(2025, 1, 9, tzinfo=SHOP_TZ)),
    ]
    stats = customer_stats(Customer(id=1, name="x"), orders)
    assert stats.orders == 3 and stats.total == 17000
    assert stats.last_order_at == datetime(2025, 2, 5, tzinfo=SHOP_TZ)
    server = Customer(id=1, orders_count=9, total=99000)
    assert customer_stats(server, orders).orders == 9 and customer_stats(server, orders).total == 99000
    assert customer_stats(Customer(id=1), []).total is None


# --- /catalog ------------------------------------------------------------------------------------


async def test_catalog_search_finds_both_types_with_the_shops_prices(bot: Harness):
    await bot.tg.send_message(FLORIST, "/catalog розы")
    page = await bot.tg.wait_for_message(FLORIST, text_contains="Каталог")
    text = page["text"]
    assert "25 красных роз 60 см" in text and "101 красная роза 40 см" in text
    assert "Гортензия и розы" in text and "пионовидными розами" in text
    assert "витрина" in text and "под заказ" in text
    assert "24 990 ₸" in text and "79 990 ₸" in text  # as the server prints them
    assert "Пионы розовые" not in text
    # the exact word first
    assert text.index("Гортензия и розы") < text.index("25 красных роз")


async def test_fuzzy_query_and_product_card_with_composition(bot: Harness):
    assert bot.sandbox is not None
    bot.sandbox.state.products[data.PRODUCT_ROSES].discount = 10
    await bot.tg.send_message(ASSISTANT, "/catalog красные розы")
    page = await bot.tg.wait_for_message(ASSISTANT, text_contains="Каталог")
    assert "25 красных роз 60 см" in page["text"]
    await bot.tg.press_button(ASSISTANT, text_contains="25 красных роз", message=page)
    card = await bot.tg.wait_for_message(ASSISTANT, text_contains="Состав")
    assert card["message_id"] != page["message_id"]
    text = card["text"]
    assert "25 красных роз 60 см" in text and "витрина" in text and "в наличии" in text
    assert "Цена: 24 990 ₸" in text and "скидка 10%" in text
    assert "Размер: 40 × 60 см" in text and "Изготовление: быстро" in text
    assert "Роза красная 60 см — 25 шт" in text
    links = [e["url"] for e in card.get("entities", []) if e["type"] == "text_link"]
    assert any("/upload/iblock/8a1/25-krasnyh-roz" in url for url in links)


async def test_typo_and_yo_are_found_by_reading_the_whole_catalogue(bot: Harness):
    await bot.tg.send_message(OWNER, "/catalog гортензя")
    page = await bot.tg.wait_for_message(OWNER, text_contains="Каталог")
    assert "Гортензия и розы" in page["text"] and "под заказ" in page["text"]
    await bot.tg.send_message(OWNER, "/catalog желтые тюльпаны")
    page = await bot.tg.wait_for_message(OWNER, text_contains="Каталог")
    assert "Тюльпаны жёлтые, 15 шт" in page["text"] and "9 500 ₸" in page["text"]
    await bot.tg.press_button(OWNER, text_contains="Тюльпаны", message=page)
    card = await bot.tg.wait_for_message(OWNER, text_contains="Состав")
    assert "Тюльпан жёлтый — 15 шт" in card["text"]


async def test_catalog_made_to_order_card(bot: Harness):
    await bot.tg.send_message(FLORIST, "/catalog 101 роза")
    page = await bot.tg.wait_for_message(FLORIST, text_contains="Каталог")
    await bot.tg.press_button(FLORIST, text_contains="101 красная роза", message=page)
    card = await bot.tg.wait_for_message(FLORIST, text_contains="Состав")
    text = card["text"]
    assert "под заказ" in text and "можно заказать" in text
    assert "Размер: 70 × 50 см" in text and "заказывать заранее" in text
    assert "Роза красная 40 см — 101 шт" in text


async def test_one_letter_is_refused_then_a_good_query_is_searched(bot: Harness):
    await bot.tg.send_message(FLORIST, "/catalog")
    await bot.tg.wait_for_message(FLORIST, text_contains="Что ищем?")
    await bot.tg.send_message(FLORIST, "п")
    await bot.tg.wait_for_message(FLORIST, text_contains="Слишком коротко")
    await bot.tg.send_message(FLORIST, "пионы")
    page = await bot.tg.wait_for_message(FLORIST, text_contains="Каталог")
    assert "Пионы розовые, 9 шт" in page["text"] and "27 000 ₸" in page["text"]
    # the step is over: a number is an order again
    await bot.tg.send_message(FLORIST, str(data.ORDER_N))
    await bot.tg.wait_for_message(FLORIST, text_contains=f"№{data.ORDER_N}")

    await bot.tg.send_message(FLORIST, "/catalog р")
    await bot.tg.wait_for_message(FLORIST, text_contains="Слишком коротко")
    await bot.tg.send_message(FLORIST, "эустома")
    page = await bot.tg.wait_for_message(FLORIST, text_contains="Каталог")
    assert "Монобукет из эустомы" in page["text"] and "7 500 ₸" in page["text"]


async def test_catalog_pages_of_eight_edited_in_place(bot: Harness):
    assert bot.sandbox is not None
    for n in range(11):
        pid = 697000 + n
        bot.sandbox.state.products[pid] = SandboxProduct(
            id=pid,
            title=f"Букет «Весна» №{n + 1}",
            price=10000 + n * 500,
            type="vitrina" if n % 2 else "catalog",
            images=[],
            created_at="2025-09-26T14:59:39+0500",
        )
    await bot.tg.send_message(OWNER, "/catalog весна")
    first = await bot.tg.wait_for_message(OWNER, text_contains="стр. 1 из 2")
    rows = [line for line in first["text"].splitlines() if "Весна" in line]
    assert len(rows) == 8
    await bot.tg.press_button(OWNER, text_contains="▶", message=first)
    second = await bot.tg.wait_for_message(OWNER, text_contains="стр. 2 из 2")
    assert second["message_id"] == first["message_id"] and second["edited"]
    assert len([line for line in second["text"].splitlines() if "Весна" in line]) == 3
    await bot.tg.press_button(OWNER, text_contains="◀", message=second)
    await bot.tg.wait_for_message(OWNER, text_contains="стр. 1 из 2")


async def test_nothing_found_and_html_from_the_api_is_escaped(bot: Harness):
    assert bot.sandbox is not None
    bot.sandbox.state.products[697100] = SandboxProduct(
        id=697100,
        title="Розы <b>& любовь</b>",
        price=15000,
        type="vitrina",
        images=[],
        created_at="2025-09-26T14:59:39+0500",
    )
    await bot.tg.send_message(OWNER, "/catalog любовь")
    page = await bot.tg.wait_for_message(OWNER, text_contains="Каталог")
    assert "Розы <b>& любовь</b>" in page["text"]
    await bot.tg.send_message(OWNER, "/catalog кактусы")
    empty = await bot.tg.wait_for_message(OWNER, text_contains="Ничего не нашёл")
    assert not bot.tg.buttons(empty)


# --- /customer -----------------------------------------------------------------------------------


async def test_customer_by_phone_in_another_spelling_and_an_order_opened(bot: Harness):
    # seeded as «+7 701 555 23 41»
    await bot.tg.send_message(OWNER, "/customer 8 701 555 2341")
    card = await bot.tg.wait_for_message(OWNER, text_contains="Айгерим Нурланова")
    text = card["text"]
    assert "+77015552341" in text
    assert "Заказов: 3" in text and "на сумму" in text and "последний:" in text
    for order_id in (122567, 122576, 122587):
        assert f"№{order_id}" in text
    buttons = bot.tg.buttons(card)
    assert ("№122587 · 🆕 Новый", "o:o:122587:::") in buttons
    assert calls(bot, CUSTOMERS) == 1 and calls(bot, WITH_STATS) == 0

    await bot.tg.press_button(OWNER, text_contains="№122567", message=card)
    order = await bot.tg.wait_for_message(OWNER, text_contains="Состав")
    assert "№122567" in order["text"] and order["message_id"] != card["message_id"]


async def test_customer_by_last_digits_and_by_part_of_a_name(bot: Harness):
    await bot.tg.send_message(FLORIST, "/customer 52341")
    await bot.tg.wait_for_message(FLORIST, text_contains="Айгерим Нурланова")
    await bot.tg.send_message(FLORIST, "/customer жумаБАЕВ")
    card = await bot.tg.wait_for_message(FLORIST, text_contains="Мадина Жумабаева")
    assert "№122578" in card["text"]


async def test_several_matches_to_choose_from(bot: Harness):
    assert bot.sandbox is not None
    bot.sandbox.state.customers[171800] = SandboxCustomer(171800, "Алёна Есенова", "+7 705 123 45 67")
    await bot.tg.send_message(OWNER, "/customer есенова")
    listing = await bot.tg.wait_for_message(OWNER, text_contains="Клиенты")
    assert "Камила Есенова" in listing["text"] and "Алёна Есенова" in listing["text"]
    assert "+77051234567" in listing["text"]
    await bot.tg.press_button(OWNER, text_contains="Камила Есенова", message=listing)
    card = await bot.tg.wait_for_message(OWNER, text_contains="👤")
    assert "Камила Есенова" in card["text"] and card["message_id"] != listing["message_id"]
    assert "Заказов: 0" in card["text"]

    # ё = е, several words of the name
    await bot.tg.send_message(OWNER, "/customer алена есенова")
    card = await bot.tg.wait_for_message(OWNER, text_contains="👤")
    assert "Алёна Есенова" in card["text"]


async def test_customer_orders_for_a_florist_open_ones_are_buttons(bot: Harness):
    await bot.tg.send_message(FLORIST, "/customer Тимур")
    card = await bot.tg.wait_for_message(FLORIST, text_contains="Тимур Оспанов")
    assert "№122585" in card["text"]  # cancelled: listed
    labels = [label for label, _ in bot.tg.buttons(card)]
    assert any("№122579" in label for label in labels)
    assert not any("№122585" in label for label in labels)  # …but only the owner can open it
    assert "владелец" in card["text"]


async def test_customer_not_found_and_one_letter_refused(bot: Harness):
    await bot.tg.send_message(OWNER, "/customer Зарина")
    await bot.tg.wait_for_message(OWNER, text_contains="не найден")
    await bot.tg.send_message(OWNER, "/customer а")
    await bot.tg.wait_for_message(OWNER, text_contains="Одной буквы мало")
    await bot.tg.send_message(OWNER, "/customer 2341")
    await bot.tg.wait_for_message(OWNER, text_contains="Мало цифр")
    await bot.tg.send_message(OWNER, "/customer")
    await bot.tg.wait_for_message(OWNER, text_contains="Напишите телефон или имя")
    assert calls(bot, CUSTOMERS) == 1


async def test_customers_api_failure_is_a_friendly_message(bot: Harness):
    assert bot.sandbox is not None
    bot.sandbox.faults.add("GET", CUSTOMERS, status=500)
    await bot.tg.send_message(OWNER, "/customer Айгерим")
    message = await bot.tg.wait_for_message(OWNER, text_contains="Не удалось загрузить клиентов")
    assert "недоступен" in message["text"]


async def test_customer_orders_page_edited_in_place(bot: Harness):
    assert bot.sandbox is not None
    for _ in range(9):
        order = bot.sandbox.state.new_order()
        order.customer_id = 171690
    await bot.tg.send_message(OWNER, "/customer Айгерим")
    first = await bot.tg.wait_for_message(OWNER, text_contains="стр. 1 из 2")
    await bot.tg.press_button(OWNER, text_contains="▶", message=first)
    second = await bot.tg.wait_for_message(OWNER, text_contains="стр. 2 из 2")
    assert second["message_id"] == first["message_id"]
    assert "№122567" in second["text"]  # the oldest last


async def test_courier_is_refused_both_commands_and_their_buttons(bot: Harness):
    await bot.tg.send_message(COURIER, "/catalog розы")
    await bot.tg.wait_for_message(COURIER, text_contains="Каталог вам недоступен")
    await bot.tg.send_message(COURIER, "/customer 8 701 555 2341")
    refusal = await bot.tg.wait_for_message(COURIER, text_contains="Поиск клиентов вам недоступен")
    assert calls(bot, CUSTOMERS) == 0 and calls(bot, PRODUCTS) == 0
    for forged in ("ct:o:696885:0", "cu:o:171690:0", "cu:p:171690:1", "ct:p:0:1"):
        query = await bot.tg.press_callback_data(COURIER, forged, message=refusal)
        await bot.tg.wait_for("answerCallbackQuery")
        assert "недоступен" in bot.tg.callback_answers[query]["text"]
    assert calls(bot, CUSTOMERS) == 0 and calls(bot, PRODUCTS) == 0
