from django.urls import path

from . import views

app_name = "consumption"
urlpatterns = [
    path("consumption/records/", views.record_list, name="record-list"),
    path("consumption/terminals/", views.terminal_list, name="terminal-list"),
    path("consumption/terminals/register/", views.terminal_register, name="terminal-register"),
    path("consumption/terminals/<uuid:pk>/deactivate/", views.terminal_deactivate, name="terminal-deactivate"),
    path("consumption/window/", views.window_checkout, name="window-checkout"),
    path(
        "consumption/window/conflicts/<uuid:pk>/resolve/",
        views.allergen_conflict_resolve,
        name="allergen-conflict-resolve",
    ),
]
