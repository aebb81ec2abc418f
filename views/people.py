"""How colleagues and invitations look in Telegram."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from handlers.start import role_name
from services.models import Colleague
from services.people import POSITIONS, ColleagueView, Invite
from services.roles import Role
from views.callbacks import ColleagueCb, InviteCb
from views.i18n import N_
from views.render import cut, esc

PAGE = 10

POSITION_NAMES = {
    "owner": N_("Владелец"),
    "director": N_("Директор"),
    "senior": N_("Старший флорист"),
    "manager": N_("Менеджер"),
    "florist": N_("Флорист"),
    "seller": N_("Продавец"),
    "assistant": N_("Помощник"),
    "courier": N_("Курьер"),
}


def position_name(position: str | None) -> str:
    if not position:
        return "—"
    return _(POSITION_NAMES[position]) if position in POSITION_NAMES else position


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def list_screen(
    colleagues: list[Colleague], *, only_active: bool, position: str | None, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    pages = max(1, -(-len(colleagues) // PAGE))
    page = min(max(page, 0), pages - 1)
    shown = colleagues[page * PAGE : (page + 1) * PAGE]
    scope = _("Активные") if only_active else _("Все")
    title = _("👥 <b>Сотрудники</b> · {scope}").format(scope=scope)
    if position:
        title += f" · {esc(position_name(position))}"
    lines = [f"{title} · {len(colleagues)}"]
    counts = Counter(c.position for c in colleagues)
    if counts and not position:
        lines.append(", ".join(f"{esc(position_name(p))}: {n}" for p, n in counts.most_common()))
    if pages > 1:
        lines.append(_("стр. {page} из {pages}").format(page=page + 1, pages=pages))
    lines.append("")
    for colleague in shown:
        mark = "" if colleague.is_active else " · " + _("неактивен")
        lines.append(
            f"{esc(cut(colleague.name or '—', 50))} — {esc(position_name(colleague.position))}{mark}"
        )
    if not colleagues:
        lines.append(_("Никого не нашёл."))
    scope_arg = "a" if only_active else "all"
    filter_arg = f"{scope_arg}.{position or ''}"
    rows = [
        [
            button(
                f"{cut(c.name or '—', 30)} · {position_name(c.position)}",
                ColleagueCb(action="o", id=c.id).pack(),
            )
        ]
        for c in shown
    ]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(button("◀", ColleagueCb(action="l", arg=filter_arg, page=page - 1).pack()))
        if page < pages - 1:
            nav.append(button("▶", ColleagueCb(action="l", arg=filter_arg, page=page + 1).pack()))
        rows.append(nav)
    rows.append(
        [
            button(
                ("• " if only_active else "") + _("Активные"),
                ColleagueCb(action="l", arg=f"a.{position or ''}").pack(),
            ),
            button(
                ("• " if not only_active else "") + _("Все"),
                ColleagueCb(action="l", arg=f"all.{position or ''}").pack(),
            ),
        ]
    )
    positions = [
        button(
            ("• " if p == position else "") + position_name(p),
            ColleagueCb(action="l", arg=f"{scope_arg}.{p}").pack(),
        )
        for p in POSITIONS
        if p in counts or p == position
    ]
    if position:
        positions.insert(0, button(_("Все должности"), ColleagueCb(action="l", arg=f"{scope_arg}.").pack()))
    rows.extend(positions[i : i + 3] for i in range(0, len(positions), 3))
    rows.append(
        [
            button(_("➕ Добавить"), ColleagueCb(action="n").pack()),
            button(_("✉️ Пригласить"), InviteCb(action="l").pack()),
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def card_screen(
    view: ColleagueView, viewer: Role, tz: ZoneInfo, today: date
) -> tuple[str, InlineKeyboardMarkup]:
    colleague = view.colleague
    lines = [
        f"👤 <b>{esc(colleague.name or '—')}</b>",
        _("Телефон: {phone}").format(phone=esc(colleague.phone or "—")),
        _("Должность: {position}").format(position=esc(position_name(colleague.position))),
        _("Статус: {state}").format(state=_("работает") if colleague.is_active else _("неактивен")),
    ]
    if colleague.joined_at is not None:
        joined = (
            colleague.joined_at.date() if isinstance(colleague.joined_at, datetime) else colleague.joined_at
        )
        lines.append(_("С нами с {day}").format(day=f"{joined:%d.%m.%Y}"))
    if view.member is not None and view.member.active:
        lines.append(_("В боте: да, роль — {role}").format(role=role_name(Role(view.member.role))))
    else:
        lines.append(_("В боте: нет"))
    cid = colleague.id
    rows = [
        [
            button(_("✏️ Имя"), ColleagueCb(action="e", id=cid, arg="name").pack()),
            button(_("✏️ Телефон"), ColleagueCb(action="e", id=cid, arg="phone").pack()),
            button(_("✏️ Должность"), ColleagueCb(action="e", id=cid, arg="position").pack()),
        ],
        [
            button(
                _("⏸ Деактивировать") if colleague.is_active else _("▶️ Активировать"),
                ColleagueCb(action="t", id=cid).pack(),
            ),
            button(_("🗑 Удалить"), ColleagueCb(action="d", id=cid).pack()),
        ],
    ]
    if colleague.is_active and (view.member is None or not view.member.active):
        rows.append([button(_("✉️ Пригласить в бот"), InviteCb(action="c", id=cid).pack())])
    if viewer is Role.OWNER and view.member is not None and view.member.active:
        rows.append([button(_("🔑 Роль в боте"), ColleagueCb(action="R", id=cid).pack())])
    rows.append([button(_("↩️ К списку"), ColleagueCb(action="l", arg="a.").pack())])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def positions_keyboard(viewer: Role, *, colleague_id: str = "") -> InlineKeyboardMarkup:
    allowed = [p for p in POSITIONS if viewer is Role.OWNER or p not in ("owner", "director")]
    buttons = [
        button(position_name(p), ColleagueCb(action="p", id=colleague_id, arg=p).pack()) for p in allowed
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([button(_("↩️ Отмена"), ColleagueCb(action="x").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def roles_keyboard(viewer: Role, *, action: str, colleague_id: str = "") -> InlineKeyboardMarkup:
    roles = [r for r in Role if viewer is Role.OWNER or r is not Role.OWNER]
    if action == "invite":
        rows = [
            [button(role_name(r), InviteCb(action="r", arg=r.value, id=colleague_id).pack())] for r in roles
        ]
    else:
        rows = [
            [button(role_name(r), ColleagueCb(action="r", id=colleague_id, arg=r.value).pack())]
            for r in roles
        ]
    rows.append([button(_("↩️ Отмена"), ColleagueCb(action="x").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def invites_screen(invites: list[Invite], tz: ZoneInfo) -> tuple[str, InlineKeyboardMarkup]:
    lines = [_("✉️ <b>Приглашения</b>"), _("Выберите роль, чтобы сделать одноразовую ссылку на 24 часа."), ""]
    if invites:
        lines.append(_("Открытые ссылки:"))
    rows = []
    for invite in invites:
        who = f" · {esc(invite.name)}" if invite.name else ""
        until = invite.expires_at.astimezone(tz)
        lines.append(
            f"• {role_name(invite.role)}{who} — " + _("до {time}").format(time=f"{until:%d.%m %H:%M}")
        )
        rows.append(
            [
                button(
                    _("Отозвать: {role}").format(role=role_name(invite.role))
                    + (f" · {cut(invite.name, 20)}" if invite.name else ""),
                    InviteCb(action="v", arg=invite.code).pack(),
                )
            ]
        )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def confirm_new(data: dict[str, str]) -> str:
    return "\n".join(
        [
            _("<b>Новый сотрудник — проверьте:</b>"),
            _("Имя: {name}").format(name=esc(data["name"])),
            _("Телефон: {phone}").format(phone=esc(data["phone"])),
            _("Должность: {position}").format(position=esc(position_name(data["position"]))),
        ]
    )
