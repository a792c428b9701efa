"""The model as a torch.fx graph with tensor shapes, and small edits on it."""

from __future__ import annotations

import numpy as np

from toolkit.errors import ToolkitError


class GraphError(ToolkitError):
    """The model cannot be traced into a graph these stages understand."""


def trace(model, sample: np.ndarray):
    """Trace a copy of ``model`` (eval mode; the original is never changed) and record shapes."""
    import copy

    import torch
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    if isinstance(model, torch.jit.ScriptModule):
        raise GraphError("a TorchScript model has no module graph these stages can edit",
                         "give the Python model (MODULE:FACTORY) to optimise it; TorchScript is quantised as it is")
    try:
        # A GraphModule is traced again too: layers an earlier stage replaced by a Sequential
        # (separable, lowrank) become nodes of their own that later stages can see through.
        graph = symbolic_trace(copy.deepcopy(model).eval())
    except Exception as exc:  # fx raises many kinds on data-dependent control flow
        raise GraphError(f"the model cannot be traced with torch.fx: {str(exc).splitlines()[0]}",
                         "avoid data-dependent Python control flow in forward()") from None
    ShapeProp(graph.eval()).propagate(torch.from_numpy(np.ascontiguousarray(sample[:1], dtype=np.float32)))
    return graph


def module(graph, node):
    return graph.get_submodule(node.target) if node.op == "call_module" else None


def shape(node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else ()


def bypass(graph, node) -> None:
    """Remove a one-input node, wiring its users to its input."""
    node.replace_all_uses_with(node.args[0])
    graph.graph.erase_node(node)


def finish(graph):
    graph.graph.lint()
    graph.delete_all_unused_submodules()
    graph.recompile()
    return graph
