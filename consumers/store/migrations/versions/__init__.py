"""Revisions of the provincial store."""
