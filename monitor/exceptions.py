"""Errors of the monitor; each says where to look next."""

from schemas.exceptions import SimpulError


class MonitorError(SimpulError):
    """The monitor could not read what it reports."""

