"""/staff as it looks: the list of colleagues, a colleague's card, the questions of adding and
editing one, bot roles, invitations, and the words for a refusal. A screen is the keyword
arguments of `ctx.send` / `ctx.show`: its text and keyboard."""

from __future__ import annotations

from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton as Button
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from services import people
from services.models import Colleague
from services.people import ColleagueGone, ColleagueView, Invite, InviteProblem, PeopleError, Refusal
from services.person import Person
from services.roles import Role
from views.callbacks import ColleagueCb, InviteCb
from views.i18n import N_
from views.profile import position_name
from views.render import button, cut, esc, keyboard, page_of, pager
from views.start import help_text, main_actions, role_name

Screen = dict[str, Any]
PAGE = 10
REFUSALS = {
    Refusal.OWNER_PROTECTED: N_("Старший флорист не может менять, отключать или удалять владельца."),
    Refusal.NO_OWNER_PROMOTION: N_("Назначить владельца может только владелец."),
    Refusal.ROLES_OWNER_ONLY: N_("Роли в боте меняет владелец."),
    Refusal.NOT_ALLOWED: N_("Это доступно владельцу и старшему флористу."),
}
ADD_QUESTIONS = {
    "name": N_("➕ <b>Новый сотрудник.</b> Как зовут? (имя и фамилия)"),
    "phone": N_("Телефон? Например: 8 777 123 45 67"),
    "position": N_("Должность?"),
}
EDIT_QUESTIONS = {
    "name": N_("Новое имя?"),
    "phone": N_("Новый телефон? Например: 8 777 123 45 67"),
    "position": N_("Новая должность?"),
}
INVITE_PROBLEMS = {
    InviteProblem.USED: N_("Эта ссылка уже использована."),
    InviteProblem.EXPIRED: N_("Срок действия ссылки истёк (она действует 24 часа)."),
    InviteProblem.REVOKED: N_("Эту ссылку отозвали."),
    InviteProblem.UNKNOWN: N_("Ссылка не подошла."),
}


def refused_text(error: Exception, gone: str) -> str:
    """Why nothing was done: the service's refusal, `gone` (N_) for someone gone, or a forged button."""
    if isinstance(error, PeopleError):
        return _(REFUSALS[error.refusal])
    return _(gone) if isinstance(error, ColleagueGone) else _("Эта кнопка устарела.")


def _screen(lines: list[str], *rows: list[Button] | None) -> Screen:
    return {"text": "\n".join(lines), "reply_markup": keyboard(*rows)}


def _by(width: int, buttons: list[Button]) -> list[list[Button]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def _about(member: Person, text: str) -> str:
    return text.format(name=esc(member.name), role=role_name(Role(member.role)))


def _cancel_row() -> list[Button]:
    return [button(_("↩️ Отмена"), ColleagueCb(action="x"))]


def cancel_keyboard() -> InlineKeyboardMarkup:
    return keyboard(_cancel_row())


def _listing(scope: str, position: str | None, page: int = 0) -> ColleagueCb:
    return ColleagueCb(action="l", arg=f"{scope}.{position or ''}", page=page)


def scope_of(arg: str) -> tuple[bool, str | None]:
    """A list button's «a.<position>» (active only) or «all.<position>»; the position may be empty."""
    scope, _sep, position = arg.partition(".")
    return scope != "all", position or None


def list_screen(colleagues: list[Colleague], only_active: bool, position: str | None, page: int) -> Screen:
    shown, page, pages = page_of(colleagues, page, PAGE)
    scope = "a" if only_active else "all"
    title = _("👥 <b>Сотрудники</b> · {scope}").format(scope=_("Активные") if only_active else _("Все"))
    lines = [title + (f" · {esc(position_name(position))}" if position else "") + f" · {len(colleagues)}"]
    counts = Counter(c.position for c in colleagues)
    if counts and not position:
        lines.append(", ".join(f"{esc(position_name(p))}: {n}" for p, n in counts.most_common()))
    if pages > 1:
        lines.append(_("стр. {page} из {pages}").format(page=page + 1, pages=pages))
    lines.append("")
    rows = []
    for c in shown:
        mark = "" if c.is_active else " · " + _("неактивен")
        lines.append(f"{esc(cut(c.name or '—', 50))} — {esc(position_name(c.position))}{mark}")
        label = f"{cut(c.name or '—', 30)} · {position_name(c.position)}"
        rows.append([button(label, ColleagueCb(action="o", id=c.id))])
    if not colleagues:
        lines.append(_("Никого не нашёл."))
    named = [p for p in people.POSITIONS if p in counts or p == position]
    filters = [button(("• " if p == position else "") + position_name(p), _listing(scope, p)) for p in named]
    if position:
        filters.insert(0, button(_("Все должности"), _listing(scope, None)))
    return _screen(
        lines,
        *rows,
        pager(page, pages, lambda n: _listing(scope, position, n)),
        [
            button(("• " if only_active else "") + _("Активные"), _listing("a", position)),
            button(("• " if not only_active else "") + _("Все"), _listing("all", position)),
        ],
        *_by(3, filters),
        [button(_("➕ Добавить"), ColleagueCb(action="n")), button(_("✉️ Пригласить"), InviteCb(action="l"))],
    )


def card_screen(view: ColleagueView, viewer: Role, head: str = "") -> Screen:
    """A colleague's card, under `head` (what was just done) when there is one."""
    colleague, member, cid = view.colleague, view.member, view.colleague.id
    lines = [head, ""] if head else []
    lines += [
        f"👤 <b>{esc(colleague.name or '—')}</b>",
        _("Телефон: {phone}").format(phone=esc(colleague.phone or "—")),
        _("Должность: {position}").format(position=esc(position_name(colleague.position))),
        _("Статус: {state}").format(state=_("работает") if colleague.is_active else _("неактивен")),
    ]
    if colleague.joined_at is not None:
        lines.append(_("С нами с {day}").format(day=f"{colleague.joined_at:%d.%m.%Y}"))
    connected = member is not None and member.active
    lines.append(_about(member, _("В боте: да, роль — {role}")) if member and connected else _("В боте: нет"))
    active = colleague.is_active
    return _screen(
        lines,
        [
            button(_("✏️ Имя"), ColleagueCb(action="e", id=cid, arg="name")),
            button(_("✏️ Телефон"), ColleagueCb(action="e", id=cid, arg="phone")),
            button(_("✏️ Должность"), ColleagueCb(action="e", id=cid, arg="position")),
        ],
        [
            button(_("⏸ Деактивировать") if active else _("▶️ Активировать"), ColleagueCb(action="t", id=cid)),
            button(_("🗑 Удалить"), ColleagueCb(action="d", id=cid)),
        ],
        [button(_("✉️ Пригласить в бот"), InviteCb(action="c", id=cid))] if active and not connected else None,
        [button(_("🔑 Роль в боте"), ColleagueCb(action="R", id=cid))]
        if people.may_give_roles(viewer) and connected
        else None,
        [button(_("↩️ К списку"), _listing("a", None))],
    )


def question(field: str, viewer: Role, colleague_id: str | None = None) -> Screen:
    """What to type (or pick) next: for the new colleague, or for `colleague_id`'s card."""
    text = _((EDIT_QUESTIONS if colleague_id is not None else ADD_QUESTIONS)[field])
    if field != "position":
        return {"text": text, "reply_markup": cancel_keyboard()}
    cb = [ColleagueCb(action="p", id=colleague_id or "", arg=p) for p in people.positions_to_give(viewer)]
    return _screen([text], *_by(2, [button(position_name(c.arg), c) for c in cb]), _cancel_row())


def confirm_new(new: dict[str, str]) -> Screen:
    lines = [
        _("<b>Новый сотрудник — проверьте:</b>"),
        _("Имя: {name}").format(name=esc(new["name"])),
        _("Телефон: {phone}").format(phone=esc(new["phone"])),
        _("Должность: {position}").format(position=esc(position_name(new["position"]))),
    ]
    return _screen(lines, [button(_("✅ Сохранить"), ColleagueCb(action="s"))], _cancel_row())


def delete_question(colleague: Colleague) -> Screen:
    name = esc(colleague.name or "")
    return _screen(
        [_("Удалить сотрудника {name}? Доступ к боту тоже закроется.").format(name=name)],
        [button(_("🗑 Да, удалить"), ColleagueCb(action="D", id=colleague.id))],
        [button(_("↩️ Не удалять"), ColleagueCb(action="o", id=colleague.id))],
    )


def roles_screen(colleague_id: str) -> Screen:
    rows = [[button(role_name(r), ColleagueCb(action="r", id=colleague_id, arg=r.value))] for r in Role]
    return _screen([_("Новая роль в боте?")], *rows, _cancel_row())


def role_changed_text(member: Person) -> str:
    return _about(member, _("🔑 {name}: теперь {role}. Действует со следующего нажатия."))


def invites_screen(invites: list[Invite], viewer: Role, tz: ZoneInfo, colleague_id: str = "") -> Screen:
    """The roles to make a link for (for `colleague_id`, when it is their card the person came
    from), then the open links, each with its «Отозвать»."""
    lines = [_("✉️ <b>Приглашения</b>"), _("Выберите роль, чтобы сделать одноразовую ссылку на 24 часа."), ""]
    roles = people.roles_to_give(viewer)
    rows = [[button(role_name(r), InviteCb(action="r", arg=r.value, id=colleague_id))] for r in roles]
    lines += [_("Открытые ссылки:")] if invites else []
    for invite in invites:
        until = _("до {time}").format(time=f"{invite.expires_at.astimezone(tz):%d.%m %H:%M}")
        lines.append(f"• {role_name(invite.role)}{f' · {esc(invite.name)}' if invite.name else ''} — {until}")
        label = _("Отозвать: {role}").format(role=role_name(invite.role))
        label += f" · {cut(invite.name, 20)}" if invite.name else ""
        rows.append([button(label, InviteCb(action="v", arg=invite.code))])
    return _screen(lines, *rows)


def invite_text(invite: Invite, bot_username: str) -> str:
    link = f"https://t.me/{bot_username}?start={invite.code}"
    who = f" ({esc(invite.name)})" if invite.name else ""
    return _(
        "✉️ Ссылка для роли «{role}»{who}:\n{link}\n\n"
        "Действует 24 часа и только один раз. Перешлите её человеку."
    ).format(role=role_name(invite.role), who=who, link=esc(link))


def invite_problem_text(problem: InviteProblem, telegram_id: int) -> str:
    tail = _("Попросите владельца магазина новую ссылку. Ваш Telegram ID: <code>{telegram_id}</code>")
    return _(INVITE_PROBLEMS[problem]) + " " + tail.format(telegram_id=telegram_id)


def welcome(member: Person) -> Screen:
    """The newcomer's first screen: who they are now, what they can do, their main actions."""
    hello, role = _about(member, _("Здравствуйте, {name}! Вы в команде: {role}.")), Role(member.role)
    return {"text": f"{hello}\n\n{help_text(role)}", "reply_markup": main_actions(role)}


def joined_text(member: Person) -> str:
    return _about(member, _("✅ {name} подключился(-лась) к боту по вашей ссылке: {role}."))
