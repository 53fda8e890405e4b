app_name = "procurement-api"
urlpatterns: list = []
