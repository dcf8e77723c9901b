"""Distances on the ground, for locating a report and finding reports of the same place."""

from __future__ import annotations

import math
from decimal import Decimal

from django.db.models import Q


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine); metres of error at a county's scale do not matter."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def bbox_q(lat: Decimal, lng: Decimal, km: float) -> Q:
    """Rows whose lat/lng lie in the box around a point that holds every point within `km` of it:
    a cheap first cut on plain indexes, before the exact distance."""
    dlat = Decimal(km / 111.0)
    dlng = Decimal(km / (111.0 * max(0.1, math.cos(math.radians(float(lat))))))
    return Q(lat__gte=lat - dlat, lat__lte=lat + dlat, lng__gte=lng - dlng, lng__lte=lng + dlng)
