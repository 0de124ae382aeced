"""Alembic's environment for storage/migrations: always given a connection that is already in
a transaction (`storage.migrations.upgrade`), never a URL or an ini file."""

from __future__ import annotations

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():  # the caller's transaction: nothing begins or commits here
    context.run_migrations()
