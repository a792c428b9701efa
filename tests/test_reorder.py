"""The operator order search against every topological order, each measured by the arena planner's
own lifetimes on the rewritten model."""

from __future__ import annotations

import pytest

from toolkit.model.arena import place_head
from toolkit.model.graph import read_subgraphs
from toolkit.model.reorder import best_order
from toolkit.model.rewrite import rewrite_model

from branchy_models import inception, random_branchy, residual
from stateful_models import STATEFUL_MODELS


def topological_orders(data: bytes) -> list[tuple[int, ...]]:
    graph = read_subgraphs(data)[0]
    producer = {t: op.index for op in graph.ops for t in op.outputs}
    needs = [{producer[t] for t in op.inputs if t in producer} for op in graph.ops]
    orders: list[tuple[int, ...]] = []

    def extend(order: tuple[int, ...]) -> None:
        if len(order) == len(graph.ops):
            orders.append(order)
        for op in range(len(graph.ops)):
            if op not in order and needs[op] <= set(order):
                extend(order + (op,))

    extend(())
    return orders


def is_topological(data: bytes, order: tuple[int, ...]) -> bool:
    graph = read_subgraphs(data)[0]
    producer = {t: op.index for op in graph.ops for t in op.outputs}
    position = {op: i for i, op in enumerate(order)}
    return sorted(order) == list(range(len(graph.ops))) and all(
        position[producer[t]] < position[op.index] for op in graph.ops for t in op.inputs if t in producer)


def peak_in_order(data: bytes, order: tuple[int, ...]) -> int:
    return place_head(rewrite_model(data, order), None).lower_bound


@pytest.mark.parametrize("build", [lambda: inception(branches=3), lambda: residual(blocks=2),
                                   lambda: random_branchy(1)], ids=["inception", "residual", "random"])
def test_the_search_finds_the_least_peak_of_all_orders(build) -> None:
    data = build()
    orders = topological_orders(data)
    assert 5 < len(orders) < 2000
    least = min(peak_in_order(data, order) for order in orders)
    found = best_order(read_subgraphs(data)[0])
    assert found.exact and found.order in orders
    assert found.peak == peak_in_order(data, found.order) == least
    assert found.original_peak == peak_in_order(data, tuple(range(len(found.order))))
    assert found.peak < found.original_peak and found.changed


def test_an_order_already_best_is_kept() -> None:
    data = inception(branches=3)
    best = best_order(read_subgraphs(data)[0])
    again = best_order(read_subgraphs(rewrite_model(data, best.order))[0])
    assert not again.changed and again.peak == best.peak


def test_a_narrow_beam_is_not_exact_but_still_a_valid_order() -> None:
    data = random_branchy(5)
    found = best_order(read_subgraphs(data)[0], state_limit=1)
    assert not found.exact
    assert is_topological(data, found.order)
    assert peak_in_order(data, found.order) == found.peak <= found.original_peak


def test_scratch_buffers_count_while_their_operator_runs() -> None:
    """The reduce ops' scratch buffers: the search's peak is the planner's for the same order."""
    data = STATEFUL_MODELS["reduce"]()
    found = best_order(read_subgraphs(data)[0])
    assert found.peak == peak_in_order(data, found.order)
