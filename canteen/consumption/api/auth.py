"""Terminals authenticate with their own token (`Authorization: Terminal <token>`), not a user's:
a device is registered to one window, can be deactivated on its own, and its token is rotated
without touching anyone's password."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from canteen.core.scoping import Scope

from ..models import Terminal
from ..services import terminal_authenticate

KEYWORD = "Terminal"


class TerminalPrincipal:
    """Stands in for request.user when a terminal calls: sees its own campus, nothing more."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    is_staff = False
    role = "terminal"

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.username = f"terminal:{terminal.code}"

    def access_scope(self) -> Scope:
        return Scope("campus", self.terminal.campus_id)

    def __str__(self) -> str:
        return self.username


class TerminalTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[TerminalPrincipal, Terminal] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != KEYWORD:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed()
        terminal = terminal_authenticate(token=header[1])
        if terminal is None:
            raise exceptions.AuthenticationFailed()
        return TerminalPrincipal(terminal), terminal

    def authenticate_header(self, request: Any) -> str:
        return KEYWORD


def is_terminal_call(request: Any) -> bool:
    """The request names a terminal's credential. Its answer then never depends on a session, a
    CSRF token or a logged-in user: TerminalTokenAuthentication comes first and either
    authenticates the terminal or refuses (401). What the checkout's express lane admits."""
    return request.META.get("HTTP_AUTHORIZATION", "").startswith(KEYWORD + " ")


def terminal_of(request: Any) -> Terminal | None:
    return request.auth if isinstance(request.auth, Terminal) else None


class TerminalTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Terminal <token>` in the OpenAPI schema."""

    target_class = TerminalTokenAuthentication
    name = "terminalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Terminal <token>`: the serving-window terminal's token, shown once at registration.",
        }
