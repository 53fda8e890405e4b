"""Deployment checks of trace (`manage.py check --deploy`)."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

RESOLVER_DEFAULT = "trace.E001"
SCHEMA_MISSING = "trace.W001"


@register(Tags.security, deploy=True)
def gs1_resolver_is_configured(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every printed label and every exported event names the resolver host: the default
    resolves nowhere, and a label printed with it cannot be recalled from the shelves."""
    resolver = str(getattr(settings, "CANTEEN_GS1_RESOLVER", ""))
    parts = urlsplit(resolver)
    default = getattr(settings, "CANTEEN_GS1_RESOLVER_DEFAULT", "https://canteen.local")
    if resolver.rstrip("/") == default.rstrip("/") or parts.scheme != "https" or not parts.netloc:
        return [
            Error(
                f"CANTEEN_GS1_RESOLVER is {resolver!r}: labels and EPCIS exports would point at a host that "
                "does not resolve",
                hint="Set CANTEEN_GS1_RESOLVER to the district's public trace host, e.g. https://trace.example.gov.cn",
                id=RESOLVER_DEFAULT,
            )
        ]
    return []


@register(deploy=True)
def epcis_schema_is_found(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    from .epcis import official_schema_path

    if official_schema_path() is None:
        return [
            Warning(
                "The official GS1 EPCIS 2.0 JSON schema was not found: imports are validated against the "
                "project's own, stricter subset",
                hint="Set CANTEEN_EPCIS_SCHEMA to EPCIS-JSON-Schema.json (gs1/EPCIS)",
                id=SCHEMA_MISSING,
            )
        ]
    return []
