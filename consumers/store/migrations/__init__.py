"""Alembic environment of the provincial store (script_location = this folder)."""
