"""/vitrina as it looks: the list under an album of its photos, one card at a time, a bouquet's
card, the questions of the «add a bouquet» form and its preview, and what an outcome means."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from services.models import Product
from services.showcase import (
    PAGE_SIZE,
    SIZE_MAX_CM,
    TITLE_MAX,
    VITRINA,
    Action,
    OneBouquet,
    Outcome,
    Problem,
    Result,
    ShowcaseInputError,
    ShowcasePage,
    days_on_showcase,
    on_showcase,
)
from views.callbacks import ShowcaseCb
from views.i18n import N_
from views.orders import format_money
from views.render import TELEGRAM_TEXT_LIMIT, button, cut, esc, esc_attr, keyboard, pager

CAPTION_LIMIT = 1024
ALBUM_MAX = 10  # media in one Telegram album
ALBUM_REACH = 50  # a list's album is among the messages just above it: a forged button reaches no further
PRODUCTION_TIMES = {"short": N_("быстрая"), "medium": N_("средняя"), "long": N_("долгая")}
EDITORS_ONLY = N_("Менять витрину могут владелец, старший флорист и флорист.")


@dataclass(frozen=True)
class Looks:
    """What a screen shows besides the bouquets: the shop's day, the changes this person may make
    that the server supports, and Telegram's copies of photos (`known(url)`: a file id, "" when
    Telegram could not fetch that URL, None when never sent)."""

    today: date
    tz: ZoneInfo
    actions: frozenset[Action]
    known: Callable[[str], str | None]

    def photo(self, url: str | None) -> str | None:
        """What to send as the photo: Telegram's copy, the URL, or None (a text card with a link)."""
        known = self.known(url) if url else None
        return None if url is None or known == "" else known or url

    def age(self, product: Product) -> str | None:
        days = days_on_showcase(product, self.today, self.tz)
        if days is None:
            return None
        if days == 0:
            return _("на витрине с сегодняшнего дня")
        return ngettext("на витрине {days} день", "на витрине {days} дня", days).format(days=days)


@dataclass(frozen=True)
class Screen:
    """One message: a photo with a caption, or text when there is no photo."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    photo: str | None = None  # a Telegram file id or an image URL
    photo_url: str | None = None  # the image's URL, for the text fallback and the file-id cache
    product_id: int | None = None  # the bouquet a photo of the album above a list shows

    def as_text(self) -> str:
        return self.text if self.photo_url is None else self.text + "\n" + link(self.photo_url, _("📷 Фото"))

    def media(self) -> InputMediaPhoto:
        assert self.photo is not None, "a text screen has no photo"
        return InputMediaPhoto(media=self.photo, caption=self.text)


@dataclass(frozen=True)
class Album:
    """The photos shown above a list: their messages, and the bouquets they show."""

    message_ids: tuple[int, ...] = ()
    product_ids: frozenset[int | None] = frozenset()

    @classmethod
    def of(cls, message_ids: list[int], photos: list[Screen]) -> Album:
        return cls(tuple(message_ids), frozenset(photo.product_id for photo in photos))

    def pack(self) -> str:
        """The message ids for the list's buttons: the first one, then the steps between them."""
        ids = self.message_ids
        return ".".join([str(ids[0]), *(str(b - a) for a, b in itertools.pairwise(ids))]) if ids else ""


def unpack_album(packed: str, list_message_id: int) -> list[int]:
    """The album's message ids from a list's button (see Album.pack): only messages just above
    that list, so a forged button cannot reach any other."""
    ids: list[int] = []
    for part in packed.split(".")[:ALBUM_MAX] if packed else []:
        if not (part.isascii() and part.isdigit()):  # "²".isdigit(), but int("²") fails
            return []
        ids.append(int(part) + (ids[-1] if ids else 0))
    return [i for i in ids if list_message_id - ALBUM_REACH < i < list_message_id]


def refused_photos(description: str, photos: list[Screen]) -> list[Screen]:
    """The photos Telegram refused: the one an album's error names («failed to send message #2
    with the error message …»), otherwise all of them."""
    named = re.search(r"message #(\d+)", description)
    if named and len(photos) > 1 and 1 <= int(named[1]) <= len(photos):
        return [photos[int(named[1]) - 1]]
    return list(photos)


def link(url: str, label: str) -> str:
    return f'<a href="{esc_attr(url)}">{label}</a>'


def vt(action: str, label: str, **fields: Any) -> InlineKeyboardButton:
    return button(label, ShowcaseCb(action=action, **fields))


def price_text(product: Product) -> str:
    if product.price is None:
        return esc(product.price_text or "—")
    return format_money(product.price, product.currency)


def size_text(width: object, height: object) -> str | None:
    w, h = str(width or "").strip(), str(height or "").strip()
    if w and h:
        return _("{width}×{height} см").format(width=esc(w), height=esc(h))
    if w:
        return _("ширина {width} см").format(width=esc(w))
    return _("высота {height} см").format(height=esc(h)) if h else None


def main_image(product: Product) -> str | None:
    return product.image_url or next(iter(product.images), None)


def numbered(page: ShowcasePage) -> list[tuple[int, Product]]:
    return list(enumerate(page.items, page.page * PAGE_SIZE + 1))


def headline(number: int, product: Product) -> str:
    return f"{number}. <b>{esc(cut(product.title, 80))}</b> — {price_text(product)}"


def album_photos(page: ShowcasePage, looks: Looks) -> list[Screen]:
    """The page's bouquets with a photo Telegram can show, captioned «N. title — price»."""
    shown = [(n, p, main_image(p)) for n, p in numbered(page)]
    photos = [Screen(headline(n, p), None, looks.photo(url), url, p.id) for n, p, url in shown if url]
    return [photo for photo in photos if photo.photo][:ALBUM_MAX]


def add_row(looks: Looks) -> list[InlineKeyboardButton]:
    return [vt("a", _("➕ Добавить на витрину"))] if Action.CREATE in looks.actions else []


def list_screen(page: ShowcasePage, looks: Looks, album: Album | None = None) -> Screen:
    """A page of the list; the bouquets not in the `album` above it link their photo."""
    album = album or Album()
    if not page.items:
        return Screen(_("🌷 <b>Витрина</b>\n\nГотовых букетов на витрине нет."), keyboard(add_row(looks)))
    lines = [_("🌷 <b>Витрина</b> — готовые букеты") + (f": {page.total}" if page.total is not None else "")]
    if page.pages and page.pages > 1:
        lines.append(_("стр. {page} из {pages}").format(page=page.page + 1, pages=page.pages))
    rows = []
    for number, product in numbered(page):
        image = main_image(product)
        photo = link(image, _("фото")) if image and product.id not in album.product_ids else None
        details = [d for d in (size_text(product.width, product.height), looks.age(product), photo) if d]
        lines += ["", headline(number, product)] + (["    " + " · ".join(details)] if details else [])
        rows.append([vt("o", f"{number}. {cut(product.title, 40)}", id=product.id)])
    packed, pages = album.pack(), page.pages or page.page + 1 + page.has_more
    more = pager(page.page, pages, lambda n: ShowcaseCb(action="p", page=n, arg=packed))
    flip = vt("f", _("🖼 По одному"), page=page.page * PAGE_SIZE, arg=packed)
    again = [flip, vt("p", _("🔄 Обновить"), page=page.page, arg=packed)]
    return Screen("\n".join(lines), keyboard(*rows, more, again, add_row(looks)))


def one_screen(one: OneBouquet, looks: Looks) -> Screen:
    product = one.product
    if product is None:
        return list_screen(ShowcasePage([], 0, 0, False), looks)
    size, age = size_text(product.width, product.height), looks.age(product)
    position = str(one.index + 1) if one.total is None else f"{one.index + 1} / {one.total}"
    lines = [f"🌷 <b>{esc(cut(product.title, 200))}</b>", "💰 " + price_text(product)]
    lines += (["📏 " + size] if size else []) + (["🗓 " + age] if age else []) + ["", position]
    more = one.has_more or (one.total is not None and one.index + 1 < one.total)
    nav = [
        *([vt("f", "◀", page=one.index - 1)] if one.index > 0 else []),
        vt("o", _("Подробнее"), id=product.id),
        *([vt("f", "▶", page=one.index + 1)] if more else []),
    ]
    rows = keyboard(nav, [vt("p", _("☰ Списком"), page=one.index // PAGE_SIZE)], add_row(looks))
    image = main_image(product)
    return Screen("\n".join(lines), rows, photo=looks.photo(image), photo_url=image)


def _fit(head: list[str], recipe: list[str], extras: list[str], tail: list[str], limit: int) -> str:
    """Join the lines so that they fit: drop recipe lines from the end («…и ещё 3»), then the
    extras (photo links), then the head's details. Whole lines only, so the HTML stays whole;
    the length counted is the HTML's, never less than what Telegram counts."""
    for kept in range(len(recipe), -1, -1):
        more = [_("…и ещё {count}").format(count=len(recipe) - kept)] if kept < len(recipe) else []
        text = "\n".join([*head, *recipe[:kept], *more, *extras, *tail])
        if len(text) <= limit:
            return text
    for shorter in ([*head, *tail], [head[0], *tail]):
        if len(text := "\n".join(shorter)) <= limit:
            return text
    return "💐"


def card_head(product: Product, looks: Looks) -> list[str]:
    discount = " · " + _("скидка {discount}%").format(discount=product.discount) if product.discount else ""
    time = product.production_time
    label = PRODUCTION_TIMES.get(time.lower()) if time else None
    age = looks.age(product) if product.is_available is not False else None
    return [
        f"💐 <b>{esc(cut(product.title, 200))}</b>",
        "💰 " + price_text(product) + discount,
        "📏 " + _("Размер: {size}").format(size=size_text(product.width, product.height) or "—"),
        *(["⏱ " + _("Сборка: {time}").format(time=_(label) if label else esc(time))] if time else []),
        *(["🗓 " + age] if age else []),
        *(["🌸 " + _("Состав:")] if product.composition else []),
    ]


def card_screen(product: Product, looks: Looks, *, confirm_sold: bool = False) -> Screen:
    recipe = [
        f"• {esc(cut(item.name or item.id or '?', 60))}" + (f" × {item.amount}" if item.amount else "")
        for item in product.composition or []
    ]
    links = ", ".join(link(url, str(n)) for n, url in enumerate(product.images, 1))
    extras = ["📷 " + _("Фото: {links}").format(links=links)] if len(product.images) > 1 else []
    tail = ["⛔ " + _("Снят с витрины")] if product.is_available is False else []
    if product.type and product.type != VITRINA:
        tail.append(_("Это товар каталога, не витрины."))
    if confirm_sold:
        question = _("<b>Снять «{title}» с витрины как проданный?</b>")
        tail += ["", question.format(title=esc(cut(product.title, 80)))]
    image = main_image(product)
    limit = CAPTION_LIMIT if image else TELEGRAM_TEXT_LIMIT
    text = _fit(card_head(product, looks), recipe, extras, tail, limit)
    return Screen(text, card_keyboard(product, looks, confirm_sold), looks.photo(image), image)


def card_keyboard(product: Product, looks: Looks, confirm_sold: bool) -> InlineKeyboardMarkup:
    one = product.id
    if confirm_sold:
        return keyboard([vt("S", _("✅ Да, продан"), id=one), vt("r", _("✖️ Нет"), id=one)])
    may = looks.actions if on_showcase(product) else frozenset()
    sold = [vt("s", _("✅ Продан / снять с витрины"), id=one)] if Action.SOLD in may else []
    edits = [vt("c", _("💰 Изменить цену"), id=one)] if Action.PRICE in may else []
    edits += [vt("z", _("📏 Размер"), id=one)] if Action.SIZE in may else []
    return keyboard(sold, edits, [vt("r", _("🔄 Обновить"), id=one), vt("p", _("🌷 Витрина"), page=0)])


# --- the «add a bouquet» form, and a card's price and size -----------------------------------------

# A step's question and what it waits for, by the step's name (a card's price and size alike).
QUESTIONS = {
    "photos": N_(
        "📸 <b>Новый букет на витрину.</b>\nПришлите фото букета — одно или несколько одним альбомом."
    ),
    "title": N_("Как назвать букет? Напишите название."),
    "price": N_("Цена букета в тенге? Например: 25 000"),
    "size": N_("Размер букета в сантиметрах (ширина × высота)? Например: 40×60. Можно пропустить."),
}
WAITING = {
    "photos": N_("Жду фото букета — одно или несколько одним альбомом."),
    "title": N_("Жду название букета текстом."),
    "price": N_("Жду цену числом, например 25 000."),
    "size": N_("Жду размер, например 40×60."),
}
OPTIONAL = {"size"}


def hint_text(step: str) -> str:
    if step not in WAITING:
        return _("Нажмите кнопку под карточкой букета выше или /cancel, чтобы выйти.")
    return _(WAITING[step]) + " " + _("/cancel — выйти.")


def cancel_row() -> list[InlineKeyboardButton]:
    return [vt("x", _("✖️ Отмена"))]


def cancel_markup() -> InlineKeyboardMarkup:
    return keyboard(cancel_row())


def form_keyboard(step: str, *above: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """«Пропустить» (an optional step), «Назад» (but on the first), «Отмена» under the question of
    `step`: the same everywhere. «Назад» and «Пропустить» name their step: an older one's are stale."""
    return keyboard(
        *above,
        [vt("n", _("Пропустить"), arg=step)] if step in OPTIONAL else None,
        [vt("b", _("↩️ Назад"), arg=step)] if step != "photos" else None,
        cancel_row(),
    )


def question(step: str, recent: list[str]) -> Screen:
    """A step's question; the title's with the `recent` titles to tap."""
    rows = [[vt("t", cut(title, 60), arg=str(n))] for n, title in enumerate(recent) if step == "title"]
    text = _(QUESTIONS[step]) + ("\n" + _("Или выберите из недавних:") if rows else "")
    return Screen(text, form_keyboard(step, *rows))


def title_problem(error: ShowcaseInputError) -> str:
    return _("Название не может быть пустым.") if error.problem is Problem.EMPTY else problem_text(error)


def draft_screen(data: dict[str, Any], looks: Looks) -> Screen:
    images = [str(url) for url in data.get("images") or []]
    lines = [
        _("👀 <b>Проверьте букет:</b>"),
        "",
        f"🌷 <b>{esc(data.get('title'))}</b>",
        "💰 " + format_money(int(data["price"])),
        "📏 " + _("Размер: {size}").format(size=size_text(*data.get("size") or (None, None)) or "—"),
        "📷 " + _("Фото: {count}").format(count=len(images)),
    ]
    save = [vt("k", _("✅ Выставить на витрину"), arg=str(data.get("draft")))]
    url = images[0] if images else None
    photo = data.get("photo") or looks.photo(url)
    return Screen("\n".join(lines), form_keyboard("confirm", save), photo=photo, photo_url=url)


def uploaded_text(count: int, title: str | None) -> str:
    if title is None:
        return _("📷 Фото загружены: {count}.").format(count=count)
    return _("📷 Фото загружены: {count}. Название: {title}").format(count=count, title=esc(title))


def photo_problem(problem: ShowcaseInputError | None, number: int, count: int) -> str:
    """Why a photo of the album is not taken (None: Telegram did not give the file)."""
    if problem is None:
        return _("Не удалось получить фото от Telegram. Пришлите ещё раз.")
    text = problem_text(problem)
    if count > 1:
        text = _("Фото {number} из {count}: {problem}").format(number=number, count=count, problem=text)
    return text + "\n" + _("Пришлите фото букета ещё раз.")


def created_screen(result: Result, data: dict[str, Any], failure: str) -> Screen:
    """The form's end: the bouquet on the showcase, or why not (`failure`) and «Повторить»."""
    title = esc(cut(str(data.get("title", "")), 80))
    if result.outcome is Outcome.UNSUPPORTED:
        return Screen(unsupported_text(Action.CREATE) + "\n" + _("Букет не создан."))
    if result.outcome in (Outcome.DONE, Outcome.ALREADY):
        card = [vt("o", _("Открыть карточку"), id=result.product_id)] if result.product_id else None
        more = [vt("p", _("🌷 Витрина"), page=0), vt("a", _("➕ Ещё букет"))]
        text = _("✅ Букет «{title}» на витрине — {price}.")
        return Screen(text.format(title=title, price=format_money(int(data["price"]))), keyboard(card, more))
    if result.outcome is Outcome.UNKNOWN:
        failure = _("Сервер не ответил вовремя, и букета на витрине пока не видно.")
    kept = _("Фото загружены и сохранены — нажмите «Повторить», и букет создастся без повторной загрузки.")
    failed = _("❌ Букет «{title}» не выставлен.").format(title=title)
    text = "\n".join([failed, failure or _("Сервер отказал."), kept])
    return Screen(text, keyboard([vt("k", _("🔁 Повторить"), arg=str(data.get("draft")))], cancel_row()))


def edit_question(product: Product, action: Action) -> str:
    title = esc(cut(product.title, 80))
    if action is Action.PRICE:
        text = _("💰 Новая цена для «{title}»? Сейчас: {price}.").format(
            title=title, price=price_text(product)
        )
        return text + "\n" + _(QUESTIONS["price"])
    current = size_text(product.width, product.height) or "—"
    text = _("📏 Размер «{title}», сейчас: {size}.").format(title=title, size=current)
    return text + "\n" + _("Напишите ширину × высоту в сантиметрах, например 40×60.")


PROBLEMS = {
    Problem.EMPTY: N_("Пусто. Напишите, пожалуйста, текстом."),
    Problem.NOT_POSITIVE: N_("Цена должна быть больше нуля."),
    Problem.FRACTION: N_("Цена — целое число тенге, без тиын."),
    Problem.NOT_TENGE: N_("Цена — в тенге."),
    Problem.TOO_BIG: N_("Слишком большая цена."),
    Problem.IMAGE_TOO_BIG: N_("Фото больше 10 МБ. Пришлите снимок поменьше."),
    Problem.NOT_IMAGE: N_("Это не фото. Пришлите изображение JPEG, PNG или WebP."),
    Problem.NOT_A_NUMBER: N_("Не понял. Напишите цену числом, например 25 000."),
}


def problem_text(problem: ShowcaseInputError) -> str:
    if problem.problem is Problem.TOO_LONG:
        return _("Слишком длинно: можно до {limit} символов.").format(limit=problem.limit or TITLE_MAX)
    if problem.problem is Problem.BAD_SIZE:
        text = _("Не понял размер. Напишите ширину и высоту в сантиметрах, до {limit} см.")
        return text.format(limit=SIZE_MAX_CM)
    return _(PROBLEMS.get(problem.problem, PROBLEMS[Problem.NOT_A_NUMBER]))


UNSUPPORTED = {
    Action.PRICE: N_("Сервер пока не поддерживает изменение цены."),
    Action.SOLD: N_("Сервер пока не поддерживает снятие букета с витрины."),
    Action.SIZE: N_("Сервер пока не поддерживает изменение размера."),
    Action.CREATE: N_("Сервер пока не поддерживает добавление букетов на витрину."),
}


def unsupported_text(action: Action) -> str:
    return _(UNSUPPORTED[action]) + " " + _("Кнопка скрыта до перезапуска бота.")


OUTCOMES = {
    Outcome.NOT_FOUND: N_("Этого букета уже нет на витрине."),
    Outcome.NOT_SHOWCASE: N_("Это не букет с витрины — здесь его не изменить."),
    Outcome.UNKNOWN: N_(
        "Сервер не ответил вовремя, и неизвестно, сохранилось ли изменение. Нажмите «Обновить» через минуту."
    ),
}


def outcome_text(
    result: Result, action: Action, failure: str, typed: dict[str, Any] | None = None
) -> str | None:
    """The line that tells what happened, when the refreshed card does not say it all
    (`failure`: the error explained; `typed`: a card's edit, with the title and what was typed)."""
    outcome = result.outcome
    if outcome is Outcome.DONE and typed:
        if action is Action.PRICE:
            title = esc(cut(str(typed.get("title", "")), 80))
            return _("✅ Цена «{title}» теперь {price}.").format(
                title=title, price=format_money(typed["price"])
            )
        return _("✅ Размер сохранён: {size}.").format(size=size_text(*typed["size"]))
    if outcome is Outcome.UNSUPPORTED:
        return unsupported_text(action)
    if outcome is Outcome.ALREADY:
        return (
            _("Букет уже снят с витрины.") if action is Action.SOLD else _("Уже так — ничего не изменилось.")
        )
    if outcome is Outcome.FAILED:
        return failure or _("Сервер отказал в запросе.")
    return _(OUTCOMES[outcome]) if outcome in OUTCOMES else None
