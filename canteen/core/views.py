import sys

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults


def healthz(request):
    """Liveness for load balancers and the window terminals' reconnect probe."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an API caller (a window terminal, an app) gets the API's JSON error body,
    never Django's HTML page; a page gets the page. A lost database connection is 503 with
    Retry-After: nothing was done, the same request may be sent again."""
    if not request.path.startswith("/api/"):
        return defaults.server_error(request)
    from .api import DatabaseUnavailable, _close_broken_connections
    from .errors import DomainError

    exc = sys.exc_info()[1]
    if isinstance(exc, (OperationalError, InterfaceError)):
        _close_broken_connections()
        error: DomainError = DatabaseUnavailable()
    else:
        error = DomainError("服务器内部错误，请稍后重试", "Internal server error; try again later", code="server_error")
        error.status = 500
    response = JsonResponse(error.as_body(getattr(request, "LANGUAGE_CODE", None)), status=error.status)
    if error.status == 503:
        response["Retry-After"] = "2"
    return response
