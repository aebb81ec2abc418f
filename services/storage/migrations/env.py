"""Alembic environment: runs on the connection the application hands over (see db.migrate)."""

from __future__ import annotations

from alembic import context

from services.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the bot always passes its own connection
    raise RuntimeError("run migrations through services.storage.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
