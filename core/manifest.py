"""The web app manifest (/manifest.webmanifest): a helper can put Gongzhi on an elderly person's phone as an
icon, with the one-key call as its shortcut (a long press on the icon, or its own icon on Android). Names
are in the language of the request (zh-Hans by default); the offline app is a later step."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

THEME = "#c8161d"  # the red of the header (static/css/app.css --red)


@require_safe
@vary_on_headers("Accept-Language", "Cookie")
def manifest(request: HttpRequest) -> HttpResponse:
    icon = static("icons/gongzhi.svg")
    sos_icon = static("icons/sos.svg")
    body = {
        "name": _("Gongzhi"),
        "short_name": _("Gongzhi"),
        "description": _("Appeals, one-key calls and services of your village and community"),
        "lang": get_language(),
        "start_url": reverse("home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [{"src": icon, "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
        "shortcuts": [
            {
                "name": _("One-key call"),
                "short_name": _("One-key call"),
                "description": _("Call your grid worker and the duty desk for help"),
                "url": reverse("sos:home"),
                "icons": [{"src": sos_icon, "sizes": "any", "type": "image/svg+xml"}],
            },
            {
                "name": _("Submit an appeal"),
                "short_name": _("Appeal"),
                "url": reverse("workorders:new"),
                "icons": [{"src": icon, "sizes": "any", "type": "image/svg+xml"}],
            },
        ],
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, indent=1), content_type="application/manifest+json; charset=utf-8"
    )
    response["Cache-Control"] = "public, max-age=3600"
    return response
