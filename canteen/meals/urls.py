app_name = "meals"
urlpatterns: list = []
