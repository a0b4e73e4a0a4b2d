"""Progress of a bus along its planned route: linear referencing, off-route episodes, stop
arrivals and departures, and ETAs from learned segment times.

All positions are in a local metric CRS (metres); times are seconds. Pure computation,
no I/O.

- :class:`RouteLine` locates points along a route polyline. Routes may overlap themselves
  (loops, out-and-back), so :meth:`RouteLine.locate` searches forward from the previous
  measure within a window instead of taking the globally nearest point.
- :class:`OffRouteTracker` turns distances off the route into episodes with hysteresis:
  an episode starts after ``enter_n`` fixes farther than ``enter_m`` and ends after
  ``exit_n`` fixes closer than ``exit_m``.
- :func:`stop_visits` finds arrivals/departures (with dwell) at stops from a trip's fixes;
  :func:`passage_times` interpolates when each stop's measure was passed.
- :class:`SegmentTimes` learns stop-to-stop running times from past trips and predicts
  arrival times at the next stops, falling back to the schedule (shifted by the bus's
  current delay) where it has no history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import ValidationError

__all__ = [
    "RouteLine",
    "OffRouteTracker",
    "OffRouteEpisode",
    "StopVisit",
    "stop_visits",
    "passage_times",
    "SegmentTimes",
    "horizon_errors",
]

_F = NDArray[np.float64]


class RouteLine:
    """A planned route as a polyline in metres with its cumulative measure."""

    def __init__(self, xy: ArrayLike) -> None:
        a = np.asarray(xy, dtype=float).reshape(-1, 2)
        if len(a) < 2 or not np.all(np.isfinite(a)):
            raise ValidationError("a route needs 2 or more finite points", field="shape")
        keep = np.ones(len(a), bool)
        keep[1:] = np.any(np.diff(a, axis=0) != 0, axis=1)
        a = a[keep]
        if len(a) < 2:
            raise ValidationError("a route needs a non-zero length", field="shape")
        self.xy = a
        self.a = a[:-1]
        self.b = a[1:]
        d = self.b - self.a
        self.seglen = np.hypot(d[:, 0], d[:, 1])
        self.cum = np.concatenate([[0.0], np.cumsum(self.seglen)])
        self.length = float(self.cum[-1])

    def _project(self, px: float, py: float, segs: NDArray[np.int64]) -> tuple[_F, _F]:
        a, b = self.a[segs], self.b[segs]
        ab = b - a
        l2 = np.einsum("ij,ij->i", ab, ab)
        t = np.clip(((px - a[:, 0]) * ab[:, 0] + (py - a[:, 1]) * ab[:, 1]) / l2, 0, 1)
        qx = a[:, 0] + t * ab[:, 0]
        qy = a[:, 1] + t * ab[:, 1]
        return np.hypot(px - qx, py - qy), self.cum[segs] + t * self.seglen[segs]

    def locate(
        self,
        x: float,
        y: float,
        prev: float | None = None,
        back: float = 100.0,
        ahead: float = 5000.0,
    ) -> tuple[float, float]:
        """(measure, distance off) of point x/y; with ``prev``, only the part of the route
        from ``prev - back`` to ``prev + ahead`` is searched."""
        if prev is None:
            segs = np.arange(len(self.a))
        else:
            lo = int(np.searchsorted(self.cum, prev - back, side="right")) - 1
            hi = int(np.searchsorted(self.cum, prev + ahead, side="left"))
            segs = np.arange(max(lo, 0), min(max(hi, lo + 1), len(self.a)))
        d, m = self._project(x, y, segs)
        i = int(np.argmin(d))
        return float(m[i]), float(d[i])

    def locate_many(self, x: ArrayLike, y: ArrayLike, monotone: bool = True,
                    back: float = 100.0, ahead: float = 5000.0) -> tuple[_F, _F]:
        """Measures and distances off of a sequence of points (e.g. one trip), each searched
        forward from the previous one when ``monotone``."""
        xs, ys = np.asarray(x, float), np.asarray(y, float)
        ms = np.empty(len(xs))
        ds = np.empty(len(xs))
        prev: float | None = None
        for i in range(len(xs)):
            ms[i], ds[i] = self.locate(xs[i], ys[i], prev if monotone else None, back, ahead)
            if monotone and ds[i] < 100.0:
                prev = ms[i] if prev is None else max(prev - back, ms[i])
        return ms, ds

    def point_at(self, m: float) -> tuple[float, float]:
        """x/y at measure ``m`` (clamped)."""
        s = min(max(m, 0.0), self.length)
        i = min(int(np.searchsorted(self.cum, s, side="right")) - 1, len(self.a) - 1)
        f = (s - self.cum[i]) / self.seglen[i]
        p = self.a[i] + f * (self.b[i] - self.a[i])
        return float(p[0]), float(p[1])

    def stop_measures(self, xy: ArrayLike) -> _F:
        """Measures of stops given in route order; each stop is searched after the one
        before, so a route that passes a place twice gets the right visit."""
        pts = np.asarray(xy, float).reshape(-1, 2)
        out = np.empty(len(pts))
        prev = 0.0
        for i, (x, y) in enumerate(pts):
            m, _ = self.locate(x, y, prev, back=0.0, ahead=self.length)
            out[i] = m
            prev = m
        return out


@dataclass
class OffRouteEpisode:
    """One stretch off the route: start/end times (end None while ongoing), the largest
    distance off (m) and the measure where the bus left the route."""

    start: float
    end: float | None
    max_off_m: float
    left_at_m: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "max_off_m": round(self.max_off_m, 1),
                "left_at_m": None if self.left_at_m is None else round(self.left_at_m, 1)}


@dataclass
class OffRouteTracker:
    """Hysteresis state machine over (time, distance off route) fixes."""

    enter_m: float = 60.0
    exit_m: float = 35.0
    enter_n: int = 2
    exit_n: int = 2
    episodes: list[OffRouteEpisode] = field(default_factory=list)
    _far: int = 0
    _near: int = 0
    _first_far: float | None = None
    _last_on_m: float | None = None
    _max: float = 0.0

    @property
    def off_route(self) -> bool:
        return bool(self.episodes) and self.episodes[-1].end is None

    def update(self, t: float, off_m: float, measure: float | None = None) -> str | None:
        """Feed one fix; returns ``"start"`` or ``"end"`` when an episode starts or ends."""
        if not self.off_route:
            if off_m > self.enter_m:
                if self._far == 0:
                    self._first_far = t
                    self._max = off_m
                self._far += 1
                self._max = max(self._max, off_m)
                if self._far >= self.enter_n:
                    self.episodes.append(OffRouteEpisode(
                        float(self._first_far if self._first_far is not None else t), None,
                        self._max, self._last_on_m))
                    self._far = 0
                    self._near = 0
                    return "start"
            else:
                self._far = 0
                if off_m <= self.exit_m and measure is not None:
                    self._last_on_m = measure
            return None
        ep = self.episodes[-1]
        ep.max_off_m = max(ep.max_off_m, off_m)
        if off_m < self.exit_m:
            self._near += 1
            if self._near >= self.exit_n:
                ep.end = t
                self._near = 0
                return "end"
        else:
            self._near = 0
        return None


@dataclass
class StopVisit:
    """A bus at a stop: index in the trip's stop list, arrival, departure, dwell (s)."""

    stop_index: int
    arrival: float
    departure: float

    @property
    def dwell(self) -> float:
        return self.departure - self.arrival


def stop_visits(
    t: ArrayLike, measure: ArrayLike, off: ArrayLike, stop_m: ArrayLike,
    radius: float = 50.0, max_off: float = 60.0,
) -> list[StopVisit]:
    """Arrivals and departures at stops from one trip's fixes.

    A fix is *at* stop i when its measure is within ``radius`` of the stop's measure and it
    is within ``max_off`` of the route; consecutive fixes at the same stop form one visit
    (arrival = first fix, departure = last fix).
    """
    tt = np.asarray(t, float)
    mm = np.asarray(measure, float)
    oo = np.asarray(off, float)
    sm = np.asarray(stop_m, float)
    visits: list[StopVisit] = []
    if len(tt) == 0 or len(sm) == 0:
        return visits
    # nearest stop measure to each fix
    j = np.clip(np.searchsorted(sm, mm), 1, len(sm) - 1) if len(sm) > 1 else np.zeros(
        len(mm), np.int64)
    if len(sm) > 1:
        left = np.abs(mm - sm[j - 1]) <= np.abs(mm - sm[j])
        j = np.where(left, j - 1, j)
    at = (np.abs(mm - sm[j]) <= radius) & (oo <= max_off)
    cur: StopVisit | None = None
    done: set[int] = set()
    for i in range(len(tt)):
        if not at[i]:
            cur = None
            continue
        s = int(j[i])
        if cur is not None and cur.stop_index == s:
            cur.departure = float(tt[i])
            continue
        if s in done:
            continue
        cur = StopVisit(s, float(tt[i]), float(tt[i]))
        visits.append(cur)
        done.add(s)
    return visits


def passage_times(t: ArrayLike, measure: ArrayLike, stop_m: ArrayLike) -> _F:
    """Time each stop measure was first reached, interpolated between fixes (NaN if the
    fixes never reach it or start after it)."""
    tt = np.asarray(t, float)
    mm = np.maximum.accumulate(np.asarray(measure, float))
    sm = np.asarray(stop_m, float)
    out = np.full(len(sm), np.nan)
    if len(tt) < 2:
        return out
    idx = np.searchsorted(mm, sm, side="left")
    ok = (idx > 0) & (idx < len(mm))
    i = idx[ok]
    m0, m1 = mm[i - 1], mm[i]
    f = np.where(m1 > m0, (sm[ok] - m0) / np.where(m1 > m0, m1 - m0, 1.0), 0.0)
    out[ok] = tt[i - 1] + f * (tt[i] - tt[i - 1])
    return out


class SegmentTimes:
    """Stop-to-stop running times learned from past trips, for ETAs.

    Segments are keyed by (from stop id, to stop id), so trips of different patterns share
    what they have in common. The estimate for a segment is the median of the observed
    times (at least ``min_obs`` of them), else the scheduled time.
    """

    def __init__(self, min_obs: int = 2) -> None:
        self.min_obs = min_obs
        self._obs: dict[tuple[Any, Any], list[tuple[Any, float]]] = {}

    def learn(self, trip: Any, stop_ids: Sequence[Any], times: ArrayLike) -> None:
        """Record one trip's stop passage times (NaN where not observed)."""
        tt = np.asarray(times, float)
        for k in range(len(stop_ids) - 1):
            a, b = tt[k], tt[k + 1]
            if np.isfinite(a) and np.isfinite(b) and b >= a:
                self._obs.setdefault((stop_ids[k], stop_ids[k + 1]), []).append((trip, b - a))

    def segment(self, a: Any, b: Any, fallback: float, exclude: Any = None) -> float:
        obs = [v for tr, v in self._obs.get((a, b), ()) if tr != exclude]
        if len(obs) >= self.min_obs:
            return float(np.median(obs))
        return fallback

    def eta(
        self,
        now: float,
        measure: float,
        stop_ids: Sequence[Any],
        stop_m: ArrayLike,
        sched: ArrayLike,
        exclude: Any = None,
    ) -> _F:
        """Predicted arrival times at every stop of the trip (NaN for stops passed).

        Parameters
        ----------
        now, measure
            Time of the fix and the bus's measure along the route then.
        stop_ids, stop_m, sched
            The trip's stops in order, their measures and scheduled arrival times
            (same clock as ``now``).
        exclude
            A trip whose own observations must not be used (leave-one-out evaluation).
        """
        sm = np.asarray(stop_m, float)
        sc = np.asarray(sched, float)
        out = np.full(len(sm), np.nan)
        nxt = int(np.searchsorted(sm, measure, side="right"))
        if nxt >= len(sm):
            return out
        # time left on the current segment, pro rata by distance
        if nxt == 0:
            first = sm[0] - measure
            seg_len = max(first, 1.0)
            t_here = now + first / 8.0  # not yet at the first stop: assume 8 m/s
            out[0] = t_here
            start = 1
        else:
            a, b = nxt - 1, nxt
            seg_len = max(sm[b] - sm[a], 1.0)
            full = self.segment(stop_ids[a], stop_ids[b], sc[b] - sc[a], exclude)
            frac = min(max((sm[b] - measure) / seg_len, 0.0), 1.0)
            out[b] = now + frac * full
            start = b + 1
        for k in range(start, len(sm)):
            full = self.segment(stop_ids[k - 1], stop_ids[k], sc[k] - sc[k - 1], exclude)
            out[k] = out[k - 1] + full
        return out


def horizon_errors(
    pred: Iterable[tuple[float, float, float]], bins: Sequence[tuple[float, float]]
) -> list[dict[str, float]]:
    """MAE and p90 of |error| (s) per horizon bin from (made_at, predicted, actual)."""
    arr = np.asarray(list(pred), float).reshape(-1, 3)
    out = []
    for lo, hi in bins:
        h = arr[:, 2] - arr[:, 0]
        sel = (h >= lo) & (h < hi) & np.isfinite(arr[:, 1]) & np.isfinite(arr[:, 2])
        err = np.abs(arr[sel, 1] - arr[sel, 2])
        out.append({"from_s": lo, "to_s": hi, "n": int(sel.sum()),
                    "mae_s": float(err.mean()) if err.size else float("nan"),
                    "p90_s": float(np.percentile(err, 90)) if err.size else float("nan")})
    return out
