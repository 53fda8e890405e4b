app_name = "consumption-api"
urlpatterns: list = []
