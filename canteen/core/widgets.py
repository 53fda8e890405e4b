"""Form widgets shared by the domains' pages."""

from __future__ import annotations

from django import forms


class DateTimeLocalInput(forms.DateTimeInput):
    """<input type="datetime-local"> with a value the browser accepts: "2026-12-08T07:30".

    Django's default rendering ("2026-12-08 07:30:12.345+08:00") is rejected by the browser,
    which then shows an empty field: the prefill is lost. The value is the local time zone's."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")
