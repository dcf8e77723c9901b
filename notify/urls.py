from django.urls import path

from notify import views

app_name = "notify"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read-all/", views.read_all, name="read_all"),
    path("<int:message_id>/", views.open_message, name="open"),
]
