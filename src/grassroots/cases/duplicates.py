"""Likely duplicates of a report: same category, near, at about the same time, similar text.

Neighbours who see the same blocked drain report it separately, and the 12345 hotline passes on
what the grid worker already entered. At intake the candidates are offered to the dispatcher
(the report's timeline event keeps their tracking codes); merging stays a person's decision.

The candidates come from one query on the index `case_category_time` (category, reported_at)
with a bounding box on lat/lon around the point: the window of CASE_DUPLICATE_DAYS either side
of the report and CASE_DUPLICATE_METRES around it. The exact distance and the text similarity
are computed here, on at most MAX_CANDIDATES rows; a second query loads the cases kept.

Text similarity is the Dice coefficient of character bigrams of the normalized text (simplified
characters, no spaces or punctuation): Chinese has no spaces between words, and two people
describing one pothole share short runs of characters rather than words.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from functools import lru_cache

from django.conf import settings

from grassroots.core.text import clean_text, to_simplified

from .models import Case, Category, Stage

# Text at least this similar (0..1) makes a candidate a likely duplicate.
MIN_SIMILARITY = 0.3
# Rows looked at per report, newest first: a bound on the work in a very busy spot.
MAX_CANDIDATES = 500
# Share of the score given to nearness; the rest is text similarity.
DISTANCE_WEIGHT = 0.2
EARTH_RADIUS_METRES = 6_371_000.0
_METRES_PER_DEGREE = math.pi * EARTH_RADIUS_METRES / 180


def normalize(text: str) -> str:
    """Simplified characters, lower case, letters and digits only (no spaces, punctuation)."""
    cleaned = to_simplified(clean_text(text)).lower()
    return "".join(c for c in cleaned if c.isalnum())


@lru_cache(maxsize=4096)
def _bigrams(text: str) -> Counter[str]:
    norm = normalize(text)
    if len(norm) < 2:
        return Counter([norm]) if norm else Counter()
    return Counter(norm[i : i + 2] for i in range(len(norm) - 1))


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the character bigrams of two texts: 1.0 the same, 0.0 nothing shared."""
    x, y = _bigrams(a), _bigrams(b)
    total = sum(x.values()) + sum(y.values())
    if not total:
        return 0.0
    return 2 * sum((x & y).values()) / total


def distance_metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    """(min_lon, max_lon, min_lat, max_lat) of a box holding every point within `metres`."""
    dlat = metres / _METRES_PER_DEGREE
    # Degrees of longitude shrink towards the poles; cases are never near one.
    dlon = metres / (_METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    return lon - dlon, lon + dlon, lat - dlat, lat + dlat


def likely_duplicates(
    *,
    category: Category | int,
    lon: float | None,
    lat: float | None,
    description: str,
    at: datetime.datetime,
    exclude_id: int | None = None,
    limit: int = 5,
) -> list[tuple[Case, float]]:
    """Cases that may report the same matter, most likely first, with a score from 0 to 1.

    Same category; within CASE_DUPLICATE_METRES of (lon, lat); reported within
    CASE_DUPLICATE_DAYS before or after `at`; text at least MIN_SIMILARITY alike; not merged
    into another case and not rejected. Without coordinates there is nothing to compare
    (an empty list). The score is mostly the text similarity, a little the nearness.
    """
    if lon is None or lat is None or limit <= 0:
        return []
    metres = float(settings.CASE_DUPLICATE_METRES)
    window = datetime.timedelta(days=settings.CASE_DUPLICATE_DAYS)
    min_lon, max_lon, min_lat, max_lat = bounding_box(lon, lat, metres)
    category_id = category.pk if isinstance(category, Category) else category
    candidates = (
        # case_category_time serves category + reported_at; the box is checked on its rows.
        Case.objects.filter(
            category_id=category_id,
            reported_at__gte=at - window,
            reported_at__lte=at + window,
            lon__gte=min_lon,
            lon__lte=max_lon,
            lat__gte=min_lat,
            lat__lte=max_lat,
        )
        .exclude(stage__in=(Stage.MERGED, Stage.REJECTED))
        .order_by("-reported_at")
        .values_list("pk", "lon", "lat", "description")[:MAX_CANDIDATES]
    )
    scored: list[tuple[float, int]] = []
    for pk, c_lon, c_lat, text in candidates:
        if pk == exclude_id or c_lon is None or c_lat is None:
            continue
        distance = distance_metres(lon, lat, c_lon, c_lat)
        if distance > metres:
            continue
        alike = similarity(description, text)
        if alike < MIN_SIMILARITY:
            continue
        nearness = 1 - distance / metres if metres else 1.0
        score = (1 - DISTANCE_WEIGHT) * alike + DISTANCE_WEIGHT * nearness
        scored.append((round(score, 3), pk))
    scored.sort(key=lambda item: (-item[0], -item[1]))
    scored = scored[:limit]
    if not scored:
        return []
    cases = Case.objects.select_related("category").in_bulk([pk for _s, pk in scored])
    return [(cases[pk], score) for score, pk in scored if pk in cases]
