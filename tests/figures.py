"""The conversation layer's figures (issue 11): how big the Telegram side is, and how much of it
is hand-repeated. `make figures` prints them; tests/test_architecture.py holds the limits."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The Telegram side: everything but the domain (services/), the stand-in APIs, tests and benches.
TELEGRAM_SIDE = ("bot", "handlers", "runtime", "views")
GUARD = re.compile(r"if not (can|may_)")
SCREEN_CHECK = "isinstance(query.message, Message)"
MAX_PARAMETERS = 6


def sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def lines(*folders: str) -> int:
    return sum(len(path.read_text(encoding="utf-8").splitlines()) for path in sources(*folders))


def count(pattern: re.Pattern[str] | str, *folders: str) -> int:
    found = 0
    for path in sources(*folders):
        text = path.read_text(encoding="utf-8")
        found += len(pattern.findall(text)) if isinstance(pattern, re.Pattern) else text.count(pattern)
    return found


def long_signatures(*folders: str) -> list[str]:
    """Functions taking more than MAX_PARAMETERS parameters (`self` and `cls` not counted)."""
    found = []
    for path in sources(*folders):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            args = node.args
            names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
            names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
            taken = [n for n in names if n not in ("self", "cls")]
            if len(taken) > MAX_PARAMETERS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({len(taken)})")
    return found


def repeated_blocks(folder: str = "handlers", min_lines: int = 6) -> int:
    """Places that repeat `min_lines` or more lines, by pylint's duplicate-code check."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pylint",
            "--disable=all",
            "--enable=duplicate-code",
            f"--min-similarity-lines={min_lines}",
            *map(str, sources(folder)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return run.stdout.count("R0801")


def main() -> None:
    print(f"Telegram side ({', '.join(TELEGRAM_SIDE)}): {lines(*TELEGRAM_SIDE)} lines")
    print(f"services/ (without migrations): {lines('services') - lines('services/storage/migrations')} lines")
    print(f"hand-written permission guards: {count(GUARD, *TELEGRAM_SIDE)}")
    print(f"`{SCREEN_CHECK}` checks: {count(SCREEN_CHECK, *TELEGRAM_SIDE)}")
    long = long_signatures(*TELEGRAM_SIDE)
    print(f"functions with more than {MAX_PARAMETERS} parameters: {len(long)}")
    for where in long:
        print(f"  {where}")
    print(f"repeated blocks of 6+ lines in handlers/ (pylint duplicate-code): {repeated_blocks()}")


if __name__ == "__main__":
    main()
