"""Kitchen pages. The web process only reads: health rows, the recordings index, and the files
the stream supervisor wrote (served here after a scope check, never from a public folder)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError
from canteen.core.i18n import tr
from canteen.core.pagination import paginate
from canteen.core.params import int_param
from canteen.org.models import Campus, School

from . import selectors, services
from .choices import AlarmKind, AlarmStatus, Area
from .streaming.config import kitchen_dir

LIVE_NAME = re.compile(r"^(index\.m3u8|seg_\d+\.ts)$")
REC_NAME = re.compile(r"^\d{8}T\d{6}Z\.ts$")
WALL_PAGE = 16  # players per page: a district wall has hundreds of cameras


def _file(path, content_type: str, *, cache: str) -> FileResponse:
    try:
        response = FileResponse(path.open("rb"), content_type=content_type)
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise Http404 from exc
    response["Cache-Control"] = cache
    return response


@login_required
def live_wall(request):
    params = {k: request.GET.get(k, "") for k in ("school", "campus", "area", "status")}
    views = selectors.cameras_visible(
        actor=request.user,
        school_id=params["school"] or None,
        campus_id=params["campus"] or None,
        area=params["area"] or None,
        status=params["status"] or None,
    )
    page = Paginator(views, WALL_PAGE).get_page(request.GET.get("page"))
    online = sum(1 for v in views if v.status == "online")
    return render(
        request,
        "kitchen/live_wall.html",
        {
            "page": page,
            "params": params,
            "areas": Area.choices,
            "schools": School.objects.visible_to(request.user).order_by("code"),
            "campuses": Campus.objects.visible_to(request.user).select_related("school").order_by("code"),
            "total": len(views),
            "online": online,
            "query": "&".join(f"{k}={v}" for k, v in params.items() if v),
        },
    )


@login_required
def live_file(request, camera_id, name: str):
    if not LIVE_NAME.match(name):
        raise Http404
    camera = _camera_or_404(request, camera_id)
    path = kitchen_dir() / "streams" / str(camera.id) / "live" / name
    if name.endswith(".m3u8"):
        return _file(path, "application/vnd.apple.mpegurl", cache="no-cache")
    return _file(path, "video/mp2t", cache="private, max-age=60")


def _camera_or_404(request, camera_id):
    try:
        return selectors.camera_get(actor=request.user, camera_id=camera_id)
    except DomainError as exc:
        raise Http404 from exc


@login_required
def playback(request, camera_id):
    camera = _camera_or_404(request, camera_id)
    now = timezone.localtime()
    at = parse_datetime(request.GET.get("at", "")) or (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    minutes = int_param(request.GET, "minutes", default=30, minimum=1, maximum=240)
    segments = list(selectors.segments_between(camera=camera, start=at, end=at + timedelta(minutes=minutes)))
    query = urlencode({"at": at.isoformat(), "minutes": minutes})  # "+08:00" must not become a space
    playlist = reverse("kitchen:recordings-playlist", args=[camera.id]) + "?" + query
    return render(
        request,
        "kitchen/playback.html",
        {
            "camera": camera,
            "at": timezone.localtime(at),
            "minutes": minutes,
            "segments": segments,
            "playlist": playlist,
            "days": selectors.recording_days(camera=camera)[:14],
        },
    )


@login_required
def recordings_playlist(request, camera_id):
    """A VOD playlist of the recording segments in the window, for hls.js."""
    camera = _camera_or_404(request, camera_id)
    at = parse_datetime(request.GET.get("at", "")) or timezone.now() - timedelta(minutes=10)
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    minutes = int_param(request.GET, "minutes", default=30, minimum=1, maximum=240)
    segments = list(selectors.segments_between(camera=camera, start=at, end=at + timedelta(minutes=minutes)))
    target = max([int(s.duration_s + 0.999) for s in segments] or [1])
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-PLAYLIST-TYPE:VOD"]
    lines.append("#EXT-X-MEDIA-SEQUENCE:0")
    for i, segment in enumerate(segments):
        if i:
            lines.append("#EXT-X-DISCONTINUITY")  # each file restarts its timestamps
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{segment.start_at.isoformat()}")
        lines.append(f"#EXTINF:{segment.duration_s:.3f},")
        lines.append(reverse("kitchen:recording-file", args=[camera.id, segment.file.rsplit("/", 1)[-1]]))
    lines.append("#EXT-X-ENDLIST")
    response = HttpResponse("\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl")
    response["Cache-Control"] = "no-cache"
    return response


@login_required
def recording_file(request, camera_id, name: str):
    if not REC_NAME.match(name):
        raise Http404
    camera = _camera_or_404(request, camera_id)
    return _file(kitchen_dir() / "streams" / str(camera.id) / "rec" / name, "video/mp2t", cache="private, max-age=3600")


@login_required
def alarm_list(request):
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    page = paginate(request, selectors.alarms_visible(actor=request.user, status=status or None, kind=kind or None))
    for alarm in page.object_list:
        alarm.next_moves = sorted(services.ALARM_MOVES.get(alarm.status, set()))
    return render(
        request,
        "kitchen/alarm_list.html",
        {
            "page": page,
            "status": status,
            "kind": kind,
            "statuses": AlarmStatus.choices,
            "kinds": AlarmKind.choices,
        },
    )


@login_required
def alarm_media(request, alarm_id, which: str):
    try:
        alarm = selectors.alarm_get(actor=request.user, alarm_id=alarm_id)
    except DomainError as exc:
        raise Http404 from exc
    relative = alarm.snapshot if which == "snapshot" else alarm.clip if which == "clip" else ""
    if not relative:
        raise Http404
    root = kitchen_dir().resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise Http404
    content_type = "image/jpeg" if which == "snapshot" else "video/mp4"
    return _file(path, content_type, cache="private, max-age=3600")


@login_required
@require_POST
def alarm_move(request, alarm_id):
    try:
        services.alarm_move(
            actor=request.user,
            alarm_id=alarm_id,
            to_status=request.POST.get("to", ""),
            note=request.POST.get("note", ""),
        )
        messages.success(request, tr("告警状态已更新", "Alarm updated"))
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect(request.POST.get("next") or reverse("kitchen:alarms"))


def parse_day(value: str | None):
    return parse_date(value or "") or timezone.localdate()


def local_datetime(value: str | None) -> datetime:
    moment = parse_datetime(value or "") if value else None
    if moment is None:
        return timezone.now()
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
