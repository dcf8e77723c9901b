from django.contrib import admin
from django.urls import include, path

from api.api import api
from core.health import health as health_view
from core.health import healthz, readyz
from core.manifest import manifest
from core.metrics import metrics
from org import views as org_views
from workorders.urls import track_patterns

# The API first: its clients make most of the requests, and Django tries the patterns in order (each
# app's include before it cost every API call a failed match per pattern).
urlpatterns = [
    path("api/v1/", api.urls),
    path("", org_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("org/", include("org.urls")),
    path("workorders/", include("workorders.urls")),
    path("sos/", include("sos.urls")),
    path("points/", include("points.urls")),
    path("volunteers/", include("volunteers.urls")),
    path("party/", include("partylink.urls")),
    path("notices/", include("notices.urls")),
    path("deliberation/", include("deliberation.urls")),
    path("mediation/", include("mediation.urls")),
    path("privacy/", include("privacy.urls")),
    path("open311/v2/", include("integrations.open311_urls")),
    path("integrations/", include("integrations.urls")),
    path("inbox/", include("notify.urls")),
    path("dashboard/", include("dashboards.urls")),
    path("track/", include(track_patterns)),
    path("catalog/", include("catalog.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("health", health_view, name="health"),  # monitors: database and workers alive (core.health)
    path("healthz", healthz, name="healthz"),  # the process answers (liveness)
    path("readyz", readyz, name="readyz"),  # database, migrations, every worker's heartbeat fresh
    path("metrics", metrics, name="metrics"),  # Prometheus (core.metrics)
    path("manifest.webmanifest", manifest, name="manifest"),  # a home-screen icon, the one-key call its shortcut
]
