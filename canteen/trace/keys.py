"""The GS1 keys of what trace names: registered ones (Gs1Key) first, internal numbers otherwise.

Reads are memoised per `KeyBook` (one export, one import), so a document of a thousand events
asks the database once per party."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import transaction

from canteen.core.audit import audit_record
from canteen.core.errors import Forbidden, ValidationFailed

from . import gs1
from .models import Gs1Key

REGISTER_ROLES = frozenset({"district_regulator", "city_regulator"})
SUBJECT_KINDS = ("district", "campus", "supplier", "producer", "product")


def resolver_base() -> str:
    """The base of the GS1 Digital Link URIs of our batches (`<base>/01/<gtin>/10/<lot>`)."""
    return str(getattr(settings, "CANTEEN_GS1_RESOLVER", "https://canteen.local")).rstrip("/")


def producer_subject(name: str) -> str:
    """Producers are known by name on the batch; the subject is a digest of the normalised name."""
    normalised = "".join((name or "").split()).lower()
    return "producer:" + hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:24]


def product_subject(item_id: Any, producer: str) -> str:
    return f"product:{item_id}:{producer_subject(producer).split(':', 1)[1]}"


class KeyBook:
    """GLNs and GTINs of one district, registered or internal."""

    def __init__(self, district_id: Any) -> None:
        self.district_id = district_id
        self._cache: dict[tuple[str, str], tuple[str, int]] = {}

    def _key(self, kind: str, subject: str) -> tuple[str, int]:
        found = self._cache.get((kind, subject))
        if found is None:
            row = (
                Gs1Key.objects.filter(district_id=self.district_id, kind=kind, subject=subject)
                .values_list("number", "company_prefix_length")
                .first()
            )
            if row is None:
                number = gs1.internal_gtin(subject) if kind == Gs1Key.KIND_GTIN else gs1.internal_gln(subject)
                row = (number, gs1.INTERNAL_COMPANY_PREFIX_LENGTH)
            found = self._cache[(kind, subject)] = (row[0], row[1])
        return found

    def gln(self, subject: str) -> str:
        return self._key(Gs1Key.KIND_GLN, subject)[0]

    def site(self, subject: str) -> str:
        """The SGLN URN of a site (read point, business location)."""
        number, prefix_length = self._key(Gs1Key.KIND_GLN, subject)
        return gs1.sgln(number, prefix_length)

    def party(self, subject: str) -> str:
        number, prefix_length = self._key(Gs1Key.KIND_GLN, subject)
        return gs1.pgln(number, prefix_length)

    def campus_site(self, campus_id: Any) -> str:
        return self.site(f"campus:{campus_id}")

    def supplier_site(self, supplier_id: Any) -> str:
        return self.site(f"supplier:{supplier_id}")

    def supplier_party(self, supplier_id: Any) -> str:
        return self.party(f"supplier:{supplier_id}")

    def district_party(self) -> str:
        return self.party(f"district:{self.district_id}")

    def producer_party(self, producer: str) -> str:
        return self.party(producer_subject(producer))

    def product_gtin(self, item_id: Any, producer: str) -> str:
        """The producer's GTIN of this catalogue item when registered, else an internal one per
        (item, producer): two producers' lots of one item never share a class."""
        return self._key(Gs1Key.KIND_GTIN, product_subject(item_id, producer))[0]


@transaction.atomic
def gs1_key_register(
    *, actor: Any, district_id: Any, kind: str, subject: str, number: str, company_prefix_length: int = 7
) -> Gs1Key:
    """Record the GS1 key a party holds (a supplier's GLN, a producer's GTIN). Later trace codes
    and exports use it; what was already exported keeps the number it had."""
    if not (getattr(actor, "is_superuser", False) or getattr(actor, "role", "") in REGISTER_ROLES):
        raise Forbidden()
    length = 14 if kind == Gs1Key.KIND_GTIN else 13
    number = gs1.gtin14(number) if kind == Gs1Key.KIND_GTIN else number
    if kind not in (Gs1Key.KIND_GLN, Gs1Key.KIND_GTIN) or not number or not gs1.is_valid_key(number, length):
        raise ValidationFailed(
            "GS1 编码无效（校验位错误）", "Not a valid GS1 key (check digit)", details={"number": number}
        )
    if subject.split(":", 1)[0] not in SUBJECT_KINDS or not 6 <= company_prefix_length <= 12:
        raise ValidationFailed(details={"subject": subject, "company_prefix_length": company_prefix_length})
    key, _created = Gs1Key.objects.update_or_create(
        district_id=district_id,
        kind=kind,
        subject=subject[:200],
        defaults={"number": number, "company_prefix_length": company_prefix_length, "registered_by": actor},
    )
    audit_record(
        actor=actor,
        action="trace.gs1_key_registered",
        target=key,
        after={"kind": kind, "subject": subject, "number": number},
        district_id=district_id,
    )
    return key
