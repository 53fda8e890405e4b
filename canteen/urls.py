from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from canteen.accounts import urls as accounts_urls
from canteen.core import views as core_views
from canteen.core.media import serve_media
from canteen.ops.metrics import metrics_view
from canteen.org import views as org_views

DOMAINS = ["org", "ledger", "procurement", "trace", "meals", "identity", "consumption", "kitchen", "supervision"]
DOMAINS.append("schoolcalendar")  # issue 22

urlpatterns = [
    path("", org_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),  # issue 26: Prometheus, token or allow-list
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # API tokens that expire and die with a password change (canteen.accounts), not DRF's authtoken.
    *accounts_urls.api_urlpatterns,
    path("", include("canteen.accounts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start script as a file: no inline script under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]
# Each domain owns its pages (prefixed with its own name inside its urls.py) and its API. The
# APIs sit under one prefix ahead of the pages: a terminal's checkout is matched after a few
# prefix checks instead of after every page pattern of the domains before it.
urlpatterns += [path("api/v1/", include([path(f"{d}/", include(f"canteen.{d}.api.urls")) for d in DOMAINS]))]
urlpatterns += [path("", include(f"canteen.{d}.urls")) for d in DOMAINS]
urlpatterns += [path("", include("canteen.notify.urls"))]

# Uploads are served through a view that asks the owning domain whether the viewer may see the
# file (canteen/core/media.py), in every configuration: never a plain directory listing of links.
urlpatterns += [path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", serve_media, name="media")]

# API callers get JSON for an unexpected error too (canteen.core.views.server_error).
handler500 = "canteen.core.views.server_error"
