from django.urls import path

from org import views

app_name = "org"
urlpatterns = [
    path("nodes/<int:node_id>/", views.node_page, name="node"),
    path("households/", views.household_list_page, name="households"),
    path("households/<int:household_id>/", views.household_page, name="household"),
    path("residents/<int:resident_id>/", views.resident_page, name="resident"),
    path("residents/<int:resident_id>/mode/", views.resident_mode, name="resident_mode"),
]
