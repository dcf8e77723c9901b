from django.urls import path

from volunteers import views

app_name = "volunteers"
urlpatterns = [
    path("", views.home, name="home"),
    path("join/", views.join, name="join"),
    path("checkin/", views.checkin_by_code, name="checkin_code"),
    path("manage/", views.manage_page, name="manage"),
    path("teams/", views.team_create, name="team_create"),
    path("activities/<int:activity_id>/", views.activity_page, name="activity"),
    path("activities/<int:activity_id>/signup/", views.signup, name="signup"),
    path("activities/<int:activity_id>/checkin/", views.checkin, name="checkin"),
    path("activities/<int:activity_id>/cancel/", views.activity_cancel, name="cancel"),
    path("activities/<int:activity_id>/finish/", views.activity_finish, name="finish"),
    path("participations/<int:participation_id>/withdraw/", views.withdraw, name="withdraw"),
    path("participations/<int:participation_id>/checkout/", views.checkout, name="checkout"),
    path("participations/<int:participation_id>/rate/", views.rate, name="rate"),
]
