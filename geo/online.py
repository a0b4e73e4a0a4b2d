"""Online (fixed-lag) HMM map matching for one live vehicle.

:class:`OnlineMatcher` takes fixes one at a time. It keeps the Viterbi lattice of the last
``lag`` scored fixes; each new fix extends the lattice by one step (candidates and the
route distances from the previous step, both from :class:`geo.mapmatch.MapMatcher`), and
the fix that falls out of the lag window is *committed*: its match is then final, and the
committed edges grow in driving order with the connecting path filled in. The latest
fix always has a provisional match (the best current candidate), for live display.

Same models as the batch matcher; a break (no possible transition) starts a new chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from geo.mapmatch import MapMatcher

__all__ = ["OnlineMatcher", "OnlineMatch"]


@dataclass
class OnlineMatch:
    """A matched fix: its sequence number, edge index, metres along it, snapped x/y."""

    seq: int
    t: float
    edge: int
    offset: float
    x: float
    y: float
    final: bool


@dataclass
class _Step:
    seq: int
    t: float
    xy: NDArray[np.float64]
    edge: NDArray[np.int64]
    off: NDArray[np.float64]
    q: NDArray[np.float64]
    score: NDArray[np.float64]
    back: NDArray[np.int64] | None = None  # index into the previous step's candidates
    win: dict = field(default_factory=dict)  # shortest-path tree for the step into this


class OnlineMatcher:
    """Fixed-lag Viterbi over a stream of fixes (local metric x/y, seconds)."""

    def __init__(self, matcher: MapMatcher, lag: int = 8) -> None:
        self.m = matcher
        self.lag = max(int(lag), 1)
        self._steps: list[_Step] = []
        self._seq = 0
        self.committed: list[OnlineMatch] = []
        self.edges: list[int] = []  # committed edges in driving order
        self.breaks = 0
        self._last_committed: tuple[int, float] | None = None  # (edge, offset)
        self._last_win: dict = {}

    def push(self, x: float, y: float, t: float) -> OnlineMatch | None:
        """Add one fix; returns its provisional match (None if no road is near)."""
        p = self.m.params
        seq = self._seq
        self._seq += 1
        xy = np.array([[x, y]], float)
        if not np.all(np.isfinite(xy)):
            return None
        if self._steps:
            last = self._steps[-1]
            min_move = 2.0 * p.sigma if p.min_move is None else p.min_move
            if float(np.hypot(*(xy[0] - last.xy))) < min_move:
                return self.current(seq, t)
        ptr, edge, off, dist, q = self.m.candidates(xy)
        if len(edge) == 0:
            return None
        emis = -0.5 * (dist / p.sigma) ** 2
        step = _Step(seq, t, xy[0], edge, off, q, emis)
        if self._steps:
            prev = self._steps[-1]
            kxy = np.vstack([prev.xy, xy[0]])
            gc = np.array([float(np.hypot(*(kxy[1] - kxy[0])))])
            dt = np.array([t - prev.t])
            cnt = np.array([len(prev.edge), len(edge)], np.int64)
            cptr = np.array([0, len(prev.edge), len(prev.edge) + len(edge)], np.int64)
            ce = np.concatenate([prev.edge, edge])
            co = np.concatenate([prev.off, off])
            trans, _, wins, _ = self.m._transitions(kxy, gc, dt, cnt, cptr, ce, co)
            block = trans.reshape(len(prev.edge), len(edge)) + prev.score[:, None]
            best = block.argmax(axis=0)
            top = block[best, np.arange(len(edge))]
            if np.isfinite(top).any():
                step.score = top + emis
                step.score -= step.score.max()
                step.back = best
                step.win = wins[0] if wins else {}
            else:
                self._flush()
                self.breaks += 1
        self._steps.append(step)
        if len(self._steps) > self.lag:
            self._commit_oldest()
        return self.current(seq, t)

    def current(self, seq: int | None = None, t: float | None = None) -> OnlineMatch | None:
        """Provisional match of the newest scored fix."""
        if not self._steps:
            return None
        s = self._steps[-1]
        i = int(np.argmax(s.score))
        return OnlineMatch(s.seq if seq is None else seq, s.t if t is None else t,
                           int(s.edge[i]), float(s.off[i]), float(s.q[i, 0]),
                           float(s.q[i, 1]), False)

    def _best_path(self) -> list[int]:
        """Candidate index per pending step along the best current path."""
        idx = [int(np.argmax(self._steps[-1].score))]
        for k in range(len(self._steps) - 1, 0, -1):
            b = self._steps[k].back
            idx.append(int(b[idx[-1]]) if b is not None else 0)
        return idx[::-1]

    def _commit(self, step: _Step, i: int, win: dict) -> None:
        e, o = int(step.edge[i]), float(step.off[i])
        if self._last_committed is None:
            self.edges.append(e)
        else:
            pe, po = self._last_committed
            if not (pe == e and o >= po - self.m.params.back_tol):
                if win:
                    self.edges.extend(self.m._path_edges(win, pe, e))
                self.edges.append(e)
        self._last_committed = (e, o)
        self.committed.append(OnlineMatch(step.seq, step.t, e, o, float(step.q[i, 0]),
                                          float(step.q[i, 1]), True))

    def _commit_oldest(self) -> None:
        path = self._best_path()
        old = self._steps.pop(0)
        self._commit(old, path[0], old.win)
        if self._steps:
            # the new oldest keeps only the chosen predecessor's chain
            self._steps[0].back = None

    def _flush(self) -> None:
        """Commit every pending step (end of a chain)."""
        if not self._steps:
            return
        path = self._best_path()
        for step, i in zip(self._steps, path, strict=True):
            self._commit(step, i, step.win)
        self._steps = []
        self._last_committed = None

    def finish(self) -> list[OnlineMatch]:
        """Commit all pending fixes (end of the stream); returns all committed matches."""
        self._flush()
        return self.committed
