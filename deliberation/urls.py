from django.urls import path

from deliberation import views

app_name = "deliberation"
urlpatterns = [
    path("", views.home, name="home"),
    path("propose/", views.propose, name="propose"),
    path("matters/<int:matter_id>/", views.matter_page, name="matter"),
    path("matters/<int:matter_id>/<slug:step>/", views.matter_step, name="matter_step"),
    path("comments/<int:comment_id>/hide/", views.comment_hide, name="comment_hide"),
    path("tasks/<int:task_id>/done/", views.task_done, name="task_done"),
    path("photos/<int:photo_id>/", views.photo, name="photo"),
    path("votes/new/", views.vote_new, name="vote_new"),
    path("votes/<int:vote_id>/", views.vote_page, name="vote"),
    path("votes/<int:vote_id>/<slug:step>/", views.vote_step, name="vote_step"),
    path("meetings/", views.meetings, name="meetings"),
    path("disclosures/", views.disclosures, name="disclosures"),
    path("disclosures/<int:disclosure_id>/", views.disclosure_page, name="disclosure"),
    path("questions/<int:question_id>/answer/", views.answer, name="answer"),
    path("rules/<int:village_id>/", views.rules_page, name="rules"),
    path("rules/<int:village_id>/record/", views.rules_record, name="rules_record"),
    path("report/", views.report_page, name="report"),
]
