"""/vitrina: the showcase of ready bouquets — a page's photos as an album with the list under it,
or one card at a time with its photo; a bouquet's card with «Продан», «Изменить цену», «Размер»;
and the «add a bouquet» form: photos (an album is one bouquet) → title → price → size → preview.
Actions the server refuses with 405 disappear until the bot restarts."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from aiogram import F
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Document, Message, PhotoSize, TelegramObject
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.errors import explain
from handlers.feature import Feature
from handlers.forms import typed
from services.cvety_api import MAX_IMAGE_BYTES
from services.errors import ApiError, ApiNotFound
from services.models import Product
from services.roles import Permission, Role, can
from services.showcase import (
    Action,
    BouquetDraft,
    Outcome,
    Problem,
    Result,
    ShowcaseInputError,
    ShowcasePage,
    caption_title,
    check_image,
    clean_title,
    new_draft_ids,
    on_showcase,
    parse_bouquet_price,
    parse_size,
    photo_file,
)
from services.showcase import ShowcaseService as Showcase
from views import showcase as view
from views.callbacks import MenuCb, ShowcaseCb
from views.render import esc
from views.showcase import Album, Looks, Screen

log = logging.getLogger(__name__)

P = Permission
VIEW = (P.SHOWCASE_EDIT, P.CATALOG_VIEW)  # who may look; the first one names the refusal
EDIT = (P.SHOWCASE_EDIT,)
feature = Feature("showcase")
get_router = feature.router


def name(step: State | str | None) -> str:
    """A step's name: what its answer is kept under, and what «Назад»/«Пропустить» carry."""
    return str(step.state if isinstance(step, State) else step).partition(":")[2]


class AddBouquet(StatesGroup):
    # data: draft, sku, images, photo, suggested, and each step's answer under the step's name
    photos = State()
    title = State()
    price = State()
    size = State()  # [width, height], or None when skipped
    confirm = State()
    failed = State()  # the create failed after the upload: everything kept for «Повторить»


class EditBouquet(StatesGroup):
    price = State()  # data: product_id, title, and the card's Spot (message_id, is_photo)
    size = State()


FORM = (AddBouquet.photos, AddBouquet.title, AddBouquet.price, AddBouquet.size, AddBouquet.confirm)
NEXT = {name(step): then for step, then in itertools.pairwise(FORM)}
BACK = {name(then): step for step, then in itertools.pairwise(FORM)}
ADDING = (*FORM[1:], AddBouquet.failed)  # photos uploaded: they live in this conversation's data
EVERY_STATE = (*FORM, AddBouquet.failed, EditBouquet.price, EditBouquet.size)
SERVER_ACTIONS = {"s": Action.SOLD, "S": Action.SOLD, "c": Action.PRICE, "z": Action.SIZE, "a": Action.CREATE}
EDITOR_ACTIONS = {*SERVER_ACTIONS, "k"}


READ = {
    "title": (clean_title, view.title_problem),
    "price": (parse_bouquet_price, view.problem_text),
    "size": (parse_size, view.problem_text),
}


def form_step(step: str, **other: Any) -> dict[str, Any]:
    """What `typed` needs of the step named `step` (the question again, what it waits for)."""
    read, problem = READ[step]
    again, markup = (lambda: _(view.QUESTIONS[step])), (lambda: view.form_keyboard(step))
    return {"read": read, "problem": problem, "again": again, "markup": markup, "need": EDIT} | (
        {"waiting": view.WAITING[step]} | other
    )


def example() -> str:
    return _("Например: 40×60.")


class Spot(NamedTuple):  # where a card is shown: its message, and whether that message is a photo
    message_id: int
    is_photo: bool


# --- declared refusals: registered first, they take these buttons before the handlers below ----


def looker(event: TelegramObject, role: Role | None = None) -> bool:
    """One who may look at the showcase but not change it (or no longer may)."""
    return role is not None and not can(role, P.SHOWCASE_EDIT)


def refused(query: CallbackQuery, callback_data: ShowcaseCb, showcase: Showcase, **data: Any) -> Any:
    """A button taken before the handlers below: `why` it is refused, for the answer."""
    action = SERVER_ACTIONS.get(callback_data.action)
    if callback_data.action in EDITOR_ACTIONS and looker(query, data.get("role")):
        return {"why": lambda: _(view.EDITORS_ONLY)}
    if action is not None and not showcase.supports(action):  # the server refused it with 405
        return {"why": lambda: view.unsupported_text(action)}
    if callback_data.action in {"c", "z"} and data.get("raw_state") in {step.state for step in ADDING}:
        return {"why": lambda: _("Сначала закончите добавление букета или отмените его: /cancel")}
    return False


def on_this_step(query: CallbackQuery, callback_data: ShowcaseCb, raw_state: str | None = None) -> bool:
    """«Назад» and «Пропустить» answer the question they are under, not an older one."""
    return raw_state == f"{AddBouquet.__full_group_name__}:{callback_data.arg}"


@feature.callback_query(ShowcaseCb.filter(), refused, flags=needs(*VIEW))
async def refuse(query: CallbackQuery, ctx: Ctx, why: Callable[[], str]) -> None:
    await ctx.toast(why(), alert=True)


@feature.message(StateFilter(*EVERY_STATE), looker, flags=needs())
async def no_longer_an_editor(message: Message, ctx: Ctx, state: FSMContext) -> None:
    await state.clear()
    await ctx.send(_(view.EDITORS_ONLY))


# --- viewing -------------------------------------------------------------------------------------


@feature.message(Command("vitrina"), flags=needs(*VIEW))
@feature.callback_query(MenuCb.filter(F.open == "vitrina"), flags=needs(*VIEW))
async def vitrina(event: Message | CallbackQuery, ctx: Ctx, state: FSMContext, showcase: Showcase) -> None:
    if await state.get_state() in {s.state for s in EVERY_STATE}:
        await state.clear()  # a half-done showcase step is left, not continued by surprise
    await show_list(ctx, showcase, await showcase.page(0))


@feature.callback_query(ShowcaseCb.filter(F.action == "p"), flags=needs(*VIEW))
async def list_page(query: CallbackQuery, callback_data: ShowcaseCb, ctx: Ctx, showcase: Showcase) -> None:
    album = view.unpack_album(callback_data.arg, here(ctx).message_id)
    await show_list(ctx, showcase, await showcase.page(callback_data.page), album)


@feature.callback_query(ShowcaseCb.filter(F.action == "f"), flags=needs(*VIEW))
async def flip(query: CallbackQuery, callback_data: ShowcaseCb, ctx: Ctx, showcase: Showcase) -> None:
    one = await showcase.one(callback_data.page)
    # from a list: the card shows the photos, the album above it goes
    await delete_messages(ctx, view.unpack_album(callback_data.arg, here(ctx).message_id))
    await replace_screen(ctx, showcase, here(ctx), view.one_screen(one, looks(ctx, showcase)))


@feature.callback_query(ShowcaseCb.filter(F.action.in_({"o", "r", "s"})), flags=needs(*VIEW))
async def open_card(query: CallbackQuery, callback_data: ShowcaseCb, ctx: Ctx, showcase: Showcase) -> None:
    """«o»: the card as a new message; «r»: refreshed in place; «s»: asks there whether it is sold."""
    product = await bouquet(ctx, showcase, callback_data.id)
    if product is None:
        return
    asking = callback_data.action == "s" and on_showcase(product)
    screen = view.card_screen(product, looks(ctx, showcase), confirm_sold=asking)
    if callback_data.action == "o":
        await send_screen(ctx, showcase, screen)
    else:
        await replace_screen(ctx, showcase, here(ctx), screen)


@feature.callback_query(ShowcaseCb.filter(F.action == "S"), flags=needs(*EDIT))
async def sold(query: CallbackQuery, callback_data: ShowcaseCb, ctx: Ctx, showcase: Showcase) -> None:
    await ctx.toast(_("⏳ Снимаю с витрины…"))
    await after_change(ctx, showcase, here(ctx), await showcase.take_down(callback_data.id), Action.SOLD)


# --- price and size of a card --------------------------------------------------------------------


@feature.callback_query(ShowcaseCb.filter(F.action.in_({"c", "z"})), flags=needs(*EDIT))
async def edit_ask(
    query: CallbackQuery, callback_data: ShowcaseCb, ctx: Ctx, state: FSMContext, showcase: Showcase
) -> None:
    product = await bouquet(ctx, showcase, callback_data.id, for_sale=True)
    if product is None:
        return
    action = SERVER_ACTIONS[callback_data.action]
    await state.set_state(EditBouquet.price if action is Action.PRICE else EditBouquet.size)
    await state.set_data({"product_id": product.id, "title": product.title} | here(ctx)._asdict())
    await ctx.send(view.edit_question(product, action), reply_markup=view.cancel_markup())


async def bouquet(ctx: Ctx, showcase: Showcase, product_id: int, for_sale: bool = False) -> Product | None:
    """The bouquet, or None after saying it is gone (or, `for_sale`, no longer on sale)."""
    try:
        product = await showcase.bouquet(product_id)
    except ApiNotFound:
        await ctx.send(_("Такого букета больше нет."))
        return None
    if for_sale and not on_showcase(product):
        await ctx.send(_("Этот букет уже не на витрине."))
        return None
    return product


# a card's price and size: no «Назад», the card is above
@typed(feature, EditBouquet.price, **form_step("price", markup=view.cancel_markup))
@typed(feature, EditBouquet.size, **form_step("size", markup=view.cancel_markup, again=example))
async def edited(message: Message, value: Any, ctx: Ctx, state: FSMContext, showcase: Showcase) -> None:
    """The typed price or size saved, the card above refreshed, and what happened said."""
    step = name(await state.get_state())
    data = await state.get_data() | {step: value}
    await state.clear()
    if step == "price":
        result = await showcase.change_price(int(data["product_id"]), value)
    else:
        result = await showcase.change_size(int(data["product_id"]), *value)
    card = Spot(int(data["message_id"]), bool(data["is_photo"]))
    await after_change(ctx, showcase, card, result, Action(step), data)


async def after_change(
    ctx: Ctx, showcase: Showcase, card: Spot, result: Result, action: Action, data: Any = None
) -> None:
    """Refresh the card from the server and say what happened when the card does not."""
    product = await showcase.refreshed(result)
    if product is not None:
        await replace_screen(ctx, showcase, card, view.card_screen(product, looks(ctx, showcase)))
    note = view.outcome_text(result, action, failure(result), data)
    if note:
        await ctx.send(note)


# --- the «add a bouquet» form: one declared step each; «Назад», «Пропустить», «Отмена» once ------


@feature.callback_query(ShowcaseCb.filter(F.action == "a"), flags=needs(*EDIT))
async def add(query: CallbackQuery, ctx: Ctx, state: FSMContext, showcase: Showcase) -> None:
    await state.set_data({})
    await ask(ctx, state, showcase, AddBouquet.photos)


@feature.message(AddBouquet.photos, F.photo | F.document, flags=needs(*EDIT))
async def photos_sent(message: Message, ctx: Ctx, state: FSMContext, showcase: Showcase) -> None:
    parts = [message]
    if message.media_group_id:
        # an album comes as one message per photo: the first one gathers them all
        part = message.model_dump(mode="json", exclude_none=True)
        album = await showcase.albums.collect(
            message.chat.id, message.media_group_id, message.message_id, part
        )
        if album is None:
            return
        parts = [Message.model_validate(one).as_(ctx.bot) for one in album]
    if await state.get_state() != AddBouquet.photos.state:
        return  # cancelled while the album was arriving
    photos = await read_photos(ctx, parts)
    if photos is None:
        return
    try:
        urls = await showcase.upload([file for file, _id in photos])
    except ApiError as error:
        await ctx.failed(
            error, _("Фото не загружены — пришлите их ещё раз."), reply_markup=view.cancel_markup()
        )
        return
    for url, (_file, photo_id) in zip(urls, photos, strict=False):
        if photo_id:
            showcase.remember_photo(url, photo_id)
    draft_id, sku = new_draft_ids()
    title = caption_title([part.caption for part in parts])
    draft = {"draft": draft_id, "sku": sku, "images": urls, "photo": photos[0][1]}
    await state.update_data(draft | ({"title": title} if title else {}))
    await ctx.send(view.uploaded_text(len(urls), title))
    await ask(ctx, state, showcase, AddBouquet.price if title else AddBouquet.title)


@typed(feature, AddBouquet.title, **form_step("title"))
@typed(feature, AddBouquet.price, **form_step("price"))
@typed(feature, AddBouquet.size, **form_step("size"))
async def answered(message: Message, value: Any, ctx: Ctx, state: FSMContext, showcase: Showcase) -> None:
    await forward(ctx, state, showcase, value)


@feature.callback_query(AddBouquet.title, ShowcaseCb.filter(F.action == "t"), flags=needs(*EDIT))
async def title_picked(
    query: CallbackQuery, callback_data: ShowcaseCb, ctx: Ctx, state: FSMContext, showcase: Showcase
) -> None:
    recent = (await state.get_data()).get("suggested") or []
    index = int(callback_data.arg) if callback_data.arg.isascii() and callback_data.arg.isdigit() else -1
    if not 0 <= index < len(recent):
        await ctx.toast(_("Эта кнопка устарела."))
        return
    await ctx.show(_("Название: {title}").format(title=esc(recent[index])))
    await forward(ctx, state, showcase, str(recent[index]))


@feature.callback_query(ShowcaseCb.filter(F.action.in_({"n", "b"})), on_this_step, flags=needs(*EDIT))
async def skip_or_back(
    query: CallbackQuery, callback_data: ShowcaseCb, ctx: Ctx, state: FSMContext, showcase: Showcase
) -> None:
    await drop_buttons(ctx)
    if callback_data.action == "b":
        await ask(ctx, state, showcase, BACK.get(callback_data.arg, AddBouquet.photos))
    elif callback_data.arg in view.OPTIONAL:
        await forward(ctx, state, showcase, None)


async def forward(ctx: Ctx, state: FSMContext, showcase: Showcase, answer: Any) -> None:
    """The step's answer kept under the step's name, and the next step asked."""
    step = name(await state.get_state())
    await state.update_data({step: answer})
    await ask(ctx, state, showcase, NEXT[step])


async def ask(ctx: Ctx, state: FSMContext, showcase: Showcase, step: State) -> None:
    """The form on `step`, and its question asked (the last step's: the preview)."""
    await state.set_state(step)
    if step is AddBouquet.title and "suggested" not in await state.get_data():
        await state.update_data(suggested=await showcase.recent_titles())
    data = await state.get_data()
    if step is AddBouquet.confirm:
        screen = view.draft_screen(data, looks(ctx, showcase))
    else:
        screen = view.question(name(step), [str(title) for title in data.get("suggested") or []])
    await send_screen(ctx, showcase, screen)


@feature.callback_query(ShowcaseCb.filter(F.action == "k"), flags=needs(*EDIT))
async def save(
    query: CallbackQuery, callback_data: ShowcaseCb, ctx: Ctx, state: FSMContext, showcase: Showcase
) -> None:
    data = await state.get_data()
    saving = await state.get_state() in {AddBouquet.confirm.state, AddBouquet.failed.state}
    if not saving or data.get("draft") != callback_data.arg:  # saved already, or a forged button
        await ctx.toast(_("Уже выставлено или устарело."))
        return
    await ctx.toast(_("⏳ Выставляю на витрину…"))
    await drop_buttons(ctx)
    result = await showcase.create(BouquetDraft.from_data(data))
    if result.outcome in (Outcome.FAILED, Outcome.UNKNOWN):
        await state.set_state(AddBouquet.failed)
    else:
        await state.clear()
    await send_screen(ctx, showcase, view.created_screen(result, data, failure(result)))


@feature.callback_query(StateFilter(*EVERY_STATE), ShowcaseCb.filter(F.action == "x"), flags=needs())
async def leave(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    await state.clear()
    await drop_buttons(ctx)
    await ctx.send(_("Отменено. Ничего не сохранено."))


@feature.message(StateFilter(*EVERY_STATE), flags=needs())
async def hint(message: Message, ctx: Ctx, raw_state: str) -> None:
    """Whatever does not fit the step: what it waits for."""
    markup = view.cancel_markup() if raw_state == AddBouquet.photos.state else None
    await ctx.send(view.hint_text(name(raw_state)), reply_markup=markup)


# --- reading the photos --------------------------------------------------------------------------

Photo = tuple[tuple[str, bytes, str], str | None]  # the file to upload, and Telegram's photo id


async def read_photos(ctx: Ctx, parts: list[Message]) -> list[Photo] | None:
    """The photos to upload (an image sent as a file too); None after saying which one is not taken."""
    photos = []
    for number, part in enumerate(parts, 1):
        problem = None
        try:
            got = await read_photo(ctx, part.photo[-1] if part.photo else part.document)
        except ShowcaseInputError as error:
            got, problem = None, error
        if got is None:
            await ctx.send(view.photo_problem(problem, number, len(parts)), reply_markup=view.cancel_markup())
            return None
        photos.append((photo_file(number, *got), part.photo[-1].file_id if part.photo else None))
    return photos


async def read_photo(ctx: Ctx, file: PhotoSize | Document | None) -> tuple[bytes, str] | None:
    """A photo's bytes and type; None when Telegram did not give it (ShowcaseInputError: not taken)."""
    if file is None:
        raise ShowcaseInputError(Problem.NOT_IMAGE)
    if file.file_size is not None and file.file_size > MAX_IMAGE_BYTES:
        raise ShowcaseInputError(Problem.IMAGE_TOO_BIG)  # refused before downloading it
    try:
        downloaded = await ctx.bot.download(file.file_id)
    except Exception as exc:  # Telegram's file server: any failure means "send it again"
        log.warning("photo download failed: %s", type(exc).__name__)
        return None
    content = downloaded.read() if downloaded is not None else b""
    return content, check_image(content)


# --- what a screen needs, and sending and replacing screens ---------------------------------------


def looks(ctx: Ctx, showcase: Showcase) -> Looks:
    may = frozenset(a for a in Action if showcase.supports(a)) if ctx.can(P.SHOWCASE_EDIT) else frozenset()
    return Looks(ctx.today(), ctx.tz, may, showcase.photo_id)


def failure(result: Result) -> str:
    return esc(explain(result.error)) if result.error else ""


def here(ctx: Ctx) -> Spot:
    """The message a button lives on (one under a message that is gone the middleware answered)."""
    assert ctx.screen is not None
    return Spot(ctx.screen.message_id, bool(ctx.screen.photo))


async def show_list(ctx: Ctx, showcase: Showcase, page: ShowcasePage, album: list[int] | None = None) -> None:
    """The page's photos as an album, the list under it. In place of a list and its `album` (or a card):
    the photos and list edited when the page's photos fit in the album, else both sent anew."""
    seen = looks(ctx, showcase)
    photos = view.album_photos(page, seen)
    if album is not None:
        at = here(ctx)
        if not at.is_photo and len(photos) <= len(album):
            shown = await edit_album(ctx, showcase, album, photos)
            await replace_screen(ctx, showcase, at, view.list_screen(page, seen, shown))
            return
        await delete_messages(ctx, [*album, at.message_id])
    shown = await send_album(ctx, showcase, photos)
    await send_screen(ctx, showcase, view.list_screen(page, seen, shown))


async def send_screen(ctx: Ctx, showcase: Showcase, screen: Screen) -> None:
    if screen.photo is None or await send_photo(ctx, showcase, screen) is None:
        await ctx.send(screen.as_text(), reply_markup=screen.markup)


async def replace_screen(ctx: Ctx, showcase: Showcase, at: Spot, screen: Screen) -> None:
    """`screen` in place of the message: edited when the kind matches, else deleted and sent anew."""
    if screen.photo is None and not at.is_photo:
        await ctx.edit(at.message_id, screen.as_text(), reply_markup=screen.markup)
    elif (
        screen.photo is None or not at.is_photo or not await edit_media(ctx, showcase, at.message_id, screen)
    ):
        await delete_messages(ctx, [at.message_id])
        await send_screen(ctx, showcase, screen)


async def send_photo(ctx: Ctx, showcase: Showcase, screen: Screen) -> Message | None:
    """The screen as a photo; None when Telegram refused it (e.g. it could not fetch the URL)."""
    try:
        sent = await ctx.bot.send_photo(
            ctx.chat_id, screen.media().media, caption=screen.text, reply_markup=screen.markup
        )
    except TelegramBadRequest as exc:
        log.info("showcase photo not sent (%s)", exc.message)
        unreachable(showcase, screen)
        return None
    remember(showcase, sent, screen)
    return sent


async def send_album(ctx: Ctx, showcase: Showcase, photos: list[Screen]) -> Album:
    """The photos as one album (one alone as a photo), without those Telegram refuses."""
    while len(photos) > 1:
        try:
            sent = await ctx.bot.send_media_group(ctx.chat_id, [photo.media() for photo in photos])
        except TelegramBadRequest as exc:
            refused = view.refused_photos(exc.message, photos)
            log.info("showcase: %d of %d photos refused (%s)", len(refused), len(photos), exc.message)
            for photo in refused:
                unreachable(showcase, photo)
            photos = [photo for photo in photos if photo not in refused]
            continue
        for photo, message in zip(photos, sent, strict=False):
            remember(showcase, message, photo)
        return Album.of([m.message_id for m in sent], photos)
    one = await send_photo(ctx, showcase, photos[0]) if photos else None
    return Album.of([one.message_id], photos) if one else Album()


async def edit_album(ctx: Ctx, showcase: Showcase, album: list[int], photos: list[Screen]) -> Album:
    """The photos in the album's messages; those left over or whose photo is refused are deleted."""
    kept: list[tuple[int, Screen]] = []
    gone = album[len(photos) :]
    for message_id, photo in zip(album, photos, strict=False):
        edited = await edit_media(ctx, showcase, message_id, photo)
        if edited is None:  # the photo refused, not the message gone
            unreachable(showcase, photo)
            gone.append(message_id)
        elif edited:
            kept.append((message_id, photo))
    await delete_messages(ctx, gone)
    return Album.of([m for m, _photo in kept], [p for _m, p in kept])


async def edit_media(ctx: Ctx, showcase: Showcase, message_id: int, screen: Screen) -> bool | None:
    """The message's photo changed: True, False when the message is gone, None when the photo is refused."""
    try:
        edited = await ctx.bot.edit_message_media(
            media=screen.media(), chat_id=ctx.chat_id, message_id=message_id, reply_markup=screen.markup
        )
    except TelegramBadRequest as exc:
        if "message is not modified" in exc.message:
            return True
        log.info("showcase photo %s not changed (%s)", message_id, exc.message)
        return False if "not found" in exc.message else None
    if isinstance(edited, Message):
        remember(showcase, edited, screen)
    return True


def remember(showcase: Showcase, sent: Message, screen: Screen) -> None:
    """Telegram's copy of a photo sent by URL: sent by its file id from now on."""
    if screen.photo_url and screen.photo == screen.photo_url and sent.photo:
        showcase.remember_photo(screen.photo_url, sent.photo[-1].file_id)


def unreachable(showcase: Showcase, screen: Screen) -> None:
    """Telegram could not fetch the screen's image URL: a link from now on, not tried again."""
    if screen.photo_url:
        showcase.unreachable(screen.photo_url)


async def delete_messages(ctx: Ctx, message_ids: list[int]) -> None:
    if not message_ids:
        return
    try:
        await ctx.bot.delete_messages(ctx.chat_id, message_ids)  # the ones already gone are skipped
    except TelegramAPIError as exc:
        log.info("could not delete messages %s: %s", message_ids, exc.message)


async def drop_buttons(ctx: Ctx) -> None:
    if ctx.screen is None or ctx.screen.reply_markup is None:
        return
    try:
        await ctx.bot.edit_message_reply_markup(chat_id=ctx.chat_id, message_id=ctx.screen.message_id)
    except TelegramBadRequest as exc:
        log.info("could not drop buttons of %s: %s", ctx.screen.message_id, exc.message)
