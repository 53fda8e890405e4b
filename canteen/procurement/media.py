"""Who may open procurement's uploads through /media/: a batch's QC report and a supplier's
licence scan within the viewer's scope (the public trace page serves its QC report through
its own public route)."""

from __future__ import annotations

from typing import Any


def may_read_qc_report(user: Any, name: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    from .models import Batch

    return Batch.objects.visible_to(user).filter(qc_report=name).exists()


def may_read_licence(user: Any, name: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    from .models import Licence

    return Licence.objects.visible_to(user).filter(scan=name).exists()


def may_read_coldchain_photo(user: Any, name: str) -> bool:
    """The photo a storekeeper took when accepting a delivery after a cold-chain break."""
    if not getattr(user, "is_authenticated", False):
        return False
    from .models import Delivery

    return Delivery.objects.visible_to(user).filter(coldchain_photo=name).exists()
