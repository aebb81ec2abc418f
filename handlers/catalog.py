"""The catalogue and customers at the counter: /catalog finds bouquets (showcase and made to
order) with their prices and composition; /customer finds a customer by phone or name and opens
their orders as the orders feature's cards."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.errors import explain
from handlers.feature import Feature
from handlers.forms import typed
from services.catalog import CatalogService, clean_query, may_see_phones, parse_customer_query, too_short
from services.errors import ApiError, ApiNotFound
from services.roles import Permission
from views import catalog as view
from views.callbacks import CatalogCb, CustomerCb, MenuCb
from views.i18n import N_
from views.render import esc

P = Permission
feature = Feature("catalog")
get_router = feature.router
customers = Feature("customers")
get_customer_router = customers.router


class CatalogFlow(StatesGroup):
    query = State()  # waiting for what to search


def search_text(text: str | None) -> str:
    """What to search for; fewer than two letters or digits would match half the catalogue."""
    query = clean_query(text)
    if too_short(query):
        raise ValueError(query)
    return query


async def show_results(
    ctx: Ctx, query: str, catalog: CatalogService, state: FSMContext, page: int = 0
) -> None:
    """A page of what `query` finds: a new message for a typed query, in place for a page turn."""
    try:
        products = await catalog.search(query)
    except ApiError as error:
        await ctx.failed(error)
        return
    await state.update_data(catalog_query=query)
    await ctx.show(**view.catalog_page(products, query, page))


@feature.message(Command("catalog"), flags=needs(P.CATALOG_VIEW))
@feature.callback_query(MenuCb.filter(F.open == "catalog"), flags=needs(P.CATALOG_VIEW))
async def catalog_command(
    event: Message | CallbackQuery,
    ctx: Ctx,
    state: FSMContext,
    catalog: CatalogService,
    command: CommandObject | None = None,
) -> None:
    typed_now = clean_query(command.args if command else None)
    if too_short(typed_now):
        await state.set_state(CatalogFlow.query)
        await ctx.send(view.ask_query(typed=bool(typed_now)))
        return
    # Only this feature's own step: a half-entered delivery elsewhere stays as it was.
    if await state.get_state() == CatalogFlow.query.state:
        await state.set_state(None)
    await show_results(ctx, typed_now, catalog, state)


@typed(
    feature,
    CatalogFlow.query,
    read=search_text,
    problem=lambda error: view.ask_query(typed=True),
    need=(P.CATALOG_VIEW,),
    waiting=N_("Сейчас я жду, что искать в каталоге."),
)
async def query_typed(
    message: Message, value: str, ctx: Ctx, state: FSMContext, catalog: CatalogService
) -> None:
    await state.set_state(None)
    await show_results(ctx, value, catalog, state)


@feature.message(CatalogFlow.query, flags=needs(P.CATALOG_VIEW))
async def query_hint(message: Message, ctx: Ctx) -> None:
    await ctx.send(_("Напишите название букета текстом, например «пионы». /cancel — не искать."))


@feature.callback_query(CatalogCb.filter(F.action == "p"), flags=needs(P.CATALOG_VIEW))
async def catalog_more(
    query: CallbackQuery, callback_data: CatalogCb, ctx: Ctx, catalog: CatalogService, state: FSMContext
) -> None:
    text = str((await state.get_data()).get("catalog_query") or "")
    if too_short(text):
        await ctx.toast(_("Этот поиск устарел. Напишите /catalog и название ещё раз."), alert=True)
        return
    await ctx.toast()  # at once: the search reads the whole catalogue
    await show_results(ctx, text, catalog, state, callback_data.page)


@feature.callback_query(CatalogCb.filter(F.action == "o"), flags=needs(P.CATALOG_VIEW))
async def product_opened(
    query: CallbackQuery, callback_data: CatalogCb, ctx: Ctx, catalog: CatalogService
) -> None:
    await ctx.toast()
    try:
        product = await catalog.product(callback_data.id)
    except ApiNotFound:
        await ctx.send(_("Этого букета больше нет в каталоге."))
        return
    except ApiError as error:
        await ctx.failed(error)
        return
    await ctx.send(**view.product_card(product))


# Refused in the feature's own words («customers», not «the catalogue» of the shared refusal).
NEEDS_CUSTOMERS = needs(P.CATALOG_VIEW, refusal=N_("Поиск клиентов вам недоступен."))


async def _unavailable(ctx: Ctx, error: ApiError) -> None:
    await ctx.send(_("Не удалось загрузить клиентов.") + " " + esc(explain(error)))


@customers.message(Command("customer"), flags=NEEDS_CUSTOMERS)
async def customer_command(
    message: Message, command: CommandObject, ctx: Ctx, catalog: CatalogService
) -> None:
    lookup = parse_customer_query(command.args)
    problem = view.lookup_problem(lookup)
    if problem:
        await ctx.send(problem)
        return
    try:
        found = await catalog.find_customers(lookup)
        history = await catalog.orders_of(found[0].id) if len(found) == 1 else []
    except ApiError as error:
        await _unavailable(ctx, error)
        return
    if len(found) == 1:
        await ctx.send(**view.customer_card(found[0], history, 0, ctx.role, ctx.tz, ctx.today()))
    else:
        await ctx.send(**view.customers_found(found, lookup.text, may_see_phones(ctx.role)))


@customers.callback_query(CustomerCb.filter(F.action.in_({"o", "p"})), flags=NEEDS_CUSTOMERS)
async def customer_opened(
    query: CallbackQuery, callback_data: CustomerCb, ctx: Ctx, catalog: CatalogService
) -> None:
    await ctx.toast()
    try:
        customer, history = await catalog.customer_with_orders(callback_data.id)
    except ApiError as error:
        await _unavailable(ctx, error)
        return
    if customer is None:
        await ctx.send(_("Этого клиента больше нет в списке."))
        return
    card = view.customer_card(customer, history, callback_data.page, ctx.role, ctx.tz, ctx.today())
    # o: from a list of matches, the card is a message of its own; p: a page of its orders, in place
    await (ctx.send(**card) if callback_data.action == "o" else ctx.show(**card))
