"""The exact placement search against an independent exhaustive one, on instances its heuristics miss."""

from __future__ import annotations

import random

import pytest

from toolkit.model.packing import pack


def meets(i: int, j: int, firsts: list[int], lasts: list[int]) -> bool:
    return firsts[i] <= lasts[j] and firsts[j] <= lasts[i]


def fits_in(sizes: list[int], firsts: list[int], lasts: list[int], height: int) -> bool:
    """Whether some offsets (every integer tried) place all buffers within ``height``."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    offsets: dict[int, int] = {}

    def place(k: int) -> bool:
        if k == len(order):
            return True
        b = order[k]
        for offset in range(height - sizes[b] + 1):
            if all(not meets(b, c, firsts, lasts) or offset + sizes[b] <= o or o + sizes[c] <= offset
                   for c, o in offsets.items()):
                offsets[b] = offset
                if place(k + 1):
                    return True
                del offsets[b]
        return False

    return place(0)


def exhaustive_optimum(sizes: list[int], firsts: list[int], lasts: list[int]) -> int:
    height = pack(sizes, firsts, lasts, node_limit=0).lower_bound
    while not fits_in(sizes, firsts, lasts, height):
        height += 1
    return height


def instances_needing_search(count: int) -> list[tuple[list[int], list[int], list[int]]]:
    """Random instances on which no heuristic order of ``pack`` reaches its lower bound."""
    rng, found = random.Random(5), []
    while len(found) < count:
        n = rng.randint(5, 8)
        sizes = [rng.randint(1, 9) for _ in range(n)]
        firsts = [rng.randint(0, 5) for _ in range(n)]
        lasts = [f + rng.randint(0, 3) for f in firsts]
        if pack(sizes, firsts, lasts).nodes:
            found.append((sizes, firsts, lasts))
    return found


@pytest.mark.parametrize("instance", instances_needing_search(8))
def test_search_finds_the_exhaustive_optimum(instance) -> None:
    sizes, firsts, lasts = instance
    result = pack(sizes, firsts, lasts)
    assert result.proven_optimal
    assert result.size == exhaustive_optimum(sizes, firsts, lasts)
    assert result.size == max(o + s for o, s in zip(result.offsets, sizes))
    for i in range(len(sizes)):
        for j in range(i + 1, len(sizes)):
            if meets(i, j, firsts, lasts):
                a, b = result.offsets[i], result.offsets[j]
                assert a + sizes[i] <= b or b + sizes[j] <= a


def test_a_cut_short_search_says_so_and_still_places_validly() -> None:
    sizes, firsts, lasts = instances_needing_search(1)[0]
    heuristic = pack(sizes, firsts, lasts, node_limit=0)
    assert not heuristic.proven_optimal and heuristic.size > heuristic.lower_bound
    assert heuristic.size >= pack(sizes, firsts, lasts).size


def test_a_chain_packs_at_its_lower_bound() -> None:
    """A chain of layers (each tensor alive with its neighbours): TFLM's largest-first order
    leaves gaps; alternating ends meets the bound."""
    sizes = [3, 5, 4, 6, 2, 5, 3]
    firsts = list(range(len(sizes)))
    lasts = [f + 1 for f in firsts]
    result = pack(sizes, firsts, lasts)
    assert result.size == result.lower_bound == max(a + b for a, b in zip(sizes, sizes[1:]))
    assert result.proven_optimal


def hard_copies(copies: int) -> tuple[list[int], list[int], list[int]]:
    """Copies of an instance the heuristics miss, each at its own time: the search cannot prove the
    whole optimal quickly, and every node costs more as buffers are added."""
    base_sizes, base_firsts, base_lasts = instances_needing_search(1)[0]
    span = max(base_lasts) + 1
    sizes, firsts, lasts = [], [], []
    for k in range(copies):
        sizes += base_sizes
        firsts += [f + span * k for f in base_firsts]
        lasts += [last + span * k for last in base_lasts]
    return sizes, firsts, lasts


def test_the_search_stops_at_its_work_limit_with_a_valid_placement_the_same_every_time() -> None:
    sizes, firsts, lasts = hard_copies(40)
    cells = len(sizes) * len(set(firsts))  # the buffers-by-scopes liveness matrix one node's bound reads
    packing = pack(sizes, firsts, lasts, node_limit=10**9, work_limit=500 * cells)
    assert packing.nodes == 501 and not packing.proven_optimal
    assert pack(sizes, firsts, lasts, node_limit=10**9, work_limit=500 * cells) == packing  # work, not time
    for i in range(len(sizes)):
        for j in range(i):
            if meets(i, j, firsts, lasts):
                a, b = packing.offsets[i], packing.offsets[j]
                assert a + sizes[i] <= b or b + sizes[j] <= a


def test_a_model_too_large_to_search_gets_the_heuristic_placement_without_recursing() -> None:
    sizes, firsts, lasts = hard_copies(1000 // len(hard_copies(1)[0]) + 1)  # deeper than Python's stack
    packing = pack(sizes, firsts, lasts)
    assert packing.nodes == 0 and packing.size >= packing.lower_bound
