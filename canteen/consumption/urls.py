app_name = "consumption"
urlpatterns: list = []
