app_name = "trace-api"
urlpatterns: list = []
