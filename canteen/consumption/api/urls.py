from django.urls import path

from . import views

app_name = "consumption-api"
urlpatterns = [
    path("checkouts/", views.CheckoutView.as_view(), name="checkouts"),
    path("checkouts/by-key/<str:key>/", views.CheckoutByKeyView.as_view(), name="checkout-by-key"),
    path("checkouts/<uuid:pk>/void/", views.VoidView.as_view(), name="checkout-void"),
    path("terminal/me/", views.TerminalMeView.as_view(), name="terminal-me"),
    path("terminal/gallery/", views.TerminalGalleryView.as_view(), name="terminal-gallery"),
    path("terminal/roster/", views.TerminalRosterView.as_view(), name="terminal-roster"),
]
