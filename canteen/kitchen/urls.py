app_name = "kitchen"
urlpatterns: list = []
