"""Distances on the ground, for locating a report and finding reports of the same place."""

from __future__ import annotations

import math
from collections.abc import Iterable
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


class PointIndex:
    """Points (rows whose [1] and [2] are lat and lng) bucketed by cells of `cell` degrees, for finding
    the ones near a place without a query: the grid centres of a county fit in memory many times over."""

    def __init__(self, rows: Iterable[tuple], cell: float = 0.1) -> None:
        self.cell = cell
        self.cells: dict[tuple[int, int], list[tuple]] = {}
        for row in rows:
            if row[1] is None or row[2] is None:
                continue
            key = (math.floor(float(row[1]) / cell), math.floor(float(row[2]) / cell))
            self.cells.setdefault(key, []).append(row)

    def nearest(self, lat: float, lng: float, km: float) -> tuple[float, tuple] | None:
        """(distance in km, row) of the nearest point within `km`, or None."""
        dlat = km / 111.0
        dlng = km / (111.0 * max(0.1, math.cos(math.radians(lat))))
        best: tuple[float, tuple] | None = None
        for i in range(math.floor((lat - dlat) / self.cell), math.floor((lat + dlat) / self.cell) + 1):
            for j in range(math.floor((lng - dlng) / self.cell), math.floor((lng + dlng) / self.cell) + 1):
                for row in self.cells.get((i, j), ()):
                    d = distance_km(lat, lng, float(row[1]), float(row[2]))
                    if d <= km and (best is None or d < best[0]):
                        best = (d, row)
        return best
