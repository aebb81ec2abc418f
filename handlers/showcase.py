"""/vitrina: the showcase of ready bouquets — a page's photos as an album with the list under it,
or one card at a time with its photo; a bouquet's card with «Продан», «Изменить цену», «Размер»;
and adding a new bouquet from photos (an album is one bouquet). Actions the server refuses with
405 disappear until the bot restarts."""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from handlers.errors import explain
from services.cvety_api import MAX_IMAGE_BYTES
from services.errors import ApiError, ApiNotFound
from services.models import Product
from services.roles import Permission, Role, can
from services.showcase import (
    PAGE_SIZE,
    SIZE_MAX_CM,
    TITLE_MAX,
    VITRINA,
    Action,
    BouquetDraft,
    OneBouquet,
    Outcome,
    Problem,
    Result,
    ShowcaseInputError,
    ShowcasePage,
    ShowcaseService,
    check_image,
    clean_title,
    days_on_showcase,
    new_draft_ids,
    parse_bouquet_price,
    parse_size,
)
from views.callbacks import ShowcaseCb
from views.i18n import N_
from views.orders import format_money
from views.render import cut, edit_or_send, esc, esc_attr

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096
ALBUM_MAX = 10  # media in one Telegram album
ALBUM_REACH = 50  # a list's album is among the messages just above it: a forged button reaches no further
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

PRODUCTION_TIMES = {
    "short": N_("быстрая"),
    "medium": N_("средняя"),
    "long": N_("долгая"),
}


class AddBouquet(StatesGroup):
    photos = State()
    title = State()  # data: draft, sku, images, photo, suggested
    price = State()  # + title
    size = State()  # + price
    confirm = State()  # + width, height
    failed = State()  # the create failed after the upload: everything kept for «Повторить»


class EditBouquet(StatesGroup):
    price = State()  # data: product_id, card_chat, card_message, card_photo
    size = State()


ADD_STATES = (
    AddBouquet.photos,
    AddBouquet.title,
    AddBouquet.price,
    AddBouquet.size,
    AddBouquet.confirm,
    AddBouquet.failed,
)
ALL_STATES = {s.state for s in (*ADD_STATES, EditBouquet.price, EditBouquet.size)}


def may_view(role: Role) -> bool:
    return can(role, Permission.CATALOG_VIEW)


def may_edit(role: Role) -> bool:
    return can(role, Permission.SHOWCASE_EDIT)


# --- how bouquets look ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Screen:
    """One message: a photo with a caption, or text when there is no photo."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    photo: str | None = None  # a Telegram file id or an image URL
    photo_url: str | None = None  # the image's URL, for the text fallback and the file-id cache

    def as_text(self) -> str:
        if self.photo_url is None:
            return self.text
        return (
            self.text
            + "\n"
            + '<a href="{url}">{label}</a>'.format(url=esc_attr(self.photo_url), label=_("📷 Фото"))
        )


def button(text: str, data: ShowcaseCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def price_text(product: Product) -> str:
    if product.price is None:
        return esc(product.price_text or "—")
    return format_money(product.price, product.currency)


def size_text(width: object, height: object) -> str | None:
    w = str(width or "").strip()
    h = str(height or "").strip()
    if w and h:
        return _("{width}×{height} см").format(width=esc(w), height=esc(h))
    if w:
        return _("ширина {width} см").format(width=esc(w))
    if h:
        return _("высота {height} см").format(height=esc(h))
    return None


def age_text(days: int | None) -> str | None:
    if days is None:
        return None
    if days == 0:
        return _("на витрине с сегодняшнего дня")
    return ngettext("на витрине {days} день", "на витрине {days} дня", days).format(days=days)


def main_image(product: Product) -> str | None:
    return product.image_url or next(iter(product.images), None)


def photo_for(url: str | None, showcase: ShowcaseService) -> str | None:
    """What to send as the photo: Telegram's copy, the URL, or None (a text card with a link)."""
    if url is None:
        return None
    known = showcase.photo_id(url)
    if known == "":
        return None  # Telegram could not fetch it before
    return known or url


@dataclass(frozen=True)
class AlbumPhoto:
    """One bouquet's photo in the album above a list."""

    product_id: int
    url: str  # the image's URL: the key of the file-id cache
    photo: str  # what is sent: Telegram's file id or the URL
    caption: str

    def media(self) -> InputMediaPhoto:
        return InputMediaPhoto(media=self.photo, caption=self.caption)


@dataclass(frozen=True)
class Album:
    """The photos shown above a list: their messages, and the bouquets they show."""

    message_ids: tuple[int, ...] = ()
    product_ids: frozenset[int] = frozenset()

    def pack(self) -> str:
        """The message ids for the list's buttons: the first one, then the steps between them."""
        ids = self.message_ids
        if not ids:
            return ""
        return ".".join([str(ids[0]), *(str(b - a) for a, b in itertools.pairwise(ids))])


def unpack_album(packed: str, list_message_id: int) -> list[int]:
    """The album's message ids from a list's button (see Album.pack): only messages just above
    that list, so a forged button cannot reach any other."""
    ids: list[int] = []
    for part in packed.split(".")[:ALBUM_MAX] if packed else []:
        if not (part.isascii() and part.isdigit()):  # "²".isdigit(), but int("²") fails
            return []
        ids.append(int(part) + (ids[-1] if ids else 0))
    return [i for i in ids if list_message_id - ALBUM_REACH < i < list_message_id]


def numbered(page: ShowcasePage) -> list[tuple[int, Product]]:
    return list(enumerate(page.items, page.page * PAGE_SIZE + 1))


def album_photos(page: ShowcasePage, showcase: ShowcaseService) -> list[AlbumPhoto]:
    """The page's bouquets that have a photo Telegram can show, each captioned with its number
    in the list, its title and price."""
    photos = []
    for number, product in numbered(page):
        url = main_image(product)
        photo = photo_for(url, showcase)
        if url and photo:
            caption = f"{number}. <b>{esc(cut(product.title, 80))}</b> — {price_text(product)}"
            photos.append(AlbumPhoto(product.id, url, photo, caption))
    return photos[:ALBUM_MAX]


def refused_photos(description: str, photos: list[AlbumPhoto]) -> list[AlbumPhoto]:
    """The photos Telegram refused: the one an album's error names («failed to send message #2
    with the error message …»), otherwise all of them."""
    named = re.search(r"message #(\d+)", description)
    if named and len(photos) > 1 and 1 <= int(named[1]) <= len(photos):
        return [photos[int(named[1]) - 1]]
    return list(photos)


def list_screen(
    page: ShowcasePage, showcase: ShowcaseService, role: Role, album: Album | None = None
) -> Screen:
    """The list of a page. The bouquets in `album` are in the photos above it; the others link
    their photo."""
    album = album or Album()
    today = showcase.today()
    packed = album.pack()
    rows: list[list[InlineKeyboardButton]] = []
    if not page.items:
        text = _("🌷 <b>Витрина</b>\n\nГотовых букетов на витрине нет.")
    else:
        title = _("🌷 <b>Витрина</b> — готовые букеты")
        if page.total is not None:
            title += f": {page.total}"
        lines = [title]
        if page.pages and page.pages > 1:
            lines.append(_("стр. {page} из {pages}").format(page=page.page + 1, pages=page.pages))
        for number, product in numbered(page):
            lines.append("")
            lines.append(f"{number}. <b>{esc(cut(product.title, 80))}</b> — {price_text(product)}")
            details = [
                d
                for d in (
                    size_text(product.width, product.height),
                    age_text(days_on_showcase(product, today, showcase.tz)),
                )
                if d
            ]
            image = main_image(product)
            if image and product.id not in album.product_ids:
                details.append('<a href="{url}">{label}</a>'.format(url=esc_attr(image), label=_("фото")))
            if details:
                lines.append("    " + " · ".join(details))
            rows.append(
                [button(f"{number}. {cut(product.title, 40)}", ShowcaseCb(action="o", id=product.id))]
            )
        text = "\n".join(lines)
        nav = []
        if page.page > 0:
            nav.append(button("◀", ShowcaseCb(action="p", page=page.page - 1, arg=packed)))
        if page.has_more or (page.pages is not None and page.page + 1 < page.pages):
            nav.append(button("▶", ShowcaseCb(action="p", page=page.page + 1, arg=packed)))
        if nav:
            rows.append(nav)
        rows.append(
            [
                button(_("🖼 По одному"), ShowcaseCb(action="f", page=page.page * PAGE_SIZE, arg=packed)),
                button(_("🔄 Обновить"), ShowcaseCb(action="p", page=page.page, arg=packed)),
            ]
        )
    if may_edit(role) and showcase.supports(Action.CREATE):
        rows.append([button(_("➕ Добавить на витрину"), ShowcaseCb(action="a"))])
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=rows))


def one_screen(one: OneBouquet, showcase: ShowcaseService, role: Role) -> Screen:
    product = one.product
    if product is None:
        return list_screen(ShowcasePage([], 0, 0, False), showcase, role)
    lines = [
        f"🌷 <b>{esc(cut(product.title, 200))}</b>",
        "💰 " + price_text(product),
    ]
    size = size_text(product.width, product.height)
    if size:
        lines.append("📏 " + size)
    age = age_text(days_on_showcase(product, showcase.today(), showcase.tz))
    if age:
        lines.append("🗓 " + age)
    position = str(one.index + 1) if one.total is None else f"{one.index + 1} / {one.total}"
    lines += ["", position]
    nav = []
    if one.index > 0:
        nav.append(button("◀", ShowcaseCb(action="f", page=one.index - 1)))
    nav.append(button(_("Подробнее"), ShowcaseCb(action="o", id=product.id)))
    if one.has_more or (one.total is not None and one.index + 1 < one.total):
        nav.append(button("▶", ShowcaseCb(action="f", page=one.index + 1)))
    rows = [nav, [button(_("☰ Списком"), ShowcaseCb(action="p", page=one.index // PAGE_SIZE))]]
    if may_edit(role) and showcase.supports(Action.CREATE):
        rows.append([button(_("➕ Добавить на витрину"), ShowcaseCb(action="a"))])
    image = main_image(product)
    return Screen(
        "\n".join(lines),
        InlineKeyboardMarkup(inline_keyboard=rows),
        photo=photo_for(image, showcase),
        photo_url=image,
    )


def _fit(head: list[str], recipe: list[str], extras: list[str], tail: list[str], limit: int) -> str:
    """Join the lines so that they fit: drop recipe lines from the end («…и ещё 3»), then the
    extras (photo links), then the head's details. Whole lines only, so the HTML stays whole;
    the length counted is the HTML's, never less than what Telegram counts."""
    recipe = list(recipe)
    dropped = 0
    while True:
        shown = recipe + ([_("…и ещё {count}").format(count=dropped)] if dropped else [])
        text = "\n".join([*head, *shown, *extras, *tail])
        if len(text) <= limit or not recipe:
            break
        recipe.pop()
        dropped += 1
    if len(text) > limit:
        text = "\n".join([*head, *tail])
    if len(text) > limit:
        text = "\n".join([head[0], *tail])
    return text if len(text) <= limit else "💐"


def card_screen(
    product: Product,
    role: Role,
    showcase: ShowcaseService,
    *,
    confirm_sold: bool = False,
) -> Screen:
    available = product.is_available is not False
    head = [f"💐 <b>{esc(cut(product.title, 200))}</b>"]
    price = "💰 " + price_text(product)
    if product.discount:
        price += " · " + _("скидка {discount}%").format(discount=product.discount)
    head.append(price)
    size = size_text(product.width, product.height)
    head.append("📏 " + _("Размер: {size}").format(size=size or "—"))
    if product.production_time:
        label = PRODUCTION_TIMES.get(product.production_time.lower())
        value = _(label) if label else esc(product.production_time)
        head.append("⏱ " + _("Сборка: {time}").format(time=value))
    age = age_text(days_on_showcase(product, showcase.today(), showcase.tz))
    if age and available:
        head.append("🗓 " + age)
    recipe: list[str] = []
    if product.composition:
        head.append("🌸 " + _("Состав:"))
        for item in product.composition:
            amount = f" × {item.amount}" if item.amount else ""
            recipe.append(f"• {esc(cut(item.name or item.id or '?', 60))}{amount}")
    extras: list[str] = []
    if len(product.images) > 1:
        links = ", ".join(f'<a href="{esc_attr(url)}">{n}</a>' for n, url in enumerate(product.images, 1))
        extras.append("📷 " + _("Фото: {links}").format(links=links))
    tail: list[str] = []
    if not available:
        tail.append("⛔ " + _("Снят с витрины"))
    if product.type and product.type != VITRINA:
        tail.append(_("Это товар каталога, не витрины."))
    if confirm_sold:
        tail += [
            "",
            _("<b>Снять «{title}» с витрины как проданный?</b>").format(title=esc(cut(product.title, 80))),
        ]
    image = main_image(product)
    text = _fit(head, recipe, extras, tail, CAPTION_LIMIT if image else TEXT_LIMIT)

    rows: list[list[InlineKeyboardButton]] = []
    if confirm_sold:
        rows.append(
            [
                button(_("✅ Да, продан"), ShowcaseCb(action="S", id=product.id)),
                button(_("✖️ Нет"), ShowcaseCb(action="r", id=product.id)),
            ]
        )
    else:
        editable = may_edit(role) and available and (product.type or VITRINA) == VITRINA
        if editable and showcase.supports(Action.SOLD):
            rows.append([button(_("✅ Продан / снять с витрины"), ShowcaseCb(action="s", id=product.id))])
        edits = []
        if editable and showcase.supports(Action.PRICE):
            edits.append(button(_("💰 Изменить цену"), ShowcaseCb(action="c", id=product.id)))
        if editable and showcase.supports(Action.SIZE):
            edits.append(button(_("📏 Размер"), ShowcaseCb(action="z", id=product.id)))
        if edits:
            rows.append(edits)
        rows.append(
            [
                button(_("🔄 Обновить"), ShowcaseCb(action="r", id=product.id)),
                button(_("🌷 Витрина"), ShowcaseCb(action="p", page=0)),
            ]
        )
    return Screen(
        text,
        InlineKeyboardMarkup(inline_keyboard=rows),
        photo=photo_for(image, showcase),
        photo_url=image,
    )


def draft_screen(data: dict[str, Any], showcase: ShowcaseService) -> Screen:
    images = [str(url) for url in data.get("images") or []]
    lines = [
        _("👀 <b>Проверьте букет:</b>"),
        "",
        f"🌷 <b>{esc(data.get('title'))}</b>",
        "💰 " + format_money(int(data["price"])),
        "📏 " + _("Размер: {size}").format(size=size_text(data.get("width"), data.get("height")) or "—"),
        "📷 " + _("Фото: {count}").format(count=len(images)),
    ]
    rows = [
        [button(_("✅ Выставить на витрину"), ShowcaseCb(action="k", arg=str(data.get("draft"))))],
        [button(_("✖️ Отмена"), ShowcaseCb(action="x"))],
    ]
    url = images[0] if images else None
    photo = data.get("photo") or photo_for(url, showcase)
    return Screen("\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows), photo=photo, photo_url=url)


def cancel_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(_("✖️ Отмена"), ShowcaseCb(action="x"))]])


def problem_text(problem: ShowcaseInputError) -> str:
    p = problem.problem
    if p is Problem.EMPTY:
        return _("Пусто. Напишите, пожалуйста, текстом.")
    if p is Problem.TOO_LONG:
        return _("Слишком длинно: можно до {limit} символов.").format(limit=problem.limit or TITLE_MAX)
    if p is Problem.NOT_POSITIVE:
        return _("Цена должна быть больше нуля.")
    if p is Problem.FRACTION:
        return _("Цена — целое число тенге, без тиын.")
    if p is Problem.NOT_TENGE:
        return _("Цена — в тенге.")
    if p is Problem.TOO_BIG:
        return _("Слишком большая цена.")
    if p is Problem.BAD_SIZE:
        return _("Не понял размер. Напишите ширину и высоту в сантиметрах, до {limit} см.").format(
            limit=SIZE_MAX_CM
        )
    if p is Problem.IMAGE_TOO_BIG:
        return _("Фото больше 10 МБ. Пришлите снимок поменьше.")
    if p is Problem.NOT_IMAGE:
        return _("Это не фото. Пришлите изображение JPEG, PNG или WebP.")
    return _("Не понял. Напишите цену числом, например 25 000.")


def unsupported_text(action: Action) -> str:
    if action is Action.PRICE:
        what = _("Сервер пока не поддерживает изменение цены.")
    elif action is Action.SOLD:
        what = _("Сервер пока не поддерживает снятие букета с витрины.")
    elif action is Action.SIZE:
        what = _("Сервер пока не поддерживает изменение размера.")
    else:
        what = _("Сервер пока не поддерживает добавление букетов на витрину.")
    return what + " " + _("Кнопка скрыта до перезапуска бота.")


def ask_title_text() -> str:
    return _("Как назвать букет? Напишите название.")


def ask_price_text() -> str:
    return _("Цена букета в тенге? Например: 25 000")


def ask_size_text() -> str:
    return _("Размер букета в сантиметрах (ширина × высота)? Например: 40×60. Можно пропустить.")


# --- sending and replacing screens ---------------------------------------------------------------


async def send_screen(bot: Bot, chat_id: int, screen: Screen, showcase: ShowcaseService) -> None:
    if screen.photo is None:
        await bot.send_message(chat_id, screen.as_text(), reply_markup=screen.markup)
        return
    try:
        sent = await bot.send_photo(chat_id, screen.photo, caption=screen.text, reply_markup=screen.markup)
    except TelegramBadRequest as exc:  # e.g. Telegram could not fetch the image URL
        log.info("showcase photo not sent (%s): a text card instead", exc.message)
        if screen.photo_url:  # shown as a link from now on, not tried again
            showcase.unreachable(screen.photo_url)
        await bot.send_message(chat_id, screen.as_text(), reply_markup=screen.markup)
        return
    _remember(sent, screen.photo, screen.photo_url, showcase)


async def send_list(
    bot: Bot, chat_id: int, page: ShowcasePage, showcase: ShowcaseService, role: Role
) -> None:
    """The page's photos as an album, then the list with its buttons under it."""
    album = await send_album(bot, chat_id, album_photos(page, showcase), showcase)
    await send_screen(bot, chat_id, list_screen(page, showcase, role, album), showcase)


async def show_list(
    bot: Bot, message: Message, album: list[int], page: ShowcasePage, showcase: ShowcaseService, role: Role
) -> None:
    """The page in place of `message` (a list whose album is `album`, or a card): the album's
    photos are changed when the page's photos fit in it, and the list is edited; otherwise both
    go, and a new album and list come."""
    photos = album_photos(page, showcase)
    if not message.photo and len(photos) <= len(album):
        shown = await edit_album(bot, message.chat.id, album, photos, showcase)
        await replace_at(bot, message, list_screen(page, showcase, role, shown), showcase)
        return
    await delete_messages(bot, message.chat.id, [*album, message.message_id])
    await send_list(bot, message.chat.id, page, showcase, role)


async def send_album(bot: Bot, chat_id: int, photos: list[AlbumPhoto], showcase: ShowcaseService) -> Album:
    """The photos as one album (a single one as a photo). Those Telegram refuses (it could not
    fetch the URL) are left out and shown as links from now on."""
    while photos:
        try:
            if len(photos) == 1:
                sent = [await bot.send_photo(chat_id, photos[0].photo, caption=photos[0].caption)]
            else:
                sent = await bot.send_media_group(chat_id, [photo.media() for photo in photos])
        except TelegramBadRequest as exc:
            refused = refused_photos(exc.message, photos)
            log.info("showcase: %d of %d photos refused (%s)", len(refused), len(photos), exc.message)
            for photo in refused:
                showcase.unreachable(photo.url)
            photos = [photo for photo in photos if photo not in refused]
            continue
        for photo, message in zip(photos, sent, strict=False):
            _remember(message, photo.photo, photo.url, showcase)
        return Album(tuple(m.message_id for m in sent), frozenset(p.product_id for p in photos))
    return Album()


async def edit_album(
    bot: Bot, chat_id: int, album: list[int], photos: list[AlbumPhoto], showcase: ShowcaseService
) -> Album:
    """The photos in the album's messages, one each; the messages left over, and those whose
    new photo Telegram refuses, are deleted."""
    kept: list[int] = []
    shown: set[int] = set()
    gone = album[len(photos) :]
    for message_id, photo in zip(album, photos, strict=False):
        try:
            edited = await bot.edit_message_media(media=photo.media(), chat_id=chat_id, message_id=message_id)
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:
                log.info("showcase album photo %s not changed (%s)", message_id, exc.message)
                if "not found" not in exc.message:  # the photo was refused, not the message gone
                    showcase.unreachable(photo.url)
                    gone.append(message_id)
                continue
        else:
            if isinstance(edited, Message):
                _remember(edited, photo.photo, photo.url, showcase)
        kept.append(message_id)
        shown.add(photo.product_id)
    await delete_messages(bot, chat_id, gone)
    return Album(tuple(kept), frozenset(shown))


async def delete_messages(bot: Bot, chat_id: int, message_ids: list[int]) -> None:
    if not message_ids:
        return
    try:
        await bot.delete_messages(chat_id, message_ids)  # the ones already gone are skipped
    except TelegramAPIError as exc:
        log.info("could not delete messages %s: %s", message_ids, exc.message)


async def replace_screen(
    bot: Bot,
    chat_id: int,
    message_id: int,
    is_photo: bool,
    screen: Screen,
    showcase: ShowcaseService,
) -> None:
    """Show `screen` in place of the message: edit the media or the text when the kind matches,
    otherwise the old message goes and a new one comes."""
    if screen.photo is not None and is_photo:
        try:
            edited = await bot.edit_message_media(
                media=InputMediaPhoto(media=screen.photo, caption=screen.text),
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=screen.markup,
            )
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return
            log.info("showcase card not edited (%s): sending a new one", exc.message)
        else:
            if isinstance(edited, Message):
                _remember(edited, screen.photo, screen.photo_url, showcase)
            return
    elif screen.photo is None and not is_photo:
        await edit_or_send(
            bot, chat_id=chat_id, message_id=message_id, text=screen.as_text(), reply_markup=screen.markup
        )
        return
    try:
        await bot.delete_message(chat_id, message_id)
    except TelegramAPIError as exc:  # too old to delete: leave it
        log.info("could not delete message %s: %s", message_id, exc.message)
    await send_screen(bot, chat_id, screen, showcase)


async def replace_at(bot: Bot, message: Message, screen: Screen, showcase: ShowcaseService) -> None:
    await replace_screen(bot, message.chat.id, message.message_id, bool(message.photo), screen, showcase)


def _remember(sent: Message, photo: str | None, url: str | None, showcase: ShowcaseService) -> None:
    """Telegram's copy of a photo sent by URL: sent by its file id from now on."""
    if url and photo == url and sent.photo:
        showcase.remember_photo(url, sent.photo[-1].file_id)


async def drop_buttons(bot: Bot, message: Message) -> None:
    if message.reply_markup is None:
        return
    try:
        await bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=message.message_id)
    except TelegramBadRequest as exc:
        log.info("could not drop buttons of %s: %s", message.message_id, exc.message)


# --- the router ----------------------------------------------------------------------------------


def get_router() -> Router:
    router = Router(name="showcase")

    # --- viewing -------------------------------------------------------------------------------

    @router.message(Command("vitrina"))
    async def vitrina(
        message: Message, role: Role, showcase: ShowcaseService, state: FSMContext, bot: Bot
    ) -> None:
        if not may_view(role):
            await message.answer(_("Витрина вам недоступна."))
            return
        if await state.get_state() in ALL_STATES:
            await state.clear()  # a half-done showcase step is left, not continued by surprise
        page = await showcase.page(0)
        await send_list(bot, message.chat.id, page, showcase, role)

    @router.callback_query(ShowcaseCb.filter(F.action == "p"))
    async def list_page(
        query: CallbackQuery, callback_data: ShowcaseCb, role: Role, showcase: ShowcaseService, bot: Bot
    ) -> None:
        if not may_view(role):
            await query.answer(_("Витрина вам недоступна."), show_alert=True)
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        album = unpack_album(callback_data.arg, query.message.message_id)
        page = await showcase.page(callback_data.page)
        await show_list(bot, query.message, album, page, showcase, role)

    @router.callback_query(ShowcaseCb.filter(F.action == "f"))
    async def flip(
        query: CallbackQuery, callback_data: ShowcaseCb, role: Role, showcase: ShowcaseService, bot: Bot
    ) -> None:
        if not may_view(role):
            await query.answer(_("Витрина вам недоступна."), show_alert=True)
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        one = await showcase.one(callback_data.page)
        album = unpack_album(callback_data.arg, query.message.message_id)
        await delete_messages(bot, query.message.chat.id, album)  # from a list: the card shows the photos
        await replace_at(bot, query.message, one_screen(one, showcase, role), showcase)

    @router.callback_query(ShowcaseCb.filter(F.action.in_({"o", "r"})))
    async def open_card(
        query: CallbackQuery, callback_data: ShowcaseCb, role: Role, showcase: ShowcaseService, bot: Bot
    ) -> None:
        if not may_view(role):
            await query.answer(_("Витрина вам недоступна."), show_alert=True)
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        chat_id = query.message.chat.id
        try:
            product = await showcase.bouquet(callback_data.id)
        except ApiNotFound:
            await bot.send_message(chat_id, _("Такого букета больше нет."))
            return
        screen = card_screen(product, role, showcase)
        if callback_data.action == "o":  # from a list: the card is a message of its own
            await send_screen(bot, chat_id, screen, showcase)
        else:
            await replace_at(bot, query.message, screen, showcase)

    # --- sold ----------------------------------------------------------------------------------

    async def refuse_edit(
        query: CallbackQuery, role: Role, showcase: ShowcaseService, action: Action
    ) -> bool:
        """True (after answering) when this person or the server cannot do `action`."""
        if not may_view(role):
            await query.answer(_("Витрина вам недоступна."), show_alert=True)
            return True
        if not may_edit(role):
            await query.answer(
                _("Менять витрину могут владелец, старший флорист и флорист."), show_alert=True
            )
            return True
        if not showcase.supports(action):
            await query.answer(unsupported_text(action), show_alert=True)
            return True
        if not isinstance(query.message, Message):
            await query.answer(_("Это сообщение устарело. Откройте витрину заново: /vitrina"))
            return True
        return False

    @router.callback_query(ShowcaseCb.filter(F.action == "s"))
    async def sold_ask(
        query: CallbackQuery, callback_data: ShowcaseCb, role: Role, showcase: ShowcaseService, bot: Bot
    ) -> None:
        if await refuse_edit(query, role, showcase, Action.SOLD):
            return
        await query.answer()
        assert isinstance(query.message, Message)
        try:
            product = await showcase.bouquet(callback_data.id)
        except ApiNotFound:
            await bot.send_message(query.message.chat.id, _("Такого букета больше нет."))
            return
        ask = product.is_available is not False and (product.type or VITRINA) == VITRINA
        await replace_at(bot, query.message, card_screen(product, role, showcase, confirm_sold=ask), showcase)

    @router.callback_query(ShowcaseCb.filter(F.action == "S"))
    async def sold(
        query: CallbackQuery, callback_data: ShowcaseCb, role: Role, showcase: ShowcaseService, bot: Bot
    ) -> None:
        if await refuse_edit(query, role, showcase, Action.SOLD):
            return
        await query.answer(_("⏳ Снимаю с витрины…"))
        assert isinstance(query.message, Message)
        message = query.message
        result = await showcase.take_down(callback_data.id)
        await after_change(
            bot, message.chat.id, message.message_id, bool(message.photo), result, Action.SOLD, role, showcase
        )

    async def after_change(
        bot: Bot,
        chat_id: int,
        message_id: int,
        is_photo: bool,
        result: Result,
        action: Action,
        role: Role,
        showcase: ShowcaseService,
    ) -> None:
        """Refresh the card from the server and say what happened when the card does not."""
        product = result.product  # after a change the service has re-read it already
        product_id = result.product_id
        if product is None and product_id is not None and result.outcome is not Outcome.NOT_FOUND:
            try:
                product = await showcase.bouquet(product_id)
            except ApiNotFound:
                product = None
            except ApiError:
                pass  # the one we have is the best we know
        if product is not None:
            await replace_screen(
                bot, chat_id, message_id, is_photo, card_screen(product, role, showcase), showcase
            )
        note = outcome_text(result, action)
        if note:
            await bot.send_message(chat_id, note)

    # --- price and size ------------------------------------------------------------------------

    @router.callback_query(ShowcaseCb.filter(F.action.in_({"c", "z"})))
    async def edit_ask(
        query: CallbackQuery,
        callback_data: ShowcaseCb,
        role: Role,
        showcase: ShowcaseService,
        state: FSMContext,
        bot: Bot,
    ) -> None:
        action = Action.PRICE if callback_data.action == "c" else Action.SIZE
        if await refuse_edit(query, role, showcase, action):
            return
        if await state.get_state() in {s.state for s in ADD_STATES[1:]}:
            # the uploaded photos of a bouquet being added live in this conversation's data
            await query.answer(
                _("Сначала закончите добавление букета или отмените его: /cancel"), show_alert=True
            )
            return
        await query.answer()
        assert isinstance(query.message, Message)
        try:
            product = await showcase.bouquet(callback_data.id)
        except ApiNotFound:
            await bot.send_message(query.message.chat.id, _("Такого букета больше нет."))
            return
        if product.is_available is False or (product.type or VITRINA) != VITRINA:
            await bot.send_message(query.message.chat.id, _("Этот букет уже не на витрине."))
            return
        await state.set_state(EditBouquet.price if action is Action.PRICE else EditBouquet.size)
        await state.set_data(
            {
                "product_id": product.id,
                "title": product.title,
                "card_chat": query.message.chat.id,
                "card_message": query.message.message_id,
                "card_photo": bool(query.message.photo),
            }
        )
        title = esc(cut(product.title, 80))
        if action is Action.PRICE:
            text = _("💰 Новая цена для «{title}»? Сейчас: {price}.").format(
                title=title, price=price_text(product)
            )
            text += "\n" + ask_price_text()
        else:
            current = size_text(product.width, product.height) or "—"
            text = _("📏 Размер «{title}», сейчас: {size}.").format(title=title, size=current)
            text += "\n" + _("Напишите ширину × высоту в сантиметрах, например 40×60.")
        await bot.send_message(query.message.chat.id, text, reply_markup=cancel_markup())

    @router.message(EditBouquet.price, F.text)
    async def price_typed(
        message: Message, role: Role, showcase: ShowcaseService, state: FSMContext, bot: Bot
    ) -> None:
        if not may_edit(role):
            await state.clear()
            await message.answer(_("Менять витрину могут владелец, старший флорист и флорист."))
            return
        if (message.text or "").startswith("/"):
            await message.answer(_("Жду цену числом, например 25 000. /cancel — выйти."))
            return
        try:
            price = parse_bouquet_price(message.text)
        except ShowcaseInputError as error:
            await message.answer(problem_text(error) + "\n" + ask_price_text(), reply_markup=cancel_markup())
            return
        data = await state.get_data()
        await state.clear()
        result = await showcase.change_price(int(data["product_id"]), price)
        await after_change(
            bot,
            int(data["card_chat"]),
            int(data["card_message"]),
            bool(data.get("card_photo")),
            result,
            Action.PRICE,
            role,
            showcase,
        )
        if result.outcome is Outcome.DONE:
            await message.answer(
                _("✅ Цена «{title}» теперь {price}.").format(
                    title=esc(cut(str(data.get("title", "")), 80)), price=format_money(price)
                )
            )

    @router.message(EditBouquet.size, F.text)
    async def size_edit_typed(
        message: Message, role: Role, showcase: ShowcaseService, state: FSMContext, bot: Bot
    ) -> None:
        if not may_edit(role):
            await state.clear()
            await message.answer(_("Менять витрину могут владелец, старший флорист и флорист."))
            return
        try:
            width, height = parse_size(message.text)
        except ShowcaseInputError as error:
            await message.answer(
                problem_text(error) + "\n" + _("Например: 40×60."), reply_markup=cancel_markup()
            )
            return
        data = await state.get_data()
        await state.clear()
        result = await showcase.change_size(int(data["product_id"]), width, height)
        await after_change(
            bot,
            int(data["card_chat"]),
            int(data["card_message"]),
            bool(data.get("card_photo")),
            result,
            Action.SIZE,
            role,
            showcase,
        )
        if result.outcome is Outcome.DONE:
            await message.answer(_("✅ Размер сохранён: {size}.").format(size=size_text(width, height)))

    # --- adding a bouquet ----------------------------------------------------------------------

    @router.callback_query(ShowcaseCb.filter(F.action == "a"))
    async def add_start(
        query: CallbackQuery, role: Role, showcase: ShowcaseService, state: FSMContext, bot: Bot
    ) -> None:
        if await refuse_edit(query, role, showcase, Action.CREATE):
            return
        await query.answer()
        assert isinstance(query.message, Message)
        await state.set_state(AddBouquet.photos)
        await state.set_data({})
        await bot.send_message(
            query.message.chat.id,
            _("📸 <b>Новый букет на витрину.</b>\nПришлите фото букета — одно или несколько одним альбомом."),
            reply_markup=cancel_markup(),
        )

    @router.message(AddBouquet.photos, F.photo | F.document)
    async def photos_received(
        message: Message, role: Role, showcase: ShowcaseService, state: FSMContext, bot: Bot
    ) -> None:
        if not may_edit(role):
            await state.clear()
            await message.answer(_("Менять витрину могут владелец, старший флорист и флорист."))
            return
        parts = [message]
        if message.media_group_id:
            # an album comes as one message per photo: the first one gathers them all
            album = await showcase.albums.collect((message.chat.id, message.media_group_id), message)
            if album is None:
                return
            parts = list(album)
        if await state.get_state() != AddBouquet.photos.state:
            return  # cancelled while the album was arriving
        parts.sort(key=lambda m: m.message_id)
        files: list[tuple[str, bytes, str]] = []
        photo_ids: list[str | None] = []
        for number, part in enumerate(parts, 1):
            got = await read_photo(part, bot)
            if got is None:
                await message.answer(
                    _("Не удалось получить фото от Telegram. Пришлите ещё раз."), reply_markup=cancel_markup()
                )
                return
            if isinstance(got, ShowcaseInputError):
                text = problem_text(got)
                if len(parts) > 1:
                    text = _("Фото {number} из {count}: {problem}").format(
                        number=number, count=len(parts), problem=text
                    )
                await message.answer(
                    text + "\n" + _("Пришлите фото букета ещё раз."), reply_markup=cancel_markup()
                )
                return
            content, content_type, photo_id = got
            files.append((f"bouquet-{number}.{EXTENSIONS[content_type]}", content, content_type))
            photo_ids.append(photo_id)
        try:
            urls = await showcase.upload(files)
        except ApiError as exc:
            await message.answer(
                esc(explain(exc)) + "\n" + _("Фото не загружены — пришлите их ещё раз."),
                reply_markup=cancel_markup(),
            )
            return
        for url, photo_id in zip(urls, photo_ids, strict=False):
            if photo_id:
                showcase.remember_photo(url, photo_id)
        draft_id, sku = new_draft_ids()
        await state.update_data(draft=draft_id, sku=sku, images=urls, photo=photo_ids[0])
        caption = next((p.caption for p in parts if p.caption), None)
        if caption:
            try:
                title = clean_title(caption)
            except ShowcaseInputError:
                pass
            else:
                await state.update_data(title=title)
                await message.answer(
                    _("📷 Фото загружены: {count}. Название: {title}").format(
                        count=len(urls), title=esc(title)
                    )
                )
                await ask_price(message.chat.id, state, bot)
                return
        await message.answer(_("📷 Фото загружены: {count}.").format(count=len(urls)))
        await ask_title(message.chat.id, state, showcase, bot)

    async def ask_title(
        chat_id: int, state: FSMContext, showcase: ShowcaseService, bot: Bot, problem: str | None = None
    ) -> None:
        await state.set_state(AddBouquet.title)
        data = await state.get_data()
        suggested = data.get("suggested")
        if suggested is None:
            suggested = await showcase.recent_titles()
            await state.update_data(suggested=suggested)
        text = ask_title_text()
        rows = [
            [button(cut(str(title), 60), ShowcaseCb(action="t", arg=str(index)))]
            for index, title in enumerate(suggested)
        ]
        if rows:
            text += "\n" + _("Или выберите из недавних:")
        rows.append([button(_("✖️ Отмена"), ShowcaseCb(action="x"))])
        if problem:
            text = problem + "\n" + text
        await bot.send_message(chat_id, text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))

    async def ask_price(chat_id: int, state: FSMContext, bot: Bot) -> None:
        await state.set_state(AddBouquet.price)
        await bot.send_message(chat_id, ask_price_text(), reply_markup=cancel_markup())

    async def ask_size(chat_id: int, state: FSMContext, bot: Bot) -> None:
        await state.set_state(AddBouquet.size)
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [button(_("Пропустить"), ShowcaseCb(action="n"))],
                [button(_("✖️ Отмена"), ShowcaseCb(action="x"))],
            ]
        )
        await bot.send_message(chat_id, ask_size_text(), reply_markup=markup)

    async def preview(chat_id: int, state: FSMContext, showcase: ShowcaseService, bot: Bot) -> None:
        await state.set_state(AddBouquet.confirm)
        await send_screen(bot, chat_id, draft_screen(await state.get_data(), showcase), showcase)

    @router.message(AddBouquet.title, F.text)
    async def title_typed(
        message: Message, role: Role, showcase: ShowcaseService, state: FSMContext, bot: Bot
    ) -> None:
        if not may_edit(role):
            await state.clear()
            await message.answer(_("Менять витрину могут владелец, старший флорист и флорист."))
            return
        if (message.text or "").startswith("/"):
            await message.answer(_("Жду название букета. /cancel — выйти."))
            return
        try:
            title = clean_title(message.text)
        except ShowcaseInputError as error:
            if error.problem is Problem.EMPTY:
                problem = _("Название не может быть пустым.")
            else:
                problem = problem_text(error)
            await ask_title(message.chat.id, state, showcase, bot, problem)
            return
        await state.update_data(title=title)
        await ask_price(message.chat.id, state, bot)

    @router.callback_query(ShowcaseCb.filter(F.action == "t"))
    async def title_chosen(
        query: CallbackQuery,
        callback_data: ShowcaseCb,
        role: Role,
        state: FSMContext,
        bot: Bot,
    ) -> None:
        data = await state.get_data()
        suggested = data.get("suggested") or []
        index = int(callback_data.arg) if callback_data.arg.isascii() and callback_data.arg.isdigit() else -1
        if (
            not may_edit(role)
            or await state.get_state() != AddBouquet.title.state
            or not 0 <= index < len(suggested)
            or not isinstance(query.message, Message)
        ):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        title = str(suggested[index])
        await state.update_data(title=title)
        await edit_or_send(
            bot, query.message, text=_("Название: {title}").format(title=esc(title)), reply_markup=None
        )
        await ask_price(query.message.chat.id, state, bot)

    @router.message(AddBouquet.price, F.text)
    async def new_price_typed(message: Message, role: Role, state: FSMContext, bot: Bot) -> None:
        if not may_edit(role):
            await state.clear()
            await message.answer(_("Менять витрину могут владелец, старший флорист и флорист."))
            return
        if (message.text or "").startswith("/"):
            await message.answer(_("Жду цену числом, например 25 000. /cancel — выйти."))
            return
        try:
            price = parse_bouquet_price(message.text)
        except ShowcaseInputError as error:
            await message.answer(problem_text(error) + "\n" + ask_price_text(), reply_markup=cancel_markup())
            return
        await state.update_data(price=price)
        await ask_size(message.chat.id, state, bot)

    @router.message(AddBouquet.size, F.text)
    async def size_typed(
        message: Message, role: Role, showcase: ShowcaseService, state: FSMContext, bot: Bot
    ) -> None:
        if not may_edit(role):
            await state.clear()
            await message.answer(_("Менять витрину могут владелец, старший флорист и флорист."))
            return
        try:
            width, height = parse_size(message.text)
        except ShowcaseInputError as error:
            await message.answer(problem_text(error) + "\n" + ask_size_text())
            return
        await state.update_data(width=width, height=height)
        await preview(message.chat.id, state, showcase, bot)

    @router.callback_query(ShowcaseCb.filter(F.action == "n"))
    async def size_skipped(
        query: CallbackQuery, role: Role, showcase: ShowcaseService, state: FSMContext, bot: Bot
    ) -> None:
        if (
            not may_edit(role)
            or await state.get_state() != AddBouquet.size.state
            or not isinstance(query.message, Message)
        ):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        await state.update_data(width=None, height=None)
        await drop_buttons(bot, query.message)
        await preview(query.message.chat.id, state, showcase, bot)

    @router.callback_query(ShowcaseCb.filter(F.action == "k"))
    async def save(
        query: CallbackQuery,
        callback_data: ShowcaseCb,
        role: Role,
        showcase: ShowcaseService,
        state: FSMContext,
        bot: Bot,
    ) -> None:
        if not may_edit(role):
            await query.answer(
                _("Менять витрину могут владелец, старший флорист и флорист."), show_alert=True
            )
            return
        current = await state.get_state()
        data = await state.get_data()
        if (
            current not in (AddBouquet.confirm.state, AddBouquet.failed.state)
            or data.get("draft") != callback_data.arg
        ):
            # a second tap after it was saved, or a forged button: say what is true
            await query.answer(_("Уже выставлено или устарело."))
            return
        if not isinstance(query.message, Message):
            await query.answer(_("Это сообщение устарело."))
            return
        await query.answer(_("⏳ Выставляю на витрину…"))
        await drop_buttons(bot, query.message)
        chat_id = query.message.chat.id
        result = await showcase.create(BouquetDraft.from_data(data))
        title = esc(cut(str(data.get("title", "")), 80))
        if result.outcome in (Outcome.DONE, Outcome.ALREADY):
            await state.clear()
            rows = []
            if result.product_id:
                rows.append([button(_("Открыть карточку"), ShowcaseCb(action="o", id=result.product_id))])
            rows.append(
                [
                    button(_("🌷 Витрина"), ShowcaseCb(action="p", page=0)),
                    button(_("➕ Ещё букет"), ShowcaseCb(action="a")),
                ]
            )
            await bot.send_message(
                chat_id,
                _("✅ Букет «{title}» на витрине — {price}.").format(
                    title=title, price=format_money(int(data["price"]))
                ),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
            )
            return
        if result.outcome is Outcome.UNSUPPORTED:
            await state.clear()
            await bot.send_message(chat_id, unsupported_text(Action.CREATE) + "\n" + _("Букет не создан."))
            return
        await state.set_state(AddBouquet.failed)
        if result.outcome is Outcome.UNKNOWN:
            why = _("Сервер не ответил вовремя, и букета на витрине пока не видно.")
        else:
            why = esc(explain(result.error)) if result.error else _("Сервер отказал.")
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [button(_("🔁 Повторить"), ShowcaseCb(action="k", arg=str(data.get("draft"))))],
                [button(_("✖️ Отмена"), ShowcaseCb(action="x"))],
            ]
        )
        await bot.send_message(
            chat_id,
            _("❌ Букет «{title}» не выставлен.").format(title=title)
            + "\n"
            + why
            + "\n"
            + _(
                "Фото загружены и сохранены — нажмите «Повторить», и букет создастся без повторной загрузки."
            ),
            reply_markup=markup,
        )

    @router.callback_query(ShowcaseCb.filter(F.action == "x"))
    async def leave(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        if await state.get_state() not in ALL_STATES:
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        await state.clear()
        if isinstance(query.message, Message):
            await drop_buttons(bot, query.message)
            await query.message.answer(_("Отменено. Ничего не сохранено."))

    # --- hints for messages that do not fit the step -------------------------------------------

    @router.message(AddBouquet.photos)
    async def photos_hint(message: Message) -> None:
        await message.answer(
            _("Жду фото букета — одно или несколько одним альбомом. /cancel — выйти."),
            reply_markup=cancel_markup(),
        )

    @router.message(StateFilter(AddBouquet.title))
    async def title_hint(message: Message) -> None:
        await message.answer(_("Жду название букета текстом. /cancel — выйти."))

    @router.message(StateFilter(AddBouquet.price, EditBouquet.price))
    async def price_hint(message: Message) -> None:
        await message.answer(_("Жду цену числом, например 25 000. /cancel — выйти."))

    @router.message(StateFilter(AddBouquet.size, EditBouquet.size))
    async def size_hint(message: Message) -> None:
        await message.answer(_("Жду размер, например 40×60. /cancel — выйти."))

    @router.message(StateFilter(AddBouquet.confirm, AddBouquet.failed))
    async def confirm_hint(message: Message) -> None:
        await message.answer(_("Нажмите кнопку под карточкой букета выше или /cancel, чтобы выйти."))

    return router


async def read_photo(message: Message, bot: Bot) -> tuple[bytes, str, str | None] | ShowcaseInputError | None:
    """The bytes of a photo (or an image sent as a file), its type, and its Telegram photo id;
    the problem with it; or None when Telegram did not give the file."""
    if message.photo:
        size = message.photo[-1]
        file_id, file_size, photo_id = size.file_id, size.file_size, size.file_id
    elif message.document:
        file_id, file_size, photo_id = message.document.file_id, message.document.file_size, None
    else:
        return ShowcaseInputError(Problem.NOT_IMAGE)
    if file_size is not None and file_size > MAX_IMAGE_BYTES:
        return ShowcaseInputError(Problem.IMAGE_TOO_BIG)  # refused before downloading it
    try:
        downloaded = await bot.download(file_id)
    except Exception as exc:  # Telegram's file server: any failure means "send it again"
        log.warning("photo download failed: %s", type(exc).__name__)
        return None
    content = downloaded.read() if downloaded is not None else b""
    try:
        content_type = check_image(content)
    except ShowcaseInputError as error:
        return error
    return content, content_type, photo_id


def outcome_text(result: Result, action: Action) -> str | None:
    """The line that tells what happened, when the refreshed card does not say it all."""
    outcome = result.outcome
    if outcome is Outcome.DONE:
        return None
    if outcome is Outcome.ALREADY:
        if action is Action.SOLD:
            return _("Букет уже снят с витрины.")
        return _("Уже так — ничего не изменилось.")
    if outcome is Outcome.UNSUPPORTED:
        return unsupported_text(action)
    if outcome is Outcome.NOT_FOUND:
        return _("Этого букета уже нет на витрине.")
    if outcome is Outcome.NOT_SHOWCASE:
        return _("Это не букет с витрины — здесь его не изменить.")
    if outcome is Outcome.UNKNOWN:
        return _(
            "Сервер не ответил вовремя, и неизвестно, сохранилось ли изменение. "
            "Нажмите «Обновить» через минуту."
        )
    return esc(explain(result.error)) if result.error else _("Сервер отказал в запросе.")
