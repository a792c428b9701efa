"""Buffers with fixed lifetimes placed in the least memory (dynamic storage allocation), exactly
when the search finishes.

Each buffer has a size and a lifetime [first, last] (inclusive scopes); two buffers alive at a
common scope must not share bytes. The lower bound is the most bytes alive at one scope.

The search rests on one fact: placing buffers one by one, each at the lowest offset free of the
buffers already placed that it meets in time ("first fit"), some order of the buffers gives an
optimal placement; indeed one in which the offsets never decrease along the order (take an
optimal placement, run first fit in order of its offsets: no buffer lands higher, so the result
is optimal too; repeat until nothing moves, which it must as the offsets only fall). So a
depth-first search over such canonical orders (non-decreasing offsets, equal offsets by
increasing index) is complete. It is pruned by a bound: once the last buffer sits at offset L,
every later one sits at L or above, so at each scope the memory needs L, plus what placed
buffers occupy above L, plus every unplaced buffer alive then; and a buffer whose lowest free
slot lies wholly below L can never be placed, so that branch is dead. Heuristic orders (largest
first, longest-lived first, ...) give the first upper bound; the search stops at the lower bound
or after ``node_limit`` nodes or ``work_limit`` units of work (then ``proven_optimal`` is False and
the best placement found is returned). Both bounds count work, not time, so a plan is the same on a
quiet machine and a loaded one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_NODE_LIMIT = 20_000
# A node's bound costs one pass over the buffers-by-scopes liveness matrix: on a large model that
# dominates. 2e8 cells is 20,000 nodes of a 100x100 matrix, about 2 s of one core here.
DEFAULT_WORK_LIMIT = 200_000_000
MAX_SEARCH_BUFFERS = 600  # the search recurses once per buffer; Python's stack allows about 1000


@dataclass(frozen=True)
class Packing:
    offsets: tuple[int, ...]
    size: int
    lower_bound: int
    proven_optimal: bool
    nodes: int  # search nodes visited


class _Problem:
    def __init__(self, sizes: list[int], firsts: list[int], lasts: list[int]) -> None:
        self.n = len(sizes)
        self.sizes = sizes
        self.firsts, self.lasts = np.array(firsts), np.array(lasts)
        # two buffers meet when their lifetimes share a scope
        self.meets = (self.firsts[:, None] <= self.lasts[None, :]) & (self.firsts[None, :] <= self.lasts[:, None])
        np.fill_diagonal(self.meets, False)
        self.neighbours = [np.flatnonzero(row).tolist() for row in self.meets]
        points = np.unique(self.firsts)  # the most bytes alive at once are alive at some buffer's start
        alive = (self.firsts[:, None] <= points[None, :]) & (points[None, :] <= self.lasts[:, None])
        # float64, for BLAS (numpy multiplies integer matrices in a plain loop): byte counts add up
        # exactly far beyond any arena (below 2**53)
        self.alive = alive.astype(np.float64)
        self.size_vector = np.array(sizes, dtype=np.float64)

    def lower_bound(self) -> int:
        return int((self.size_vector @ self.alive).max(initial=0))

    def lowest_fit(self, buffer: int, offsets: list[int]) -> int:
        """The lowest offset where ``buffer`` meets no placed buffer (offsets -1: not placed)."""
        taken = sorted((offsets[j], offsets[j] + self.sizes[j]) for j in self.neighbours[buffer] if offsets[j] >= 0)
        candidate, size = 0, self.sizes[buffer]
        for start, end in taken:
            if start - candidate >= size:
                break
            candidate = max(candidate, end)
        return candidate

    def first_fit(self, order: list[int], fixed: dict[int, int] | None = None) -> list[int]:
        offsets = [(fixed or {}).get(i, -1) for i in range(self.n)]
        for buffer in order:
            offsets[buffer] = self.lowest_fit(buffer, offsets)
        return offsets

    def height(self, offsets: list[int]) -> int:
        return max((o + s for o, s in zip(offsets, self.sizes)), default=0)


class _Search:
    def __init__(self, problem: _Problem, best: list[int], lower_bound: int, node_limit: int, work_limit: int,
                 offsets: list[int], remaining: np.ndarray) -> None:
        self.p = problem
        # kept along the search for ``bound``: the placed buffers' tops (0 for the others), and the
        # bytes of the buffers not yet placed alive at each point
        at = np.array(offsets, dtype=np.float64)
        self.tops = np.where(at >= 0, at + problem.size_vector, 0)
        self.waiting = (problem.size_vector * remaining) @ problem.alive
        self.best = best
        self.best_size = problem.height(best)
        self.lower_bound = lower_bound
        self.node_limit = node_limit
        self.work_limit = work_limit  # each node costs more on larger models: bound the work too
        self.nodes = 0
        self.complete = True

    def bound(self, level: int, waiting: np.ndarray) -> int:
        """The least memory any completion can need: at each point, what placed buffers occupy above
        ``level`` and every waiting buffer alive there, on top of ``level`` (tops are 0 unplaced, and
        level >= 0, so unplaced buffers add nothing above it)."""
        need = np.maximum(self.tops - level, 0) @ self.p.alive + waiting
        return level + int(need.max(initial=0))

    def run(self, offsets: list[int], fits: list[int], level: int, last: int, remaining: np.ndarray,
            height: int) -> None:
        if self.best_size <= self.lower_bound:
            return
        if not remaining.any():
            if height < self.best_size:
                self.best, self.best_size = list(offsets), height
            return
        self.nodes += 1
        if self.nodes > self.node_limit or self.nodes * self.p.alive.size > self.work_limit:
            self.complete = False
            return
        p = self.p
        candidates = []
        for buffer in np.flatnonzero(remaining).tolist():
            fit = fits[buffer]
            if fit + p.sizes[buffer] <= level:
                return  # its free slot stays below every later buffer: no canonical order places it
            if fit > level or (fit == level and buffer > last):
                candidates.append((fit, -p.sizes[buffer], buffer))
        for fit, _, buffer in sorted(candidates):
            top = max(height, fit + p.sizes[buffer])
            if top >= self.best_size:
                continue
            offsets[buffer] = fit
            remaining[buffer] = False
            self.tops[buffer] = fit + p.sizes[buffer]
            waiting = self.waiting - p.alive[buffer] * p.sizes[buffer]
            if self.bound(fit, waiting) < self.best_size:
                child_fits = list(fits)
                end = fit + p.sizes[buffer]
                for other in p.neighbours[buffer]:
                    if remaining[other] and child_fits[other] < end and fit < child_fits[other] + p.sizes[other]:
                        child_fits[other] = p.lowest_fit(other, offsets)
                self.waiting, before = waiting, self.waiting
                self.run(offsets, child_fits, fit, buffer, remaining, top)
                self.waiting = before
            offsets[buffer] = -1
            remaining[buffer] = True
            self.tops[buffer] = 0
            if self.best_size <= self.lower_bound or not self.complete:
                return


def pack(sizes: list[int], firsts: list[int], lasts: list[int], initial: list[int] | None = None,
         node_limit: int = DEFAULT_NODE_LIMIT, work_limit: int = DEFAULT_WORK_LIMIT,
         fixed: dict[int, int] | None = None) -> Packing:
    """Offsets for the buffers (positive sizes) in the least memory the search finds; ``initial``
    is a valid placement to start from (e.g. TFLM's own). ``fixed`` pins buffers at offsets (they
    must not meet each other); the others are placed around them, and the search stays complete:
    first fit around the pinned buffers in the order of an optimal placement's offsets still
    lands no buffer higher. The search recurses once per buffer: past MAX_SEARCH_BUFFERS only
    the heuristic orders are tried."""
    if not sizes:
        return Packing((), 0, 0, True, 0)
    fixed = fixed or {}
    p = _Problem(sizes, firsts, lasts)
    lower_bound = p.lower_bound()
    index = [i for i in range(p.n) if i not in fixed]
    orders = [sorted(index, key=lambda i: -sizes[i]),
              sorted(index, key=lambda i: (-(lasts[i] - firsts[i]), -sizes[i])),
              sorted(index, key=lambda i: (-sizes[i] * (lasts[i] - firsts[i] + 1), i)),
              sorted(index, key=lambda i: (firsts[i], -sizes[i]))]
    starts = [p.first_fit(order, fixed) for order in orders] + ([list(initial)] if initial is not None else [])
    offsets = [fixed.get(i, -1) for i in range(p.n)]
    remaining = np.array([i not in fixed for i in range(p.n)], dtype=bool)
    search = _Search(p, min(starts, key=p.height), lower_bound, node_limit, work_limit, offsets, remaining)
    if p.n > MAX_SEARCH_BUFFERS:
        search.complete = False
    else:
        fits = [p.lowest_fit(i, offsets) if remaining[i] else 0 for i in range(p.n)]
        pinned_top = max((offset + sizes[i] for i, offset in fixed.items()), default=0)
        search.run(offsets, fits, 0, -1, remaining, pinned_top)
    optimal = search.best_size <= lower_bound or search.complete
    return Packing(tuple(search.best), search.best_size, lower_bound, optimal, search.nodes)
