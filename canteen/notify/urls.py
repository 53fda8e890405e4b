from django.urls import path

from . import views

app_name = "notify"
urlpatterns = [
    path("notify/", views.inbox, name="inbox"),
    path("notify/read/", views.inbox_read, name="inbox-read"),
    path("notify/preferences/", views.preferences, name="preferences"),
    path("notify/dead-letters/", views.dead_letters, name="dead-letters"),
    path("notify/dead-letters/retry/", views.dead_letters_retry, name="dead-letters-retry"),
    path("notify/status/", views.status, name="status"),
    path("notify/wechat/callback/", views.wechat_callback, name="wechat-callback"),
]
