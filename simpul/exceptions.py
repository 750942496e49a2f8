"""The root of Simpul's errors, defined in the bottom layer (`schemas`) so that every package derives from it."""

from schemas.exceptions import SimpulError

__all__ = ["SimpulError"]
