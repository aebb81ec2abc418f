"""Module boundaries of design.md, checked on the imports themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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
        ("services", ("aiogram", "bot", "handlers")),  # services know nothing of Telegram
        ("handlers", ("httpx", "sqlalchemy", "bot.app")),  # handlers: parse, call a service, render
        ("sandbox", ("aiogram", "httpx", "bot", "handlers", "services")),  # a stand-in for the APIs alone
    ],
)
def test_no_forbidden_imports(folder, forbidden):
    offenders = [
        (path, module)
        for path, module in imports(folder)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]
    assert not offenders, offenders
