from django.urls import path

from partylink import views

app_name = "partylink"
urlpatterns = [
    path("", views.home, name="home"),
    path("households/<int:household_id>/visit/", views.visit_new, name="visit_new"),
    path("visits/<int:visit_id>/", views.visit_page, name="visit"),
    path("needs/<int:need_id>/", views.need_page, name="need"),
    path("needs/<int:need_id>/settle/", views.need_settle, name="settle"),
    path("needs/<int:need_id>/order/", views.need_relay, name="relay"),
    path("ask/", views.ask, name="ask"),
    path("links/", views.links_page, name="links"),
    path("links/link/", views.link, name="link"),
    path("links/unlink/", views.unlink, name="unlink"),
    path("links/assign/", views.assign, name="assign"),
    path("plans/", views.plans_page, name="plans"),
]
