"""The NIK (Nomor Induk Kependudukan) in one place: what a raw NIK and a token look like, which of the two each
side of the gatekeeper accepts, how tokens are minted, and how views mask a NIK.

Two validation contexts, never a loose "either":
- `NikContext.INGRESS` (what a regency sends): a NIK field holds a raw 16-digit NIK or null. A token-shaped value
  is refused, so a regency can neither pass a raw NIK off as a token (`nik:3374015502900001`) nor choose its own
  tokens to dodge the cross-regency matching.
- `NikContext.CANONICAL` (everything past the gatekeeper): a NIK field holds a token the gatekeeper minted, or
  null; a raw NIK is refused.
Only the gatekeeper mints tokens (`tokenise_nik`, keyed with the installation's `nik_hmac_key`); the simulator
predicts them with the same function.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from schemas.catalog import nik_fields

if TYPE_CHECKING:
    from schemas.models import Event

NIK_PATTERN = re.compile(r"[0-9]{16}")
NIK_TOKEN_PREFIX = "nik:"
TOKEN_LENGTH = 43
"""URL-safe characters after the prefix: base64url of an HMAC-SHA256 (32 bytes) without padding."""
NIK_TOKEN_PATTERN = re.compile(NIK_TOKEN_PREFIX + r"[A-Za-z0-9_-]{%d}" % TOKEN_LENGTH)
MASK = "*"
KEPT_DIGITS = 4
_LONG_DIGIT_RUN = re.compile(r"[0-9]{16,}")
_MASKED = re.compile(r"[0-9]{4}\*{12}")


class NikContext(StrEnum):
    """Which side of the gatekeeper a NIK field is validated for (see the module's docstring)."""

    INGRESS = "ingress"
    CANONICAL = "canonical"


CONTEXT_KEY = "simpul.nik"
"""The key of pydantic's validation context that names the `NikContext` (absent: ingress)."""


def validation_context(context: NikContext) -> dict[str, NikContext]:
    """The pydantic validation context for `context` (`Model.model_validate(data, context=...)`)."""
    return {CONTEXT_KEY: context}


def context_of(context: Mapping[str, Any] | None) -> NikContext:
    """The NIK context named by a pydantic validation context; none named means ingress, the contract as a
    regency writes it (a reader of canonical data that forgets to say so refuses every token, loudly)."""
    if not context:
        return NikContext.INGRESS
    return NikContext(context.get(CONTEXT_KEY, NikContext.INGRESS))


def is_raw_nik(value: str) -> bool:
    """True for a clear 16-digit NIK (allowed on ingress topics only)."""
    return NIK_PATTERN.fullmatch(value) is not None


def is_nik_token(value: str) -> bool:
    """True for a gatekeeper token: `nik:` followed by 43 URL-safe characters (base64url of an HMAC-SHA256)."""
    return NIK_TOKEN_PATTERN.fullmatch(value) is not None


def check_nik(value: str, context: NikContext) -> str:
    """`value` if a NIK field may hold it in `context`; else a ValueError that never repeats the value."""
    if context is NikContext.CANONICAL:
        if is_nik_token(value):
            return value
        raise ValueError(f"must be a gatekeeper token '{NIK_TOKEN_PREFIX}<{TOKEN_LENGTH} URL-safe characters>' "
                         "past ingress; a raw NIK or any other value never leaves the gatekeeper")
    if is_raw_nik(value):
        return value
    raise ValueError("must be a 16-digit NIK or null; tokens are minted by the gatekeeper, never sent by a regency")


def tokenise_nik(key: bytes, nik: str) -> str:
    """`nik:` + base64url(HMAC-SHA256(key, nik)) without padding: 47 characters, stable for one key.

    `key` is the installation's `nik_hmac_key` (there is no default: with a known key a token is reversed by
    enumerating the about 10^10 NIKs of a regency)."""
    if not key:
        raise ValueError("tokenise_nik needs the installation's NIK HMAC key; it has no default")
    keyed = _KEYED.get(key)
    if keyed is None:
        if len(_KEYED) >= 4:  # one key per installation; a few for tests that mint with several
            _KEYED.clear()
        keyed = _KEYED[key] = hmac.new(key, digestmod=hashlib.sha256)
    mac = keyed.copy()  # the key's padded states computed once: a copy costs 1.0 µs a NIK, a new HMAC 1.7 µs
    mac.update(nik.encode("utf-8"))
    return NIK_TOKEN_PREFIX + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


_KEYED: dict[bytes, hmac.HMAC] = {}


def tokenised_fields(event_type: str, datum: Mapping[str, Any], key: bytes) -> dict[str, str]:
    """Token of every non-null NIK field of an ingress datum of `event_type` (already validated: raw NIKs)."""
    return {name: tokenise_nik(key, datum[name]) for name in nik_fields(event_type) if datum.get(name) is not None}


def tokenise_event(event: Event, key: bytes) -> Event:
    """The canonical form of a validated ingress event: every NIK field replaced by its token."""
    updates = {name: tokenise_nik(key, value) for name in nik_fields(type(event).event_type)
               if (value := getattr(event, name)) is not None}
    return event.model_copy(update=updates) if updates else event


def mask_nik(value: str) -> str:
    """A NIK field as views show it.

    A raw NIK keeps its first 4 digits: the province and regency/city code, which the record's ingress topic
    names anyway and which tells an operator whose citizen it is. The 12 digits that single out a person
    (district, date of birth and sex, serial number) become `*`. Anything else found in a NIK field (a
    token-shaped value, garbage) shows only its shape: every letter and digit becomes `*`, a `nik:` prefix stays.
    """
    if is_raw_nik(value):
        return value[:KEPT_DIGITS] + MASK * (len(value) - KEPT_DIGITS)
    if is_masked_nik(value):
        return value
    prefix = NIK_TOKEN_PREFIX if value.startswith(NIK_TOKEN_PREFIX) else ""
    return prefix + re.sub(r"[A-Za-z0-9]", MASK, value[len(prefix):])


def is_masked_nik(value: str) -> bool:
    """True for a NIK as `mask_nik` shows it (masking it again changes nothing)."""
    return _MASKED.fullmatch(value) is not None


def redact_niks(text: str) -> str:
    """`text` with every run of 16 or more digits masked like a NIK (first 4 kept): for messages and keys that
    might repeat what a sender wrote, such as a NIK put in a field where no NIK belongs."""
    if len(text) < 16:
        return text
    return _LONG_DIGIT_RUN.sub(lambda m: m.group()[:KEPT_DIGITS] + MASK * (len(m.group()) - KEPT_DIGITS), text)


def redact_value(value: Any) -> Any:
    """A JSON-like value with `redact_niks` applied to every string (and integer of 16+ digits) inside."""
    if isinstance(value, str):
        return redact_niks(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return redact_niks(str(value)) if abs(value) >= 10**15 else value
    if isinstance(value, dict):
        return {redact_niks(str(k)): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value
