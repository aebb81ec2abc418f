"""The house's rules, checked on the code itself: imports run one way (entry points → conversation
→ services → clients and storage), every handler declares what it needs, and the conversation
layer's figures (tests/figures.py) stay within their limits."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aiogram import Dispatcher

from handlers import get_routers
from handlers.context import REFUSALS, needs
from services.roles import Permission
from tests import figures

ROOT = Path(__file__).parent.parent


def imports(folder: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / folder).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        # the composition root and entry points: nothing below imports them
        (
            "handlers",
            ("bot", "runtime", "httpx", "sqlalchemy"),
        ),  # conversation: parse, call a service, render
        ("views", ("bot", "handlers", "runtime", "services.storage")),  # data in, text and keyboard out
        ("runtime", ("bot", "handlers")),  # sender, alert centre, jobs: below the conversation's routers
        ("services", ("aiogram", "bot", "handlers", "runtime", "views")),  # the domain knows no Telegram
        ("sandbox", ("aiogram", "httpx", "bot", "handlers", "runtime", "views", "services")),
    ],
)
def test_imports_run_one_way(folder: str, forbidden: tuple[str, ...]) -> None:
    offenders = [
        (path, module)
        for path, module in imports(folder)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]
    assert not offenders, offenders


def handlers_of_the_bot() -> list[tuple[str, str, dict[str, object]]]:
    """(event, handler name, flags) of every message and button handler the bot registers."""
    dp = Dispatcher()
    dp.include_routers(*get_routers())
    found = []
    for router in dp.chain_tail:
        for event in ("message", "callback_query"):
            for handler in router.observers[event].handlers:
                found.append((f"{router.name}.{event}", handler.callback.__qualname__, handler.flags))
    return found


def test_every_handler_declares_what_it_needs() -> None:
    """Nothing is open by accident: a handler says which permissions its role must have
    (`needs(...)`, `needs()` for any member of staff), or that it is for strangers arriving."""
    registered = handlers_of_the_bot()
    assert len(registered) > 50, "the walk over the routers found too little"
    undeclared = [
        (where, name) for where, name, flags in registered if not ("needs" in flags or flags.get("stranger"))
    ]
    assert not undeclared, undeclared


def test_handlers_for_strangers_are_few_and_named() -> None:
    strangers = {name for _, name, flags in handlers_of_the_bot() if flags.get("stranger")}
    assert len(strangers) <= 3, strangers


def test_needs_lists_permissions() -> None:
    assert needs() == {"needs": ()}
    assert needs(Permission.STOCK_VIEW)["refusal"] == REFUSALS[Permission.STOCK_VIEW]


def test_no_handler_is_defined_inside_another_function() -> None:
    nested = []
    for path in (ROOT / "handlers").rglob("*.py"):
        for outer in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(outer):
                if inner is not outer and isinstance(inner, ast.AsyncFunctionDef) and inner.decorator_list:
                    nested.append(f"{path.name}:{inner.lineno} {inner.name}")
    assert not nested, nested


def test_the_conversation_layer_stays_light() -> None:
    """The figures of issue 11 (`make figures` prints them all)."""
    side = figures.TELEGRAM_SIDE
    assert figures.count(figures.GUARD, *side) <= 5
    assert figures.count(figures.SCREEN_CHECK, *side) <= 5
    assert len(figures.long_signatures(*side)) <= 3, figures.long_signatures(*side)
