from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from canteen.core import views as core_views
from canteen.org import views as org_views

DOMAINS = ["org", "ledger", "procurement", "trace", "meals", "identity", "consumption", "kitchen", "supervision"]

urlpatterns = [
    path("", org_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
# Each domain owns its pages (prefixed with its own name inside its urls.py) and its API. The
# APIs sit under one prefix ahead of the pages: a terminal's checkout is matched after a few
# prefix checks instead of after every page pattern of the domains before it.
urlpatterns += [path("api/v1/", include([path(f"{d}/", include(f"canteen.{d}.api.urls")) for d in DOMAINS]))]
urlpatterns += [path("", include(f"canteen.{d}.urls")) for d in DOMAINS]
urlpatterns += [path("", include("canteen.notify.urls"))]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
