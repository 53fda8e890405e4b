app_name = "trace"
urlpatterns: list = []
