from django.urls import path

from mediation import views

app_name = "mediation"
urlpatterns = [
    path("", views.home, name="home"),
    path("report/", views.report, name="report"),
    path("cases/<int:case_id>/", views.case_page, name="case"),
    path("cases/<int:case_id>/agreement/", views.agreement_page, name="agreement"),
    path("cases/<int:case_id>/<slug:step>/", views.case_step, name="case_step"),
    path("scans/<int:scan_id>/", views.scan, name="scan"),
    path("from-order/<int:order_id>/", views.from_order, name="from_order"),
    path("mediators/", views.mediators, name="mediators"),
    path("mediators/<int:mediator_id>/", views.mediator_active, name="mediator_active"),
]
