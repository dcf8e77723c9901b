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
]
