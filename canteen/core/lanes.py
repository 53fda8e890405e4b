"""Express lanes: the one request a whole lunch is made of goes to its view through a shorter
middleware chain, without the URL resolver.

A window terminal posts a checkout every few seconds, all lunch long; Django's handler, its
middleware and the URL resolver were about a fifth of the instructions the web process spends
on one, and the lane takes 7-12 % off (callgrind; docs/benchmarks.md, sixth session). A lane is declared by the domain that owns the view:

    express_lane("consumption-api:checkouts", method="POST", accepts=is_terminal_call)

A request takes the lane when its method and path are the lane's (the path `reverse` gives the
URL name) and `accepts(request)` says yes; every other request takes Django's whole chain.
In the lane the request runs through the project's middleware, in the project's order, less
those a token-authenticated JSON call cannot need (LANE_SKIPS), and reaches the view that the
URL resolves to, resolved once. `accepts` must therefore admit only requests whose answer does
not depend on the skipped middleware: no session, CSRF token, `request.user` from the session,
messages or static file. A lane's answer, headers included, is the whole chain's
(consumption/tests/test_checkout_lane.py sends a scripted lunch through both).

WSGI only (gunicorn in production); the ASGI handler keeps the whole chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase
from django.urls import get_script_prefix, resolve, reverse, set_urlconf
from django.utils.log import log_response
from django.utils.module_loading import import_string

# Middleware that has nothing to do for a lane's request, and why:
LANE_SKIPS = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",  # serves STATIC_URL only
        "django.contrib.sessions.middleware.SessionMiddleware",  # no session: the token is the credential
        "django.middleware.csrf.CsrfViewMiddleware",  # token-authenticated, and DRF views are csrf_exempt
        "django.contrib.auth.middleware.AuthenticationMiddleware",  # the view's authenticator sets the user
        "django.contrib.messages.middleware.MessageMiddleware",  # no page to show a message on
    }
)
# A middleware with one of these hooks takes part in the view call itself, which a lane does not
# reproduce: the web process refuses to start rather than answer differently.
_VIEW_HOOKS = ("process_view", "process_exception", "process_template_response")


@dataclass(frozen=True)
class Lane:
    url_name: str
    method: str
    accepts: Callable[[HttpRequest], bool]


_lanes: dict[str, Lane] = {}


def express_lane(url_name: str, *, method: str, accepts: Callable[[HttpRequest], bool]) -> None:
    """Declare a lane (from an AppConfig.ready). Idempotent per URL name."""
    _lanes[url_name] = Lane(url_name, method.upper(), accepts)


@dataclass(frozen=True)
class _Route:
    lane: Lane
    chain: Callable[[HttpRequest], HttpResponseBase]


class LanedWSGIHandler(WSGIHandler):
    """Django's WSGI handler, with the declared express lanes in front of the whole chain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built at start, beside the whole chain: a lane that cannot be built stops the web
        # process before it answers anything (and the URL modules are imported once, here).
        self._routes = self._build_routes()

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        route = self._route_for(request)
        if route is None:
            return super().get_response(request)
        # As BaseHandler.get_response, with the lane's chain in place of the whole one.
        set_urlconf(settings.ROOT_URLCONF)
        response = route.chain(request)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response

    def _route_for(self, request: HttpRequest) -> _Route | None:
        route = self._routes.get((request.method, request.path_info))
        if route is None or not route.lane.accepts(request):
            return None
        return route

    def _build_routes(self) -> dict[tuple[str, str], _Route]:
        routes = {}
        prefix = get_script_prefix()  # reverse() includes it; path_info does not
        for lane in _lanes.values():
            path = reverse(lane.url_name)
            path_info = "/" + path[len(prefix) :] if path.startswith(prefix) else path
            routes[(lane.method, path_info)] = _Route(lane, self._lane_chain(path_info))
        return routes

    def _lane_chain(self, path: str) -> Callable[[HttpRequest], HttpResponseBase]:
        match = resolve(path)

        def view(request: HttpRequest) -> HttpResponseBase:
            request.resolver_match = match
            response = match.func(request, *match.args, **match.kwargs)
            # As BaseHandler._get_response: a DRF Response is a template response, rendered here.
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
            return response

        handler = convert_exception_to_response(view)
        for middleware_path in reversed(settings.MIDDLEWARE):
            if middleware_path in LANE_SKIPS:
                continue
            try:
                instance = import_string(middleware_path)(handler)
            except MiddlewareNotUsed:
                continue
            hooks = [hook for hook in _VIEW_HOOKS if hasattr(instance, hook)]
            if hooks:
                raise ImproperlyConfigured(
                    f"{middleware_path} has {', '.join(hooks)}: an express lane cannot run it; "
                    "add it to canteen.core.lanes.LANE_SKIPS with the reason, or declare no lane"
                )
            handler = convert_exception_to_response(instance)
        return handler


def get_wsgi_application() -> LanedWSGIHandler:
    """django.core.wsgi.get_wsgi_application, with the express lanes."""
    import django

    django.setup(set_prefix=False)
    return LanedWSGIHandler()
