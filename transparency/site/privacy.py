"""The build's last check: no file of the public site may carry a NIK-shaped number or a NIK token.

The page model holds only codes, names and counts, so this should never fire; it is the net under that design,
run on every generated file before anything is written (vendored libraries are checked for tokens only: a minified
library may carry a 16-digit constant such as 2^53 - 1).
"""

from __future__ import annotations

import re

from schemas.nik import NIK_TOKEN_PREFIX
from transparency.site.exceptions import LeakError

NIK_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9]{16}(?![0-9A-Za-z])")
"""Sixteen digits standing alone: the shape of a NIK (inside a hex or base64 word they are no NIK)."""
TOKEN = re.compile(re.escape(NIK_TOKEN_PREFIX) + r"[A-Za-z0-9_-]{16,}")
"""`nik:` and a run of URL-safe characters: the gatekeeper's token, or a piece of one."""


def check(name: str, text: str, *, vendored: bool = False) -> None:
    """Raise `LeakError` naming the file and the reason if `text` looks like it carries a person's identity."""
    if (m := TOKEN.search(text)) is not None:
        raise LeakError(f"site file {name} contains a NIK token at character {m.start()}; nothing was written")
    if not vendored and (m := NIK_RUN.search(text)) is not None:
        raise LeakError(f"site file {name} contains a 16-digit run (a NIK's shape) at character {m.start()}; "
                        "nothing was written")
