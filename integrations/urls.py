from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("", views.home, name="home"),
    path("sources/new/", views.source_new, name="source_new"),
    path("sources/<int:source_id>/", views.source_page, name="source"),
    path("sources/<int:source_id>/rotate/", views.source_rotate, name="source_rotate"),
    path("sources/<int:source_id>/export/", views.export, name="export"),
    path("import/", views.import_new, name="import_new"),
    path("imports/<int:run_id>/", views.import_page, name="import"),
    path("imports/<int:run_id>/refused.csv", views.import_errors, name="import_errors"),
]
