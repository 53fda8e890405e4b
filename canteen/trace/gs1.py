"""GS1 identification keys (General Specifications, release 24) as the trace platform uses them.

Pure functions, no database. The keys:
- GTIN-14 of a trade item; GLN (13 digits) of a party or a location.
- Their EPC URN forms (CBV 2.0 / TDS 2.1): `urn:epc:class:lgtin:<company prefix>.<indicator+item
  ref>.<lot>`, `urn:epc:id:sgln:<company prefix>.<location ref>.<extension>`,
  `urn:epc:id:pgln:<company prefix>.<party ref>`.
- Their GS1 Digital Link forms: `https://<any host>/01/<GTIN>/10/<lot>`, `.../414/<GLN>`.

Numbering where no GS1 number is known: GS1 Prefix 04 is allocated by GS1 "to issue Restricted
Circulation Numbers within a company" (General Specifications §1.4.4): a number that starts 04
can never clash with a GTIN or GLN issued to a member company. The platform numbers a producer's
product, a campus, a district or a supplier that has not registered its own key as
`04` + 10 digits of a SHA-256 of what it names + check digit: stable, never reused for something
else, and recognisable to any GS1 tool as internal. Prefix 02 (restricted circulation within a
geographic region, used for variable-measure items at retail) is not used.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

INTERNAL_PREFIX = "04"
# The split of an internal number into "company prefix" and reference, for the EPC URN forms.
INTERNAL_COMPANY_PREFIX_LENGTH = 7
# GS1 AI (10) batch/lot: up to 20 characters of GS1 AI encodable character set 82.
LOT_RE = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


def check_digit(body: str) -> str:
    """The GS1 mod-10 check digit of a key without its last digit (any length)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def is_valid_key(number: str, length: int) -> bool:
    return bool(number) and len(number) == length and number.isdigit() and check_digit(number[:-1]) == number[-1]


def gtin14(number: str) -> str | None:
    """A GTIN-8/12/13/14 as GTIN-14 (left-padded with zeros), or None if it is not one."""
    if not number or not number.isdigit() or len(number) not in (8, 12, 13, 14):
        return None
    padded = number.zfill(14)
    return padded if is_valid_key(padded, 14) else None


def _digits(seed: str, count: int) -> str:
    value = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:16], "big")
    return str(value % 10**count).zfill(count)


def internal_gtin(seed: str) -> str:
    """A GTIN-14 for a company-internal product number: indicator 0, GS1 Prefix 04."""
    body = "0" + INTERNAL_PREFIX + _digits("gtin|" + seed, 10)
    return body + check_digit(body)


def internal_gln(seed: str) -> str:
    body = INTERNAL_PREFIX + _digits("gln|" + seed, 10)
    return body + check_digit(body)


def safe_lot(lot: str) -> str:
    """GS1 AI (10) allows 20 characters of a restricted set; keep what fits, stable."""
    cleaned = re.sub(r"[^0-9A-Za-z\-_.]", "", lot or "")[:20]
    return cleaned or "LOT"


# ---------------------------------------------------------------- URI forms


def digital_link(base: str, gtin: str, lot: str, *, code: str | None = None) -> str:
    """`<base>/01/<GTIN-14>/10/<lot>`, and `?tc=<trace code>` when the lot alone is ambiguous
    (a non-GS1 query parameter, which Digital Link resolvers pass through)."""
    uri = f"{base.rstrip('/')}/01/{gtin}/10/{quote(lot, safe='')}"
    return f"{uri}?tc={code}" if code else uri


def sgln(gln: str, prefix_length: int = INTERNAL_COMPANY_PREFIX_LENGTH, extension: str = "0") -> str:
    return f"urn:epc:id:sgln:{gln[:prefix_length]}.{gln[prefix_length:12]}.{extension}"


def pgln(gln: str, prefix_length: int = INTERNAL_COMPANY_PREFIX_LENGTH) -> str:
    return f"urn:epc:id:pgln:{gln[:prefix_length]}.{gln[prefix_length:12]}"


def lgtin(gtin: str, lot: str, prefix_length: int = INTERNAL_COMPANY_PREFIX_LENGTH) -> str:
    """The EPC class URN of a lot: indicator digit moves in front of the item reference."""
    return f"urn:epc:class:lgtin:{gtin[1 : 1 + prefix_length]}.{gtin[0]}{gtin[1 + prefix_length : 13]}.{quote(lot, safe='')}"


@dataclass(frozen=True)
class Key:
    """What an identifier URI names: `kind` is "lot" (GTIN + lot), "gtin", "gln" or "other"."""

    kind: str
    gtin: str = ""
    lot: str = ""
    gln: str = ""
    code: str = ""


_URN_LGTIN = re.compile(r"^urn:epc:class:lgtin:(\d{6,12})\.(\d{1,7})\.(.+)$")
_URN_SGTIN = re.compile(r"^urn:epc:id:sgtin:(\d{6,12})\.(\d{1,7})\.(.+)$")
_URN_IDPAT_SGTIN = re.compile(r"^urn:epc:idpat:sgtin:(\d{6,12})\.(\d{1,7})\.\*$")
_URN_GLN = re.compile(r"^urn:epc:id:(sgln|pgln):(\d{6,12})\.(\d{0,6})(?:\.(.*))?$")


def _gtin_from_urn(prefix: str, item: str) -> str | None:
    if len(prefix) + len(item) != 13:
        return None
    body = item[0] + prefix + item[1:]
    return body + check_digit(body)


def parse(uri: str) -> Key:
    """Read an identifier in either form. Unknown or malformed ones are `Key("other")`."""
    if not isinstance(uri, str):
        return Key("other")
    if m := _URN_LGTIN.match(uri):
        gtin = _gtin_from_urn(m.group(1), m.group(2))
        return Key("lot", gtin=gtin, lot=unquote(m.group(3))) if gtin else Key("other")
    if m := (_URN_SGTIN.match(uri) or _URN_IDPAT_SGTIN.match(uri)):
        gtin = _gtin_from_urn(m.group(1), m.group(2))
        return Key("gtin", gtin=gtin) if gtin else Key("other")
    if m := _URN_GLN.match(uri):
        if len(m.group(2)) + len(m.group(3)) != 12:
            return Key("other")
        body = m.group(2) + m.group(3)
        return Key("gln", gln=body + check_digit(body))
    if uri.startswith(("https://", "http://")):
        parts = urlsplit(uri)
        segments = [unquote(s) for s in parts.path.split("/")]
        query = dict(p.partition("=")[::2] for p in parts.query.split("&") if p)
        # A Digital Link path may sit under a path prefix (`/t/01/...`): take the last 01/414.
        for i in range(len(segments) - 1, -1, -1):
            if segments[i] == "01" and i + 1 < len(segments):
                gtin = gtin14(segments[i + 1])
                if gtin is None:
                    return Key("other")
                rest = segments[i + 2 :]
                if len(rest) >= 2 and rest[0] == "10" and rest[1]:
                    return Key("lot", gtin=gtin, lot=rest[1], code=query.get("tc", ""))
                return Key("gtin", gtin=gtin)
            if segments[i] == "414" and i + 1 < len(segments):
                gln = segments[i + 1]
                return Key("gln", gln=gln) if is_valid_key(gln, 13) else Key("other")
    return Key("other")
