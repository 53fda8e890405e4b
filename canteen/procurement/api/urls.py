from django.urls import path

from . import views

app_name = "procurement-api"
urlpatterns = [
    path("suppliers/", views.SupplierList.as_view(), name="suppliers"),
    path("licence-alerts/", views.LicenceAlerts.as_view(), name="licence-alerts"),
    path("catalogue/", views.Catalogue.as_view(), name="catalogue"),
    path("orders/", views.OrderList.as_view(), name="orders"),
    path("orders/<uuid:order_id>/", views.OrderDetail.as_view(), name="order"),
    path("orders/<uuid:order_id>/transition/", views.OrderTransition.as_view(), name="order-transition"),
    path("orders/<uuid:order_id>/deliveries/", views.OrderDeliveries.as_view(), name="order-deliveries"),
    path("deliveries/", views.DeliveryList.as_view(), name="deliveries"),
    path("deliveries/<uuid:delivery_id>/accept/", views.DeliveryAccept.as_view(), name="delivery-accept"),
    path("batches/<uuid:batch_id>/", views.BatchDetail.as_view(), name="batch"),
    path("batches/<uuid:batch_id>/qc-report/", views.BatchQcReport.as_view(), name="batch-qc-report"),
    path("demand/", views.Demand.as_view(), name="demand"),
    path("stock/", views.Stock.as_view(), name="stock"),
    path("stock/issue/", views.StockIssue.as_view(), name="stock-issue"),
    path("stock/issue-meal/", views.StockIssueMeal.as_view(), name="stock-issue-meal"),
]
