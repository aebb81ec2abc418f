"""/shop as it looks: the shop's card (CRM info and the cvety.kz shops of the API token), the
owner's edit buttons, and the question for one field."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from services.models import Shop
from services.profile import ShopField, ShopOverview
from services.roles import Permission, Role, can
from views.callbacks import ShopCb
from views.i18n import N_
from views.render import button, cut, esc, esc_attr, keyboard

F_ = ShopField
EDIT_LABELS = {
    F_.NAME: N_("✏️ Изменить название"),
    F_.ADDRESS: N_("✏️ Изменить адрес"),
    F_.PHONE: N_("✏️ Изменить телефон"),
    F_.WORKING_HOURS: N_("✏️ Изменить часы работы"),
    F_.CITY: N_("✏️ Изменить город"),
    F_.INSTAGRAM: N_("✏️ Изменить Instagram"),
    F_.WHATSAPP: N_("✏️ Изменить WhatsApp"),
    F_.TELEGRAM: N_("✏️ Изменить Telegram"),
}
ASK = {
    F_.NAME: N_("Напишите название магазина — от 2 до 255 символов."),
    F_.ADDRESS: N_("Напишите адрес — от 5 до 500 символов."),
    F_.PHONE: N_("Напишите телефон магазина, например 8 727 378 88 88."),
    F_.WORKING_HOURS: N_("Напишите часы работы, например «Пн-Вс: 9:00-21:00» — от 3 до 100 символов."),
    F_.CITY: N_("Напишите город — от 2 до 100 символов."),
    F_.INSTAGRAM: N_("Пришлите ссылку на Instagram (https://…) или имя через @. «-» — убрать."),
    F_.WHATSAPP: N_("Пришлите номер WhatsApp или ссылку https://wa.me/… «-» — убрать."),
    F_.TELEGRAM: N_("Пришлите ссылку на Telegram (https://…) или имя через @. «-» — убрать."),
}
SHOWN_SHOPS = 3
EDITS_PER_ROW = 2


def link(value: str | None) -> str:
    """A link that came from the API, safe in HTML; anything else as escaped text."""
    if not value:
        return "—"
    if value.lower().startswith(("https://", "http://")):
        return f'<a href="{esc_attr(value)}">{esc(cut(value, 60))}</a>'
    return esc(value)


def cvety_shop_line(shop: Shop) -> str:
    # a shop's name can be a phone number: shown as it is, in quotes
    return _("«{name}» (id {id}, код города {city})").format(
        name=esc(shop.name or "—"), id=shop.id, city=esc(shop.city or "—")
    )


def _cvety_shops(shops: list[Shop] | None) -> list[str]:
    if shops is None:
        return [_("cvety.kz: не удалось узнать магазин — сайт не ответил.")]
    if not shops:
        return [_("cvety.kz: токен не привязан ни к одному магазину.")]
    lines = [_("Магазин на cvety.kz: {shop}").format(shop=cvety_shop_line(shops[0]))]
    lines += ["• " + cvety_shop_line(other) for other in shops[1:SHOWN_SHOPS]]
    if len(shops) > SHOWN_SHOPS:
        lines.append(_("… и ещё {count}").format(count=len(shops) - SHOWN_SHOPS))
    return lines


def shop_text(overview: ShopOverview) -> str:
    info = overview.info
    dash = "—"
    lines = [
        _("🏪 <b>{name}</b>").format(name=esc(info.name) if info.name else _("Магазин")),
        "",
        _("Адрес: {address}").format(address=esc(info.address) if info.address else dash),
        _("Телефон: {phone}").format(phone=esc(info.phone) if info.phone else dash),
        _("Часы работы: {hours}").format(hours=esc(info.working_hours) if info.working_hours else dash),
        _("Город: {city}").format(city=esc(info.city) if info.city else dash),
        "",
        _("Instagram: {link}").format(link=link(info.social.instagram)),
        _("WhatsApp: {link}").format(link=link(info.social.whatsapp)),
        _("Telegram: {link}").format(link=link(info.social.telegram)),
        "",
        *_cvety_shops(overview.shops),
    ]
    return "\n".join(lines)


def saved_text(overview: ShopOverview) -> str:
    return _("✅ Сохранено.") + "\n\n" + shop_text(overview)


def shop_keyboard(role: Role) -> InlineKeyboardMarkup | None:
    """Everyone sees the card; only the owner gets the buttons to change it."""
    editable = can(role, Permission.SHOP_EDIT)
    buttons = [button(_(label), ShopCb(action="e", arg=field)) for field, label in EDIT_LABELS.items()]
    rows = [buttons[i : i + EDITS_PER_ROW] for i in range(0, len(buttons), EDITS_PER_ROW)]
    return keyboard(*rows) if editable else None


def ask_text(field: ShopField) -> str:
    return _(ASK[field])


def cancel_keyboard() -> InlineKeyboardMarkup:
    return keyboard([button(_("↩️ Отмена"), ShopCb(action="x"))])
