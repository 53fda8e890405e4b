app_name = "kitchen-api"
urlpatterns: list = []
