from django.urls import path

app_name = "dashboards"

# The pages are in dashboards/views.py; until they exist the app mounts no page.
urlpatterns: list = []
