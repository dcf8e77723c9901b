from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.catalog_page, name="list"),
    path("items/<str:code>/", views.item_page, name="item"),
]
