"""An offline plan for a banded model in which slices and band outputs cost no copies' memory.

The rewritten stage (``patch.py``, slices first) cuts every band's rows out of the image before
the first band runs; each slice is a view of the image (``views.py``), so placed inside it, it
only keeps those rows alive: the image's rows die as the last band needing them starts. Each
band's output is placed where it lands in the joined map, so the final CONCATENATION copies
nothing new into memory. The joined map sits at offset 0 and the image above it, as low as no
band output meets a row some later band still reads; every other tensor (the bands' working
maps, the rest of the model) is packed around these by the exact placement search
(``packing.py``), the pinned bytes given to it as disjoint fixed rectangles.
"""

from __future__ import annotations

from toolkit.model.arena import ARENA_ALIGNMENT, head_buffers, place_head
from toolkit.model.packing import DEFAULT_WORK_LIMIT, pack
from toolkit.model.graph import read_subgraphs
from toolkit.model.plan_metadata import ONLINE
from toolkit.model.views import tensor_views, view_root

SCAN_STEPS, SCAN_RANGE = 8, 4  # the image's base is tried every 1/8 of its size, over 4 sizes above its lowest


def band_view_offsets(data: bytes, work_limit: int = DEFAULT_WORK_LIMIT) -> tuple[int, ...] | None:
    """Offsets (one per tensor, ONLINE for TFLM's planner) pinning the two view groups, or None
    when the model has not exactly one sliced image and one joined map, aligned."""
    graph = read_subgraphs(data)[0]
    if len(read_subgraphs(data)) != 1:
        return None
    views = tensor_views(data)
    groups: dict[int, list[int]] = {}
    for tensor in views:
        groups.setdefault(view_root(views, tensor)[0], []).append(tensor)
    sliced = [root for root, members in groups.items()
              if graph.ops[_producer(graph, members[0])].kind == "STRIDED_SLICE"]
    joined = [root for root in groups if root not in sliced]
    if len(sliced) != 1 or len(joined) != 1:
        return None
    if any(view_root(views, t)[1] % ARENA_ALIGNMENT for t in views):
        return None  # kernels may load their operands with aligned vector loads
    lifetimes = {b.tensor: (b.first, b.last, b.size) for b in head_buffers(data)[0]
                 if b.subgraph == 0 and b.tensor >= 0}
    image, joint = sliced[0], joined[0]
    image_pieces = [(t, view_root(views, t)[1]) for t in [image] + groups[image] if t in lifetimes]
    joint_pieces = [(t, view_root(views, t)[1]) for t in [joint] + groups[joint] if t in lifetimes]
    if len(image_pieces) != len(groups[image]) + 1 or len(joint_pieces) != len(groups[joint]) + 1:
        return None
    best = None
    for pinned in _layouts(data, image_pieces, joint_pieces, lifetimes, work_limit):
        if best is not None and min(pinned.values()) >= best[0]:
            continue
        offsets = _fit_around(data, pinned, len(graph.tensors), work_limit)
        size = place_head(data, offsets).size
        if best is None or size < best[0]:
            best = (size, offsets)
    return best[1]


def view_lower_bound(data: bytes) -> int:
    """The most bytes alive at once when views share their tensor's bytes: no plan of the banded
    model needs less (each group of views counted as the union of its live pieces)."""
    views = tensor_views(data)
    grouped = set(views) | {root for root, _ in views.values()}
    buffers = [b for b in head_buffers(data)[0] if b.subgraph == 0]
    worst = 0
    for scope in sorted({b.first for b in buffers}):
        live = [b for b in buffers if b.first <= scope <= b.last]
        spans: dict[int, list[tuple[int, int]]] = {}
        for b in live:
            if b.tensor >= 0 and b.tensor in grouped:
                root, at = view_root(views, b.tensor)
                spans.setdefault(root, []).append((at, at + b.size))
        plain = sum(b.size for b in live if b.tensor < 0 or b.tensor not in grouped)
        worst = max(worst, plain + sum(_union(intervals) for intervals in spans.values()))
    return worst


def _union(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for low, high in sorted(intervals):
        if end is None or low > end:
            total, end = total + high - low, high
        elif high > end:
            total, end = total + high - end, high
    return total


def _layouts(data: bytes, image_pieces, joint_pieces, lifetimes, work_limit: int) -> list[dict[int, int]]:
    """Where to pin the two groups: the joined map at 0 with the image as low above it as the
    bands allow; and the groups where the packer puts each as one block among the model's other
    tensors, as they are and with the image lowered onto the joined map the same way."""
    image, joint = image_pieces[0][0], joint_pieces[0][0]
    blocks = {image: (min(lifetimes[t][0] for t, _ in image_pieces), max(lifetimes[t][1] for t, _ in image_pieces)),
              joint: (min(lifetimes[t][0] for t, _ in joint_pieces), max(lifetimes[t][1] for t, _ in joint_pieces))}
    members = {t for t, _ in image_pieces + joint_pieces}
    others = [b for b in head_buffers(data)[0] if b.subgraph == 0 and b.tensor >= 0 and b.tensor not in members]
    sizes = [b.size for b in others] + [lifetimes[image][2], lifetimes[joint][2]]
    firsts = [b.first for b in others] + [blocks[image][0], blocks[joint][0]]
    lasts = [b.last for b in others] + [blocks[image][1], blocks[joint][1]]
    packed = pack(sizes, firsts, lasts, work_limit=work_limit).offsets
    at_image, at_joint = packed[-2], packed[-1]
    lowered = _image_base(image_pieces, joint_pieces, lifetimes)

    def pinned(joint_base: int, image_base: int) -> dict[int, int]:
        placed = {t: joint_base + at for t, at in joint_pieces}
        placed.update({t: image_base + at for t, at in image_pieces})
        return placed

    step = max(ARENA_ALIGNMENT, lifetimes[image][2] // SCAN_STEPS // ARENA_ALIGNMENT * ARENA_ALIGNMENT)
    scan = [pinned(0, lowered + k * step) for k in range(1, SCAN_RANGE * SCAN_STEPS)]
    return [pinned(0, lowered), pinned(at_joint, at_image), pinned(at_joint, at_joint + lowered)] + scan


def _fit_around(data: bytes, pinned: dict[int, int], count: int, work_limit: int) -> tuple[int, ...]:
    """Every planned tensor's offset: ``pinned`` as given, the others packed around them by the
    exact search (``packing.pack``; scratch buffers stay TFLM's to place)."""
    buffers = [b for b in head_buffers(data)[0] if b.subgraph == 0 and b.tensor >= 0]
    free = [b for b in buffers if b.tensor not in pinned]
    obstacles = _disjoint([(pinned[b.tensor], b.size, b.first, b.last) for b in buffers if b.tensor in pinned])
    sizes = [b.size for b in free] + [size for _, size, _, _ in obstacles]
    firsts = [b.first for b in free] + [first for _, _, first, _ in obstacles]
    lasts = [b.last for b in free] + [last for _, _, _, last in obstacles]
    fixed = {len(free) + i: offset for i, (offset, _, _, _) in enumerate(obstacles)}
    packing = pack(sizes, firsts, lasts, fixed=fixed, work_limit=work_limit)
    planned = [ONLINE] * count
    planned_pins = dict(pinned)
    for buffer, offset in zip(free, packing.offsets):
        planned_pins[buffer.tensor] = offset
    for tensor, offset in planned_pins.items():
        planned[tensor] = offset
    return tuple(planned)


def _disjoint(pieces: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """(offset, size, first, last) rectangles, views of one another overlapping, as disjoint ones
    covering the same bytes over the same scopes: each byte segment between piece edges, for
    each run of scopes some piece covering it is alive."""
    edges = sorted({p[0] for p in pieces} | {p[0] + p[1] for p in pieces})
    rectangles = []
    for low, high in zip(edges, edges[1:]):
        spans = sorted((first, last) for offset, size, first, last in pieces if offset <= low and high <= offset + size)
        runs: list[list[int]] = []
        for first, last in spans:
            if runs and first <= runs[-1][1] + 1:
                runs[-1][1] = max(runs[-1][1], last)
            else:
                runs.append([first, last])
        rectangles += [(low, high - low, first, last) for first, last in runs]
    return rectangles


def _producer(graph, tensor: int) -> int:
    return next(op.index for op in graph.ops if tensor in op.outputs)


def _image_base(image_pieces, joint_pieces, lifetimes) -> int:
    """The lowest offset for the image (its slices with it) at which no piece of the joined map
    shares bytes with a piece of the image alive at the same time."""
    def meets(a: int, b: int) -> bool:
        return lifetimes[a][0] <= lifetimes[b][1] and lifetimes[b][0] <= lifetimes[a][1]

    pairs = [(j, at_j, i, at_i) for j, at_j in joint_pieces for i, at_i in image_pieces if meets(j, i)]
    candidates = sorted({0} | {max(0, at_j + lifetimes[j][2] - at_i) for j, at_j, i, at_i in pairs})
    for base in candidates:
        if all(at_j + lifetimes[j][2] <= base + at_i or base + at_i + lifetimes[i][2] <= at_j
               for j, at_j, i, at_i in pairs):
            return base
    return candidates[-1]  # the highest candidate clears every joined piece
