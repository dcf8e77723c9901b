from django.urls import path

from notify import views

app_name = "notify"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read-all/", views.read_all, name="read_all"),
    path("<int:message_id>/", views.open_message, name="open"),
    # Webhooks (notify.webhooks): for those who manage other systems' subscriptions.
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/new/", views.webhook_new, name="webhook_new"),
    path("webhooks/<int:subscription_id>/", views.webhook_detail, name="webhook"),
    path("webhooks/<int:subscription_id>/edit/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:subscription_id>/enable/", views.webhook_enable, name="webhook_enable"),
    path("webhooks/<int:subscription_id>/disable/", views.webhook_disable, name="webhook_disable"),
    path("webhooks/<int:subscription_id>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:subscription_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path("webhooks/deliveries/<int:delivery_id>/redeliver/", views.delivery_redeliver, name="webhook_redeliver"),
]
