"""The root of Simpul's errors: every error we raise on purpose is a `SimpulError` with an actionable message."""


class SimpulError(Exception):
    """Something went wrong that a person can fix; the message says how."""
