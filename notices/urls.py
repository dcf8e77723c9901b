from django.urls import path

from notices import views

app_name = "notices"
urlpatterns = [
    path("", views.home, name="home"),
    path("manage/", views.manage, name="manage"),
    path("<int:notice_id>/", views.notice_page, name="notice"),
    path("<int:notice_id>/files/<int:attachment_id>/", views.attachment, name="attachment"),
    path("<int:notice_id>/publish/", views.publish, name="publish"),
    path("<int:notice_id>/withdraw/", views.withdraw, name="withdraw"),
    path("events/", views.events_page, name="events"),
    path("events/new/", views.event_new, name="event_new"),
    path("events/<int:event_id>/", views.event_page, name="event"),
    path("events/<int:event_id>/attend/", views.event_attend, name="attend"),
    path("events/<int:event_id>/withdraw/", views.event_withdraw, name="event_withdraw"),
    path("events/<int:event_id>/cancel/", views.event_cancel, name="event_cancel"),
]
