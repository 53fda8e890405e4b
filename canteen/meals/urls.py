from django.urls import path

from . import views

app_name = "meals"
urlpatterns = [
    path("meals/", views.overview, name="overview"),
    path("meals/dishes/", views.dish_list, name="dishes"),
    path("meals/my/", views.my_menus, name="my-menus"),
    path("meals/campus/<uuid:campus_id>/week/", views.week, name="week"),
    path("meals/campus/<uuid:campus_id>/week.pdf", views.week_pdf, name="week-pdf"),
    path("meals/campus/<uuid:campus_id>/week/copy/", views.week_copy, name="week-copy"),
    path("meals/campus/<uuid:campus_id>/week/publish/", views.week_publish, name="week-publish"),
    path("meals/campus/<uuid:campus_id>/day/<str:day>/", views.day_detail, name="day"),
    path("meals/campus/<uuid:campus_id>/day/<str:day>/new/<str:kind>/", views.menu_new, name="menu-new"),
    path("meals/campus/<uuid:campus_id>/forecast/", views.forecast_view, name="forecast"),
    path("meals/menu/<uuid:menu_id>/edit/", views.menu_edit, name="menu-edit"),
    path("meals/menu/<uuid:menu_id>/publish/", views.menu_publish, name="menu-publish"),
    path("meals/dish/<uuid:dish_id>/photo.jpg", views.dish_photo, name="dish-photo"),
    # Public, by token: the big screen and the parents' phone page.
    path("meals/board/<str:token>/", views.board, name="board"),
    path("meals/m/<str:token>/", views.board_phone, name="board-phone"),
]
