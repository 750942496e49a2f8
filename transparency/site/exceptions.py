"""The site's errors: a build that would publish something it must not names the file and the reason."""

from __future__ import annotations

from transparency.exceptions import TransparencyError


class SiteError(TransparencyError):
    """Root of the public site's errors (a bad output folder, an unknown language)."""


class LeakError(SiteError):
    """A file of the site would contain a NIK-shaped number or a NIK token; nothing of the build is published."""
