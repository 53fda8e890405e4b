app_name = "meals-api"
urlpatterns: list = []
