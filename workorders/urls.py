from django.urls import path

from workorders import views

app_name = "workorders"
urlpatterns = [
    path("new/", views.submit_page, name="new"),
    path("new/residents/", views.resident_search, name="resident_search"),
    path("mine/", views.mine_page, name="mine"),
    path("console/", views.console_page, name="console"),
    path("console/dispatch/", views.dispatch_bulk, name="dispatch_bulk"),
    path("queue/", views.queue_page, name="queue"),
    path("callbacks/", views.callbacks_page, name="callbacks"),
    path("hot/", views.hot_list_page, name="hot_list"),
    path("hot/<int:topic_id>/", views.hot_page, name="hot"),
    path("triage/", views.triage_page, name="triage"),
    path("<int:order_id>/", views.order_page, name="detail"),
    path("<int:order_id>/submitted/", views.submitted_page, name="submitted"),
    path("<int:order_id>/photos/<int:photo_id>/", views.order_photo, name="photo"),
    path("<int:order_id>/voices/<int:voice_id>/", views.order_voice, name="voice"),
    path("<int:order_id>/<slug:step>/", views.order_step, name="step"),
]

# Public progress by tracking code, mounted at /track/ (no login).
track_patterns = (
    [
        path("", views.track_page, name="form"),
        path("<str:code>/", views.track_order_page, name="order"),
    ],
    "track",
)
