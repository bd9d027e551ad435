"""Alembic environment: Vigil passes its own connection in, so no URL is configured here."""

from alembic import context

from vigil.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
