from django.urls import path

from sos import stream, views

app_name = "sos"
urlpatterns = [
    path("", views.home, name="home"),
    path("stream/", stream.events, name="stream"),
    path("calls/", views.calls_page, name="calls"),
    path("board/", views.board_page, name="board"),
    path("calls/<int:call_id>/", views.call_page, name="call"),
    path("raise/", views.raise_page, name="raise"),
    path("profiles/", views.profiles_page, name="profiles"),
    path("profiles/register/", views.profile_register, name="register"),
    path("profiles/<int:profile_id>/", views.profile_page, name="profile"),
    path("profiles/<int:profile_id>/raise/", views.profile_raise, name="raise_for"),
    path("calls/<int:call_id>/workorder/", views.call_workorder, name="workorder"),
    path("calls/<int:call_id>/<slug:step>/", views.call_step, name="step"),
]
