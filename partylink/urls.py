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
    path("projects/", views.projects_page, name="projects"),
    path("projects/<int:project_id>/", views.project_page, name="project"),
    path("projects/<int:project_id>/decide/", views.project_decide, name="project_decide"),
    path("projects/<int:project_id>/progress/", views.project_progress, name="project_progress"),
    path("projects/<int:project_id>/milestones/<int:milestone_id>/done/", views.project_milestone, name="milestone"),
    path("projects/<int:project_id>/complete/", views.project_complete, name="project_complete"),
    path("projects/<int:project_id>/cancel/", views.project_cancel, name="project_cancel"),
    path("projects/<int:project_id>/rate/", views.project_rate, name="project_rate"),
]
