"""Pages: the inbox, one's notification settings, the dead-letter list (staff), channel status."""

from __future__ import annotations

from datetime import time

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError
from canteen.core.i18n import tr
from canteen.org.choices import Role

from . import selectors, services
from .channels import CHANNELS, channel_status
from .choices import Channel, Kind
from .models import Preference
from .recipients import of_user

STAFF = {Role.CITY_REGULATOR, Role.DISTRICT_REGULATOR, Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER}


def _staff(request: HttpRequest) -> None:
    if not (request.user.is_superuser or request.user.role in STAFF):
        raise PermissionDenied


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.inbox(actor=request.user), 30).get_page(request.GET.get("page"))
    return render(request, "notify/inbox.html", {"page": page})


@login_required
@require_POST
def inbox_read(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
    services.message_read(actor=request.user, message_ids=ids or None)
    return redirect("notify:inbox")


def _time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        return None


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    key = of_user(request.user).key
    pref = Preference.objects.filter(recipient_key=key).first()
    kinds = [(k, label) for k, label in Kind.choices]
    if request.method == "POST":
        channels = {k: [c for c in request.POST.getlist(f"ch-{k}") if c in CHANNELS] for k, _l in kinds}
        try:
            services.preference_set(
                actor=request.user,
                channels=channels,
                quiet_start=_time(request.POST.get("quiet_start", "")),
                quiet_end=_time(request.POST.get("quiet_end", "")),
                meal_charged=request.POST.get("meal_charged") == "on",
            )
        except DomainError as exc:
            flash.error(request, str(exc))
        else:
            flash.success(request, tr("已保存", "Saved"))
            return redirect("notify:preferences")
    from .templates_text import TEMPLATES

    rows = []
    recipient = of_user(request.user)
    for k, label in kinds:
        default = TEMPLATES[k].guardian_channels if recipient.is_guardian else TEMPLATES[k].staff_channels
        chosen = (pref.channels or {}).get(k, list(default)) if pref else list(default)
        rows.append({"kind": k, "label": label, "chosen": chosen})
    outside = [(c, Channel(c).label) for c in CHANNELS if c != Channel.WECOM]
    return render(request, "notify/preferences.html", {"pref": pref, "rows": rows, "channels": outside})


@login_required
def dead_letters(request: HttpRequest) -> HttpResponse:
    _staff(request)
    page = Paginator(selectors.dead_letters(actor=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "notify/dead_letters.html", {"page": page})


@login_required
@require_POST
def dead_letters_retry(request: HttpRequest) -> HttpResponse:
    _staff(request)
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
    n = services.delivery_retry(actor=request.user, deliveries=ids)
    flash.success(request, tr(f"已重新发送 {n} 条", f"{n} queued again"))
    return redirect("notify:dead-letters")


@login_required
def status(request: HttpRequest) -> HttpResponse:
    _staff(request)
    return render(
        request,
        "notify/status.html",
        {"channels": channel_status(), "counts": selectors.delivery_counts(actor=request.user)},
    )


@csrf_exempt
def wechat_callback(request: HttpRequest) -> HttpResponse:
    """The Official Account's server URL: WeChat checks it (GET with echostr) and pushes each
    template message's outcome (TEMPLATESENDJOBFINISH: success, failed:user block, failed:
    system failed), the delivery receipt. Both are signed: sha1 of the sorted token, timestamp
    and nonce (the account's "Token" setting, CANTEEN_NOTIFY_WECHAT_TOKEN)."""
    import hashlib
    import hmac
    import xml.etree.ElementTree as ET

    from django.conf import settings

    token = getattr(settings, "CANTEEN_NOTIFY_WECHAT_TOKEN", "")
    parts = sorted([token, request.GET.get("timestamp", ""), request.GET.get("nonce", "")])
    expected = hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 (WeChat's documented check)
    if not token or not hmac.compare_digest(expected, request.GET.get("signature", "")):
        return HttpResponse(status=403)
    if request.method == "GET":
        return HttpResponse(request.GET.get("echostr", ""), content_type="text/plain")
    if len(request.body) > 64 * 1024:
        return HttpResponse(status=413)
    try:
        # Expat 2.4.1+ (Python 3.11's) refuses entity-expansion bombs; no DTD is expected here.
        root = ET.fromstring(request.body)  # noqa: S314
    except ET.ParseError:
        return HttpResponse(status=400)
    if (root.findtext("Event") or "").upper() == "TEMPLATESENDJOBFINISH":
        msgid = root.findtext("MsgID") or root.findtext("MsgId") or ""
        status = root.findtext("Status") or ""
        services.delivery_receipt_record(channel=Channel.WECHAT, provider_ref=msgid, delivered=status == "success")
    return HttpResponse("success", content_type="text/plain")
