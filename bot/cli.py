"""The `cvety-bot` command. Imports stay lazy: `staff …` and `--help` never load aiogram."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from bot.logs import setup_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cvety-bot", description="Telegram bot for the staff of a cvety.kz flower shop."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run", help="run the bot: long polling, or a webhook server when WEBHOOK_URL is set"
    )
    run.add_argument("--host", default="0.0.0.0", help="webhook mode: address to listen on")
    run.add_argument(
        "--port", type=int, default=8080, help="webhook mode: port to listen on (behind a reverse proxy)"
    )
    commands.add_parser(
        "check", help="validate settings; reach Telegram, both APIs, the database (migrations) and Redis"
    )

    sandbox = commands.add_parser("sandbox", help="serve the demo cvety.kz and CRM APIs alone")
    sandbox.add_argument("--port", type=int, default=8081)
    sandbox.add_argument("--host", default="127.0.0.1")

    staff = commands.add_parser("staff", help="manage the people the bot knows")
    staff_commands = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    add = staff_commands.add_parser("add", help="add or update a person")
    add.add_argument("--telegram-id", type=int, required=True)
    add.add_argument("--role", required=True, help="owner, senior, florist, assistant or courier")
    add.add_argument("--name", required=True)
    add.add_argument("--language", choices=("ru", "kk", "en"))
    staff_commands.add_parser("list", help="list everyone")
    remove = staff_commands.add_parser("remove", help="remove a person")
    remove.add_argument("telegram_id", type=int)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        from sandbox import main_serve

        setup_logging("INFO")
        main_serve(args.port, args.host)
        return 0

    from bot.config import SettingsError, load_settings

    try:
        settings = load_settings()
        if args.command == "run":
            settings.require_bot()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"cvety-bot: {problem}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.secrets())

    if args.command == "staff":
        return asyncio.run(_staff(args, settings.database_url))
    if args.command == "check":
        from bot.check import run_checks

        results = asyncio.run(run_checks(settings))
        print(*(result.line() for result in results), sep="\n")
        return 0 if all(r.ok for r in results) else 1
    if settings.webhook_url:  # run
        from bot.webhook import run_webhook

        serving = run_webhook(settings, host=args.host, port=args.port)
    else:
        from bot.app import run_polling

        serving = run_polling(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serving)
    return 0


async def _staff(args: argparse.Namespace, database_url: str) -> int:
    from services.staff import StaffService
    from services.storage.db import create_engine, make_sessionmaker, migrate
    from services.storage.repositories import AuditLog, StaffRepository

    engine = create_engine(database_url)
    try:
        await migrate(engine)
        sessions = make_sessionmaker(engine)
        service = StaffService(StaffRepository(sessions), AuditLog(sessions))
        if args.staff_command == "add":
            try:
                member = await service.add(
                    args.telegram_id, role=args.role, name=args.name, language=args.language
                )
            except ValueError as exc:
                print(f"cvety-bot: {exc}", file=sys.stderr)
                return 2
            print(f"saved: {member.telegram_id} {member.role} {member.name}")
        elif args.staff_command == "list":
            members = await service.list_all()
            if not members:
                print("no staff yet: cvety-bot staff add --telegram-id N --role owner --name NAME")
            for m in members:
                state = "active" if m.active else "inactive"
                print(f"{m.telegram_id:>12}  {m.role:<9}  {m.language}  {state:<8}  {m.name}")
        elif args.staff_command == "remove":
            removed = await service.remove(args.telegram_id)
            if removed is None:
                print(f"cvety-bot: no staff member with Telegram id {args.telegram_id}", file=sys.stderr)
                return 1
            print(f"removed: {removed.telegram_id} {removed.name}")
        return 0
    finally:
        await engine.dispose()


def console() -> None:
    """Console-script entry point: exit with main()'s code."""
    sys.exit(main())
