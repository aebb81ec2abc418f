"""The showcase (витрина): ready bouquets on sale, and what the staff do with them — add a new
bouquet from photos, change a price, take one down when it is sold.

Knows nothing of Telegram. The cvety.kz product endpoints are partly broken on the server
(405 on some, others unverified): an action the server refuses with 405 is remembered here, so
the bot stops offering it until it restarts.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from services.cvety_api import IMAGE_TYPES, MAX_IMAGE_BYTES, CvetyApi
from services.errors import (
    ApiError,
    ApiNotFound,
    ApiNotSupported,
    ApiUnknownOutcome,
)
from services.models import Page, Product
from services.parsing import sniff_image_type
from services.storage.repositories import KeyValueStore

log = logging.getLogger(__name__)

VITRINA = "vitrina"
PAGE_SIZE = 5
TITLE_MAX = 100
MAX_PRICE = 10_000_000
SIZE_MAX_CM = 300
RECENT_TITLES = 6
ALBUM_WAIT = 1.0  # seconds without a new photo of the same album before it counts as complete
ALBUM_LOOK_EVERY = 0.1  # seconds between looks at the album's parts while they arrive
PHOTO_IDS_KEPT = 500
_RECENT_TITLES_KEY = "showcase:recent_titles"
_DRAFT_KEY = "showcase:draft:"  # draft id -> the product id it became (0: unknown id)
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_UNCERTAIN = -1  # the create timed out and the product was not found
ALMATY = ZoneInfo("Asia/Almaty")

T = TypeVar("T")


class Action(StrEnum):
    """What the staff may do on the showcase; each maps to one cvety.kz endpoint."""

    CREATE = "create"  # POST /product/create
    PRICE = "price"  # POST /product/price
    SOLD = "sold"  # DELETE /products/delete
    SIZE = "size"  # POST /product/properties


# --- what people type ----------------------------------------------------------------------------


class Problem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NOT_A_NUMBER = "not_a_number"
    NOT_POSITIVE = "not_positive"
    FRACTION = "fraction"
    NOT_TENGE = "not_tenge"
    TOO_BIG = "too_big"
    BAD_SIZE = "bad_size"
    NOT_IMAGE = "not_image"
    IMAGE_TOO_BIG = "image_too_big"


class ShowcaseInputError(ValueError):
    def __init__(self, problem: Problem, limit: int | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.limit = limit


_SPACES = re.compile(r"[\s\u00a0\u2009\u202f]+")
_TENGE = re.compile(r"(?:₸|тг\.?|тенге|теңге|kzt|tg)$", re.IGNORECASE)
_OTHER_CURRENCY = re.compile(r"(?:\$|€|usd|eur|руб\.?|rub|₽)$", re.IGNORECASE)


def parse_bouquet_price(text: str | None) -> int:
    """A price as florists type it: «25000», «25 000», «25 000 ₸», «25000тг», «25.000».
    A positive whole number of tenge; raises ShowcaseInputError."""
    value = _SPACES.sub("", text or "")
    if not value:
        raise ShowcaseInputError(Problem.EMPTY)
    if _OTHER_CURRENCY.search(value):
        raise ShowcaseInputError(Problem.NOT_TENGE)
    value = _TENGE.sub("", value)
    if re.fullmatch(r"[-−–]\d+(?:[.,]\d+)*", value):
        raise ShowcaseInputError(Problem.NOT_POSITIVE)
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", value):  # 25.000 / 25,000: thousands, not decimals
        value = re.sub(r"[.,]", "", value)
    elif re.fullmatch(r"\d+[.,]\d+", value):
        raise ShowcaseInputError(Problem.FRACTION)
    if not re.fullmatch(r"\d+", value):
        raise ShowcaseInputError(Problem.NOT_A_NUMBER)
    if len(value.lstrip("0")) > 9 or int(value) > MAX_PRICE:
        raise ShowcaseInputError(Problem.TOO_BIG, MAX_PRICE)
    price = int(value)
    if price <= 0:
        raise ShowcaseInputError(Problem.NOT_POSITIVE)
    return price


def clean_title(text: str | None) -> str:
    """A bouquet's title: whitespace folded, not empty, at most TITLE_MAX characters."""
    title = " ".join((text or "").split())
    if not title:
        raise ShowcaseInputError(Problem.EMPTY)
    if len(title) > TITLE_MAX:
        raise ShowcaseInputError(Problem.TOO_LONG, TITLE_MAX)
    return title


_SIZE = re.compile(r"^(\d{1,4})\s*(?:[x×хХ*/]|на|\s)\s*(\d{1,4})\s*(?:см\.?|cm)?$", re.IGNORECASE)


def parse_size(text: str | None) -> tuple[int, int]:
    """Width and height in cm: «40×60», «40x60 см», «40 на 60», «40 60»."""
    value = " ".join((text or "").split())
    if not value:
        raise ShowcaseInputError(Problem.EMPTY)
    match = _SIZE.match(value)
    if match is None:
        raise ShowcaseInputError(Problem.BAD_SIZE)
    width, height = int(match.group(1)), int(match.group(2))
    if not (0 < width <= SIZE_MAX_CM and 0 < height <= SIZE_MAX_CM):
        raise ShowcaseInputError(Problem.BAD_SIZE, SIZE_MAX_CM)
    return width, height


def check_image(content: bytes) -> str:
    """The content type of a photo by its bytes (JPEG, PNG or WebP, at most 10 MB)."""
    if len(content) > MAX_IMAGE_BYTES:
        raise ShowcaseInputError(Problem.IMAGE_TOO_BIG)
    content_type = sniff_image_type(content)
    if content_type is None or content_type not in IMAGE_TYPES:
        raise ShowcaseInputError(Problem.NOT_IMAGE)
    return content_type


def on_showcase(product: Product) -> bool:
    """A bouquet on sale on the showcase: the one whose price, size and «sold» may change."""
    return product.is_available is not False and (product.type or VITRINA) == VITRINA


def caption_title(captions: list[str | None]) -> str | None:
    """The title a florist wrote under the photos, when it makes one."""
    try:
        return clean_title(next((c for c in captions if c), None) or "")
    except ShowcaseInputError:
        return None


def photo_file(number: int, content: bytes, content_type: str) -> tuple[str, bytes, str]:
    """One photo of a new bouquet as the upload wants it: a name, the bytes and their type."""
    return f"bouquet-{number}.{_EXTENSIONS[content_type]}", content, content_type


def days_on_showcase(product: Product, today: date, tz: ZoneInfo = ALMATY) -> int | None:
    """Whole days since the bouquet was put out (0 = today); None when the date is unknown."""
    if product.created_at is None:
        return None
    created = product.created_at
    day = created.astimezone(tz).date() if created.tzinfo else created.date()
    days = (today - day).days
    return days if days >= 0 else None


# --- albums --------------------------------------------------------------------------------------


class AlbumCollector:
    """Telegram delivers an album as separate messages sharing a media_group_id, and behind a proxy
    they reach different replicas. Each part is written to the bot's database (the one store all
    replicas share, on every backend); the part that claims the album first waits until no new
    part arrived for `wait` seconds and gets them all, in order; the others (and a part arriving
    after its album was gathered) get None."""

    def __init__(
        self, kv: KeyValueStore, wait: float = ALBUM_WAIT, look_every: float = ALBUM_LOOK_EVERY
    ) -> None:
        self._kv = kv
        self.wait = wait
        self.look_every = look_every

    async def collect(self, chat_id: int, group_id: str, message_id: int, part: Any) -> list[Any] | None:
        album = f"album:{chat_id}:{group_id}"
        await self._kv.set(f"{album}:part:{message_id:012d}", part)
        if not await self._kv.add(album, {"claimed": True}):
            return None
        loop = asyncio.get_running_loop()
        seen, quiet_since = 0, loop.time()
        while True:
            parts = await self._kv.with_prefix(f"{album}:part:")
            if len(parts) != seen:
                seen, quiet_since = len(parts), loop.time()
            elif loop.time() - quiet_since >= self.wait:
                break
            # the other parts arrive at other replicas: only the shared table can tell of them
            await asyncio.sleep(self.look_every)
        await self._kv.delete_prefix(f"{album}:part:")  # the claim stays: a late part starts nothing
        return [parts[key] for key in sorted(parts)]


# --- results -------------------------------------------------------------------------------------


class Outcome(StrEnum):
    DONE = "done"
    ALREADY = "already"  # done before (by someone else, or an earlier tap)
    UNSUPPORTED = "unsupported"  # the server answered 405: the action is hidden from now on
    NOT_FOUND = "not_found"
    NOT_SHOWCASE = "not_showcase"  # a forged id of a product that is not a showcase bouquet
    UNKNOWN = "unknown"  # the write timed out and re-reading could not tell
    FAILED = "failed"  # refused or unreachable: `error` says why


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    product: Product | None = None
    product_id: int | None = None
    error: ApiError | None = None


@dataclass(frozen=True)
class ShowcasePage:
    items: list[Product]
    page: int
    total: int | None
    has_more: bool

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // PAGE_SIZE))


@dataclass(frozen=True)
class OneBouquet:
    """The one-card view: the bouquet at `index` of the showcase (None when it is empty)."""

    product: Product | None
    index: int
    total: int | None
    has_more: bool


@dataclass(frozen=True)
class BouquetDraft:
    """A new bouquet being added: the uploaded photos stay here until it is created."""

    draft_id: str
    sku: str
    title: str
    price: int
    images: list[str]
    width: int | None = None
    height: int | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> BouquetDraft:
        """The draft from the form's answers: title, price, size ([width, height] or None)."""
        width, height = data.get("size") or (None, None)
        return cls(
            draft_id=str(data["draft"]),
            sku=str(data["sku"]),
            title=str(data["title"]),
            price=int(data["price"]),
            images=[str(url) for url in data.get("images") or []],
            width=int(width) if width else None,
            height=int(height) if height else None,
        )


def new_draft_ids(now: float | None = None) -> tuple[str, str]:
    """(draft id, SKU). The SKU is the shop's own: VT-<timestamp in ms>, fixed for the draft so
    a retry sends the same one."""
    stamp = int((time.time() if now is None else now) * 1000)
    return secrets.token_hex(4), f"VT-{stamp}"


# --- the service ---------------------------------------------------------------------------------


class ShowcaseService:
    def __init__(
        self,
        cvety: CvetyApi,
        kv: KeyValueStore,
        *,
        tz: ZoneInfo = ALMATY,
        album_wait: float = ALBUM_WAIT,
    ) -> None:
        self._cvety = cvety
        self._kv = kv
        self.tz = tz
        self.albums = AlbumCollector(kv, album_wait)
        self._unsupported: set[Action] = set()
        self._shop_id: int | None = None
        self._creating: dict[str, asyncio.Lock] = {}
        self._photo_ids: dict[str, str] = {}

    def today(self) -> date:
        return datetime.now(self.tz).date()

    # --- what the server supports ----------------------------------------------------------------

    def supports(self, action: Action) -> bool:
        return action not in self._unsupported

    def _refused(self, action: Action, error: ApiNotSupported, product_id: int | None = None) -> Result:
        log.warning("showcase: the server does not support %s (%s): hidden until restart", action, error)
        self._unsupported.add(action)
        return Result(Outcome.UNSUPPORTED, product_id=product_id, error=error)

    # --- reading ---------------------------------------------------------------------------------

    async def page(self, page: int) -> ShowcasePage:
        page = max(page, 0)
        found = await self._list(PAGE_SIZE, page * PAGE_SIZE)
        if not found.items and page > 0 and found.total:
            page = (found.total - 1) // PAGE_SIZE  # the last page shrank meanwhile
            found = await self._list(PAGE_SIZE, page * PAGE_SIZE)
        items = [p for p in found.items if p.is_available is not False]
        return ShowcasePage(items, page, found.total, bool(found.has_more))

    async def one(self, index: int) -> OneBouquet:
        index = max(index, 0)
        found = await self._list(1, index)
        if not found.items and index > 0 and found.total:
            index = found.total - 1
            found = await self._list(1, index)
        product = found.items[0] if found.items else None
        return OneBouquet(product, index, found.total, bool(found.has_more))

    async def _list(self, limit: int, offset: int) -> Page[Product]:
        return await self._cvety.list_products(type=VITRINA, is_available=True, limit=limit, offset=offset)

    async def bouquet(self, product_id: int) -> Product:
        """Raises ApiNotFound when there is no such product."""
        return await self._cvety.get_product(product_id)

    # --- Telegram's copies of the photos (plain strings: file ids) ------------------------------

    def photo_id(self, url: str) -> str | None:
        """Telegram's file id for an image URL; "" when Telegram could not fetch that URL."""
        return self._photo_ids.get(url)

    def unreachable(self, url: str) -> None:
        """Telegram could not fetch this URL (a sandbox on 127.0.0.1): show it as a link instead."""
        self.remember_photo(url, "")

    def remember_photo(self, url: str, file_id: str) -> None:
        self._photo_ids.pop(url, None)
        self._photo_ids[url] = file_id
        while len(self._photo_ids) > PHOTO_IDS_KEPT:
            self._photo_ids.pop(next(iter(self._photo_ids)))

    # --- changing a bouquet ----------------------------------------------------------------------

    async def refreshed(self, result: Result) -> Product | None:
        """The bouquet as it is after a change (the one the change returned, else read again)."""
        if result.product is not None or result.product_id is None or result.outcome is Outcome.NOT_FOUND:
            return result.product
        try:
            return await self._cvety.get_product(result.product_id)
        except ApiError:  # gone, or the server unreachable: the card stays as it was
            return None

    async def _editable(self, product_id: int) -> Product | Result:
        try:
            product = await self._cvety.get_product(product_id)
        except ApiNotFound:
            return Result(Outcome.NOT_FOUND, product_id=product_id)
        if (product.type or VITRINA) != VITRINA:
            return Result(Outcome.NOT_SHOWCASE, product=product, product_id=product_id)
        return product

    async def change_price(self, product_id: int, price: int) -> Result:
        if not self.supports(Action.PRICE):
            return Result(Outcome.UNSUPPORTED, product_id=product_id)
        product = await self._editable(product_id)
        if isinstance(product, Result):
            return product
        if product.is_available is False:
            return Result(Outcome.NOT_FOUND, product=product, product_id=product_id)
        if product.price == price:
            return Result(Outcome.ALREADY, product=product, product_id=product_id)
        try:
            await self._cvety.update_product_price(product_id, price)
        except ApiNotSupported as exc:
            return self._refused(Action.PRICE, exc, product_id)
        except ApiUnknownOutcome as exc:
            return await self._check(product_id, lambda p: p.price == price, exc)
        except ApiError as exc:
            return Result(Outcome.FAILED, product=product, product_id=product_id, error=exc)
        return await self._reread(product_id, product)

    async def change_size(self, product_id: int, width: int, height: int) -> Result:
        if not self.supports(Action.SIZE):
            return Result(Outcome.UNSUPPORTED, product_id=product_id)
        product = await self._editable(product_id)
        if isinstance(product, Result):
            return product
        try:
            await self._cvety.update_product_properties(product_id, width=str(width), height=str(height))
        except ApiNotSupported as exc:
            return self._refused(Action.SIZE, exc, product_id)
        except ApiUnknownOutcome as exc:
            return await self._check(
                product_id, lambda p: (p.width, p.height) == (str(width), str(height)), exc
            )
        except ApiError as exc:
            return Result(Outcome.FAILED, product=product, product_id=product_id, error=exc)
        return await self._reread(product_id, product)

    async def take_down(self, product_id: int) -> Result:
        """«Продан»: the product is deactivated (the server's soft delete)."""
        if not self.supports(Action.SOLD):
            return Result(Outcome.UNSUPPORTED, product_id=product_id)
        product = await self._editable(product_id)
        if isinstance(product, Result):
            return product
        if product.is_available is False:
            return Result(Outcome.ALREADY, product=product, product_id=product_id)
        try:
            await self._cvety.delete_product(product_id)
        except ApiNotSupported as exc:
            return self._refused(Action.SOLD, exc, product_id)
        except ApiNotFound:
            return Result(Outcome.ALREADY, product_id=product_id)
        except ApiUnknownOutcome as exc:
            return await self._check(product_id, lambda p: p.is_available is False, exc, gone_is_done=True)
        except ApiError as exc:
            return Result(Outcome.FAILED, product=product, product_id=product_id, error=exc)
        return await self._reread(product_id, product)

    async def _reread(self, product_id: int, before: Product) -> Result:
        try:
            return Result(
                Outcome.DONE, product=await self._cvety.get_product(product_id), product_id=product_id
            )
        except ApiError:
            return Result(Outcome.DONE, product=before, product_id=product_id)

    async def _check(
        self, product_id: int, applied: Any, error: ApiError, *, gone_is_done: bool = False
    ) -> Result:
        """After a write timed out: re-read the bouquet before telling anyone anything."""
        try:
            product = await self._cvety.get_product(product_id)
        except ApiNotFound:
            outcome = Outcome.DONE if gone_is_done else Outcome.NOT_FOUND
            return Result(outcome, product_id=product_id, error=error)
        except ApiError:
            return Result(Outcome.UNKNOWN, product_id=product_id, error=error)
        if applied(product):
            return Result(Outcome.DONE, product=product, product_id=product_id)
        return Result(Outcome.UNKNOWN, product=product, product_id=product_id, error=error)

    # --- adding a bouquet ------------------------------------------------------------------------

    async def upload(self, files: list[tuple[str, bytes, str]]) -> list[str]:
        """Uploads the photos in one request; their URLs, in order. Raises ApiError."""
        result = await self._cvety.upload_images(files)
        return result.urls

    async def shop_id(self) -> int:
        """The shop's ownerId for new products: the first shop of the token (cached)."""
        if self._shop_id is None:
            shops = await self._cvety.list_shops()
            if not shops:
                raise ApiError("the token has no shop", backend="cvety", endpoint="GET /shop/list")
            self._shop_id = shops[0].id
        return self._shop_id

    async def recent_titles(self) -> list[str]:
        return [str(t) for t in await self._kv.get(_RECENT_TITLES_KEY, [])]

    async def remember_title(self, title: str) -> None:
        recent = [t for t in await self.recent_titles() if t.casefold() != title.casefold()]
        await self._kv.set(_RECENT_TITLES_KEY, [title, *recent][:RECENT_TITLES])

    async def create(self, draft: BouquetDraft) -> Result:
        """Puts the draft on the showcase once: a second call for the same draft (a double tap,
        «Повторить» after a lost answer) finds the first one instead of creating another."""
        if len(self._creating) > 1000:  # old drafts: their kv record answers from now on
            self._creating = {k: v for k, v in self._creating.items() if v.locked()}
        lock = self._creating.setdefault(draft.draft_id, asyncio.Lock())
        async with lock:
            return await self._create_once(draft)

    async def _create_once(self, draft: BouquetDraft) -> Result:
        done = await self._kv.get(_DRAFT_KEY + draft.draft_id)
        if done == _UNCERTAIN:  # the last try timed out: it may have gone through after all
            found = await self._find_created(draft)
            if found is not None:
                await self._created(draft, found.id)
                return Result(Outcome.ALREADY, product=found, product_id=found.id)
        elif done is not None:
            return Result(Outcome.ALREADY, product_id=int(done) or None)
        if not self.supports(Action.CREATE):
            return Result(Outcome.UNSUPPORTED)
        try:
            owner_id = await self.shop_id()
        except ApiError as exc:
            return Result(Outcome.FAILED, error=exc)
        extra: dict[str, Any] = {"type": VITRINA}
        if draft.width and draft.height:
            extra.update(width=str(draft.width), height=str(draft.height))
        key = _DRAFT_KEY + draft.draft_id
        # Written ahead: a crash during the call leaves the draft «maybe created», so a tap after
        # the restart looks for the bouquet before creating a second one.
        await self._kv.set(key, _UNCERTAIN)
        try:
            created = await self._cvety.create_product(
                draft.sku, draft.title, draft.price, owner_id, images=draft.images, **extra
            )
        except ApiNotSupported as exc:
            await self._kv.delete(key)
            return self._refused(Action.CREATE, exc)
        except ApiUnknownOutcome as exc:
            found = await self._find_created(draft)
            if found is None:
                return Result(Outcome.UNKNOWN, error=exc)
            await self._created(draft, found.id)
            return Result(Outcome.DONE, product=found, product_id=found.id)
        except ApiError as exc:
            await self._kv.delete(key)  # refused or never reached: nothing was created
            return Result(Outcome.FAILED, error=exc)
        product = created if isinstance(created, Product) else None
        product_id = product.id if product else _id_in(created)
        await self._created(draft, product_id)
        return Result(Outcome.DONE, product=product, product_id=product_id)

    async def _created(self, draft: BouquetDraft, product_id: int | None) -> None:
        await self._kv.set(_DRAFT_KEY + draft.draft_id, product_id or 0)
        await self.remember_title(draft.title)

    async def _find_created(self, draft: BouquetDraft) -> Product | None:
        """Our bouquet, if the create went through after all: the only product with our photos."""
        try:
            found = await self._cvety.list_products(type=VITRINA, search=draft.title, limit=20)
        except ApiError:
            return None
        ours = set(draft.images)
        return next((p for p in found.items if ours & set(p.images or [p.image_url or ""])), None)


def _id_in(answer: Any) -> int | None:
    if isinstance(answer, dict):
        for key in ("id", "ID", "productId"):
            value = answer.get(key)
            if isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdigit()):
                return int(value)
    return None
