"""The provincial store: tables (SQLAlchemy Core), migrations (Alembic), the record -> row mapping and the sink."""

from consumers.store.db import connect, migrate
from consumers.store.tables import metadata

__all__ = ["connect", "metadata", "migrate"]
