app_name = "ledger-api"
urlpatterns: list = []
