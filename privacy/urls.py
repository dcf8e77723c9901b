from django.urls import path

from privacy import views

app_name = "privacy"
urlpatterns = [
    path("mine/", views.mine, name="mine"),
    path("mine.json", views.mine_json, name="mine_json"),
    path("requests/", views.requests_page, name="requests"),
    path("requests/<int:request_id>/", views.request_page, name="request"),
    path("access-log.csv", views.access_log_csv, name="access_log"),
]
