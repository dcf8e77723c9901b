"""/open311/v2/…: every resource with a .json or .xml suffix (integrations.open311)."""

from django.urls import re_path

from integrations import open311

F = r"\.(?P<fmt>json|xml)$"
app_name = "open311"
urlpatterns = [
    re_path(r"^discovery" + F, open311.discovery_view, name="discovery"),
    re_path(r"^services" + F, open311.services_view, name="services"),
    re_path(r"^services/(?P<code>[^/]{1,40})" + F, open311.service_definition_view, name="service"),
    re_path(r"^requests" + F, open311.requests_view, name="requests"),
    re_path(r"^requests/(?P<request_id>[^/]{1,40})" + F, open311.request_view, name="request"),
    re_path(r"^tokens/(?P<token>[^/]{1,40})" + F, open311.token_view, name="token"),
]
