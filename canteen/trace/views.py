"""Trace pages: the public page a QR scan opens (no login), and staff pages for labels and recalls."""

from __future__ import annotations

import hashlib
import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from canteen.core.clientip import client_ip
from canteen.core.errors import DomainError
from canteen.core.i18n import tr
from canteen.core.pagination import paginate

from . import epcis, gs1, labels, recalls, selectors, services, sources
from .bodylimit import upload_size_limited
from .choices import RecallStatus
from .models import TraceCode

PUBLIC_RATE_PER_MINUTE = 120
PAGE_CACHE_SECONDS = 60
MAX_QC_BYTES = 20 * 1024 * 1024


def _rate_limited(request: HttpRequest) -> bool:
    """A per-address budget on public lookups: together with 50-bit codes it makes walking the
    code space pointless."""
    addr = client_ip(request)  # X-Forwarded-For only as far as our own proxies wrote it
    key = "trace-rate:" + hashlib.sha256(addr.encode()).hexdigest()[:16]
    cache.add(key, 0, timeout=60)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=60)
        count = 1
    return count > PUBLIC_RATE_PER_MINUTE


def _too_many() -> HttpResponse:
    response = HttpResponse(tr("请求过于频繁，请稍后再试", "Too many requests; try again later"), status=429)
    response["Retry-After"] = "60"
    return response


IMPORT_ROLES = {"district_regulator", "city_regulator"}
SCAN_KEY = "trace-scans"
_last_flush = time.monotonic()


def count_scan(code_id) -> None:
    """Scans are counted in the cache and written to the database by a periodic job: a write
    (and its WAL flush) per page view would cost more than the rest of the page."""
    key = f"{SCAN_KEY}:{code_id}"
    if not cache.add(key, 1, timeout=None):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=None)
    pending = cache.get(SCAN_KEY) or set()
    if code_id not in pending:
        pending.add(code_id)
        cache.set(SCAN_KEY, pending, timeout=None)
    # With the default per-process cache the worker cannot see these counts: each web process
    # flushes its own about once a minute (with a shared cache the periodic job does it too).
    global _last_flush
    now = time.monotonic()
    if now - _last_flush > 60:
        _last_flush = now
        from .tasks import flush_scan_counts

        flush_scan_counts()


def public_page(request: HttpRequest, code: str) -> HttpResponse:
    if _rate_limited(request):
        return _too_many()
    trace_code = selectors.trace_code_by_code(code, with_batch=True)
    if trace_code is None:
        return render(request, "trace/not_found.html", {"code": code[:16]}, status=404)
    count_scan(trace_code.pk)
    # Many parents scan the same day's batches: keep a page's facts for a minute.
    key = f"trace-page:{trace_code.code}:{translation.get_language()}"
    context = cache.get(key)
    if context is None:
        context = selectors.trace_page(code=trace_code)
        cache.set(key, context, timeout=PAGE_CACHE_SECONDS)
    return render(request, "trace/public.html", {"t": context})


def digital_link(request: HttpRequest, gtin: str, lot: str) -> HttpResponse:
    """The GS1 Digital Link resolver: `/01/<GTIN>/10/<lot>[?tc=<trace code>]` (and the older
    `/t/01/...`). One batch: its page; several (the same lot delivered to several campuses) and
    no trace code to tell them apart: a list to choose from."""
    if _rate_limited(request):
        return _too_many()
    normalised = gs1.gtin14(gtin)
    codes = selectors.trace_codes_for_digital_link(gtin=normalised, lot=lot) if normalised else []
    wanted = request.GET.get("tc", "").strip().upper()
    if wanted:
        codes = [c for c in codes if c.code == wanted]
    if not codes:
        return render(request, "trace/not_found.html", {"code": f"{gtin}/{lot}"[:60]}, status=404)
    if len(codes) == 1:
        return redirect("trace:public", code=codes[0].code)
    rows = [{"code": c.code, "campus": str(c.campus), "day": c.created_at.date()} for c in codes]
    return render(request, "trace/lot_choices.html", {"rows": rows, "gtin": gtin, "lot": lot})


def public_qc_report(request: HttpRequest, code: str) -> FileResponse:
    """The QC report shown inline on the public page (PDF or image)."""
    if _rate_limited(request):
        raise Http404
    trace_code = selectors.trace_code_by_code(code)
    if trace_code is None:
        raise Http404
    batch = sources.batch_for_trace(trace_code.batch_id)
    if not batch.qc_report:
        raise Http404
    content_type = batch.qc_report_content_type or (
        "application/pdf" if batch.qc_report.name.lower().endswith(".pdf") else "image/jpeg"
    )
    if content_type not in {"application/pdf", "image/jpeg", "image/png", "image/webp"}:
        raise Http404
    response = FileResponse(batch.qc_report.open("rb"), content_type=content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response


def public_qc_preview(request: HttpRequest, code: str) -> HttpResponse:
    """The QC report as an image, so it shows inline on any phone (most mobile browsers do not
    render a PDF inside a page): the first page of a PDF rendered to PNG, or the image itself."""
    if _rate_limited(request):
        return _too_many()
    trace_code = selectors.trace_code_by_code(code)
    if trace_code is None:
        raise Http404
    batch = sources.batch_for_trace(trace_code.batch_id)
    if not batch.qc_report:
        raise Http404
    key = f"trace-qc-preview:{batch.pk}:{batch.qc_report_sha256 or batch.qc_report.name}"
    png = cache.get(key)
    if png is None:
        with batch.qc_report.open("rb") as handle:
            data = handle.read(MAX_QC_BYTES + 1)
        if len(data) > MAX_QC_BYTES:
            raise Http404
        png = labels.qc_preview_png(data)
        if png is None:
            raise Http404
        cache.set(key, png, timeout=3600)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def public_qr(request: HttpRequest, code: str) -> HttpResponse:
    trace_code = selectors.trace_code_by_code(code)
    if trace_code is None:
        raise Http404
    return HttpResponse(labels.qr_png(services.label_uri(trace_code)), content_type="image/png")


# ---------------------------------------------------------------- staff pages


def _label_rows(request: HttpRequest, codes: list[TraceCode]) -> list[dict]:
    rows = []
    for code in codes:
        batch = code.batch
        shelf = f"{batch.shelf_life_days}天" if batch.shelf_life_days else (str(batch.expires_on or "—"))
        rows.append(
            {
                "url": services.label_uri(code),
                "code": code.code,
                "item": batch.item.name,
                "lot": batch.batch_number,
                "production_date": batch.production_date.isoformat(),
                "shelf_life": shelf,
                "supplier": batch.supplier.name,
            }
        )
    return rows


@login_required
def codes(request: HttpRequest) -> HttpResponse:
    qs = (
        TraceCode.objects.visible_to(request.user)
        .select_related("batch__item", "batch__supplier", "campus__school")
        .order_by("-created_at")
    )
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(batch__item__name__icontains=query) | qs.filter(code=query.upper())
    page = paginate(request, qs, 50)
    return render(
        request, "trace/codes.html", {"codes": page.object_list, "page": page, "q": query, "formats": labels.FORMATS}
    )


@login_required
def label_sheet(request: HttpRequest) -> HttpResponse:
    fmt = request.GET.get("format", "50x30")
    if fmt not in labels.FORMATS:
        raise Http404
    wanted = [c.strip().upper() for c in request.GET.get("codes", "").split(",") if c.strip()][:500]
    codes_ = list(
        TraceCode.objects.visible_to(request.user)
        .filter(code__in=wanted)
        .select_related("batch__item", "batch__supplier")
        .order_by("code")
    )
    if not codes_:
        raise Http404
    pdf = labels.label_pdf(_label_rows(request, codes_), fmt_key=fmt)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="trace-labels-{fmt}.pdf"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def recall(request: HttpRequest, code: str) -> HttpResponse:
    trace_code = get_object_or_404(TraceCode.objects.visible_to(request.user), code=code.upper())
    if request.method == "POST":
        try:
            services.recall_raise(actor=request.user, code=trace_code, reason=request.POST.get("reason", ""))
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
        else:
            messages.success(
                request,
                tr(
                    "已发起召回：库存已封存，已为各校区立案，并通知学校、食堂、区教育局和用餐学生家长",
                    "Recall raised: stock quarantined, a case opened per campus, and the schools, canteens, "
                    "district and guardians of the pupils notified",
                ),
            )
        return redirect("trace:recall", code=trace_code.code)
    affected = selectors.recall_query(actor=request.user, code=trace_code)
    recalls = list(
        selectors.recalls_visible(request.user)
        .filter(district_id=trace_code.district_id, code__gtin=trace_code.gtin, code__lot=trace_code.lot)
        .prefetch_related("campuses__campus__school")
        .order_by("-created_at")
    )
    current = next((r for r in recalls if r.status == RecallStatus.OPEN), recalls[0] if recalls else None)
    pupils = selectors.recall_pupils(actor=request.user, recall=current) if current else []
    return render(
        request,
        "trace/recall.html",
        {"code": trace_code, "affected": affected, "recalls": recalls, "current": current, "pupils": pupils},
    )


@login_required
@require_http_methods(["POST"])
def recall_confirm(request: HttpRequest, pk: str, campus_id: str) -> HttpResponse:
    recall_ = get_object_or_404(selectors.recalls_visible(request.user), pk=pk)
    try:
        recalls.recall_confirm(
            actor=request.user, recall=recall_, campus_id=campus_id, note=request.POST.get("note", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    else:
        messages.success(request, tr("已确认本校区下架封存", "Confirmed for this campus"))
    return redirect("trace:recall", code=recall_.code.code)


@login_required
@require_http_methods(["POST"])
def recall_close(request: HttpRequest, pk: str) -> HttpResponse:
    recall_ = get_object_or_404(selectors.recalls_visible(request.user), pk=pk)
    try:
        recalls.recall_close(actor=request.user, recall=recall_)
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    else:
        messages.success(request, tr("召回已关闭", "Recall closed"))
    return redirect("trace:recall", code=recall_.code.code)


@login_required
@require_http_methods(["GET", "POST"])
@upload_size_limited
def epcis_import(request: HttpRequest) -> HttpResponse:
    """Regulators upload an EPCIS 2.0 JSON-LD file (e.g. a supplier's production events). The
    size is checked before the body is read (upload_size_limited)."""
    if request.user.role not in IMPORT_ROLES and not request.user.is_superuser:
        raise Http404
    result, error, status = None, None, 200
    if request.method == "POST":
        upload = request.FILES.get("document")
        district_id = request.user.district_id
        if upload is None or district_id is None:
            error, status = tr("请选择文件", "Choose a file"), 400
        elif upload.size > epcis.max_document_bytes():
            error, status = tr("文件过大", "The file is too large"), 413
        else:
            try:
                result = services.epcis_import(actor=request.user, raw=upload.read(), district_id=district_id)
            except DomainError as exc:
                error, status = exc.message(request.LANGUAGE_CODE), exc.status
                result = {"details": exc.details}
    return render(request, "trace/epcis_import.html", {"result": result, "error": error}, status=status)
