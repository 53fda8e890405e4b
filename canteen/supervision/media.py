"""Who may open a case's evidence file: whoever may see the case (its district's regulators,
the city's, the school's staff), nobody else, however they came by the link."""

from __future__ import annotations

from typing import Any


def may_read_evidence(user: Any, name: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    from .models import CaseEvidence

    return CaseEvidence.objects.visible_to(user).filter(file=name).exists()
