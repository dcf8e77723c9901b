from django.urls import path

from dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.board_page, name="board"),
    path("node/<int:node_id>/", views.node_page, name="node"),
    path("node/<int:node_id>/xlsx/", views.node_xlsx, name="node_xlsx"),
    path("department/<int:department_id>/", views.department_page, name="department"),
    path("ranking/", views.ranking_page, name="ranking"),
    path("ranking/xlsx/", views.ranking_xlsx, name="ranking_xlsx"),
    path("assessment/", views.assessment_index, name="assessment_index"),
    path("assessment/<str:month>/<str:group>/", views.assessment_page, name="assessment"),
    path("assessment/<str:month>/<str:group>/compute/", views.assessment_compute, name="compute"),
    path("assessment/<str:month>/<str:group>/publish/", views.assessment_publish, name="publish"),
    path("assessment/<str:month>/<str:group>/specials/", views.assessment_special, name="special"),
    path("assessment/<str:month>/<str:group>/xlsx/", views.assessment_xlsx, name="assessment_xlsx"),
    path("assessment/<str:month>/<str:group>/bulletin/", views.assessment_bulletin, name="bulletin"),
    path("party/", views.party_page, name="party"),
    path("party/xlsx/", views.party_xlsx, name="party_xlsx"),
    path("mediation/", views.mediation_page, name="mediation"),
    path("mediation/xlsx/", views.mediation_xlsx, name="mediation_xlsx"),
    path("exemptions/", views.exemptions_page, name="exemptions"),
    path("exemptions/<int:exemption_id>/decide/", views.exemption_decide, name="decide"),
]
