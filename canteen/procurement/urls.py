from django.urls import path

from . import views

app_name = "procurement"
urlpatterns = [
    path("procurement/", views.index, name="index"),
    path("procurement/catalogue/", views.catalogue, name="catalogue"),
    path("procurement/catalogue/<uuid:item_id>/", views.item_detail, name="item"),
    path("procurement/catalogue/<uuid:item_id>/price/", views.price_set, name="price-set"),
    path("procurement/suppliers/", views.suppliers, name="suppliers"),
    path("procurement/suppliers/new/", views.supplier_new, name="supplier-new"),
    path("procurement/suppliers/<uuid:supplier_id>/approval/", views.supplier_approval, name="supplier-approval"),
    path("procurement/suppliers/<uuid:supplier_id>/licences/", views.licence_new, name="licence-new"),
    path("procurement/catalogue/new/", views.item_new, name="item-new"),
    path("procurement/orders/", views.orders, name="orders"),
    path("procurement/orders/new/", views.order_new, name="order-new"),
    path("procurement/orders/<uuid:order_id>/", views.order_detail, name="order"),
    path("procurement/orders/<uuid:order_id>/action/", views.order_action, name="order-action"),
    path("procurement/orders/<uuid:order_id>/deliver/", views.deliver, name="deliver"),
    path("procurement/portal/", views.portal, name="portal"),
    path("procurement/deliveries/", views.deliveries, name="deliveries"),
    path("procurement/deliveries/<uuid:delivery_id>/accept/", views.accept, name="accept"),
    path("procurement/deliveries/<uuid:delivery_id>/invoice/", views.invoice, name="invoice"),
    path("procurement/stock/", views.stock, name="stock"),
    path("procurement/stock/count/", views.count_start, name="count-start"),
    path("procurement/stock/count/<uuid:count_id>/", views.count_detail, name="count"),
    path("procurement/demand/", views.demand, name="demand"),
    path("procurement/batches/<uuid:batch_id>/", views.batch_page, name="batch"),
    path("procurement/batches/<uuid:batch_id>/qc-report/", views.qc_report, name="qc-report"),
    path("procurement/licences/<uuid:licence_id>/scan/", views.licence_scan, name="licence-scan"),
]
