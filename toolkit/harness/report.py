"""Human-readable tables for bench results and board info (rich renderables; the CLI prints them)."""

from __future__ import annotations

from rich.markup import escape
from rich import box
from rich.table import Table

from toolkit.harness.modelled import is_modelled
from toolkit.model.verdict import problem_counts
from toolkit.protocol import NO_SLOT, Info

SIMULATED_NOTE = ("[bold yellow]SIMULATED[/] rows come from the virtual board's models (latency, heap, stack, current, "
                  "energy), not a chip; outputs, accuracy and arena are computed by TFLite-Micro as on a board")
SIMULATED_TAG = "[yellow]simulated[/]"


def _fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def bench_table(summary: dict) -> Table:
    """The run's figures, one a row; on a virtual board the modelled rows say simulated."""
    simulated = bool(summary["simulated"])
    kind = " (virtual board)" if simulated else ""
    table = Table(title=f"bench on {escape(summary['board'])}{kind}: {summary['n']} inferences", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    if simulated:
        table.add_column("kind")

    def row(name: str, value: str, figure: str | None = None) -> None:
        tag = SIMULATED_TAG if figure is not None and is_modelled(figure) else ""
        table.add_row(name, value, *([tag] if simulated else []))

    lat = summary["latency_us"]
    row("latency median / p90", f"{_fmt(lat['median'] / 1000, ' ms', 3)} / {_fmt(lat['p90'] / 1000, ' ms', 3)}",
        "latency_us")
    row("latency min / max", f"{_fmt(lat['min'] / 1000, ' ms', 3)} / {_fmt(lat['max'] / 1000, ' ms', 3)}", "latency_us")
    if "input_copy_us" in summary:
        copy = summary["input_copy_us"]
        row("input copy (setValue loop) median / p90",
            f"{_fmt(copy['median'] / 1000, ' ms', 3)} / {_fmt(copy['p90'] / 1000, ' ms', 3)}", "input_copy_us")
    row("arena used", _fmt(summary["arena_used_bytes"], " B"), "arena_used_bytes")
    row("heap free (minimum)", _fmt(summary["heap_free_min_bytes"], " B"), "heap_free_min_bytes")
    current = summary["current_ma"]
    row("current mean / peak", f"{_fmt(current['mean'], ' mA')} / {_fmt(current['peak'], ' mA')}" if current
        else "no sensor", "current_ma" if current else None)
    energy = summary["energy_uj_per_inference"]
    row("energy per inference", _fmt(energy, " uJ"), "energy_uj_per_inference" if energy is not None else None)
    match = summary["outputs_match_reference"]
    row("outputs equal host reference", "[green]yes[/]" if match else f"[red]no[/] ({summary['mismatches']} differ)",
        "outputs_match_reference")
    if "accuracy" in summary:
        row("accuracy on device / host", f"{summary['accuracy']:.2%} / {summary['host_accuracy']:.2%}", "accuracy")
    row("firmware", escape(summary["firmware"]))
    row("model", summary["model_sha256"][:16] + ("  (uploaded)" if summary.get("model_uploaded") else ""))
    row("stored", escape(f"{summary['results_store']} run {summary['run_id']}"))
    return table


def power_table(power: dict) -> Table:
    """Energy per inference from a power meter (``espml bench --power``)."""
    notes = [n for n, on in (("simulated", power["simulated"]), ("approximate: no marker, or too slow a sensor",
                                                                    power["approximate"])) if on]
    table = Table(title=f"energy per inference by {power['meter']}" + (f" ({'; '.join(notes)})" if notes else ""),
                  title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    simulated = bool(power["simulated"])
    if simulated:
        table.add_column("kind")

    def row(name: str, value: str, modelled: bool = True) -> None:
        """Energies, currents and window lengths of a virtual board's trace are simulated; counts are not."""
        table.add_row(name, value, *([SIMULATED_TAG if modelled else ""] if simulated else []))

    spread = power["spread_uj"]
    row("energy above idle (median)", _fmt(power["energy_uj"], " uJ", 2))
    row("energy from the supply (median)", _fmt(power["energy_gross_uj"], " uJ", 2))
    row("spread p10 / p90", f"{_fmt(spread['p10'], ' uJ', 2)} / {_fmt(spread['p90'], ' uJ', 2)}")
    row("windows / inferences per window", f"{power['windows']} / {power['group']}", False)
    row("window (median)", _fmt(power["window_us_median"] / 1000, " ms", 3))
    row("idle current", _fmt(power["idle_ma"], " mA", 2))
    dropped = ", ".join(f"{k} {v}" for k, v in power["dropped_windows"].items() if v) or "none"
    row("windows left out", dropped, False)
    row("lost samples", f"[red]{power['lost_samples']:,}[/]" if power["lost_samples"] else "0", False)
    return table


def profile_table(profile: dict) -> Table:
    """Per-op time on the board next to inspect's estimate (``espml bench --profile``)."""
    sim = " (simulated: the virtual board answers from the same cost model as the estimate)" if profile["simulated"] else ""
    listed = len(profile["ops"])
    more = f", {profile['op_count'] - listed} more not listed" if profile["op_count"] > listed else ""
    table = Table(title=f"per-op time{sim}: {profile['latency_us'] / 1000:.3f} ms over {profile['op_count']} ops{more}",
                  title_justify="left")
    for column in ("#", "op", "board us", "estimate us", "board / estimate"):
        table.add_column(column, justify="left" if column == "op" else "right")
    for op in profile["ops"]:
        estimate = op["estimated_us"]
        ratio = f"{op['device_us'] / estimate:.2f}x" if estimate else "-"
        table.add_row(str(op["index"]), op["op"], str(op["device_us"]), _fmt(estimate), ratio)
    return table


def locate_table(found: dict) -> Table:
    """``espml bench --locate``: the first op whose output differs, its tensors and its neighbours."""
    op = found["op"]
    table = Table(title=f"first differing op (input sample {found['sample']}): op {op['index']} {op['kind']} "
                        f"({found['probe_uploads']} probe uploads, model restored: "
                        f"{'yes' if found['restore_uploads'] else 'no upload needed'})", title_justify="left")
    for column in ("", "op", "tensor", "shape", "differ", "max |diff|"):
        table.add_column(column, justify="right" if column in ("differ", "max |diff|") else "left")
    for tensor in op["inputs"]:
        table.add_row("input", str(op["index"]), f"{tensor['index']} {tensor['name']}", "", tensor["state"], "")
    for tensor in op["outputs"]:
        table.add_row("[red]output[/]", str(op["index"]), f"{tensor['index']} {tensor['name']}",
                      "x".join(map(str, tensor["shape"])), f"{tensor['differing']:,} of {tensor['elements']:,}",
                      _fmt(tensor["max_abs_diff"], "", 0 if tensor["dtype"].startswith(("int", "uint")) else 4))
    for near in found["neighbours"]:
        state = {True: "[red]output differs[/]", False: "output agrees", None: "not compared"}[near["outputs_differ"]]
        table.add_row("before" if near["index"] < op["index"] else "after", str(near["index"]), near["kind"], "",
                      state, "")
    return table


def info_table(info: Info) -> Table:
    table = Table(title=escape(f"{info.board}: {info.firmware_name} {info.firmware_version}")
                  + (" (virtual board)" if info.simulated else ""), title_justify="left")
    table.add_column("field")
    table.add_column("value")
    slot = "none" if info.model_slot == NO_SLOT else "AB"[info.model_slot] if info.model_slot < 2 else str(info.model_slot)
    table.add_row("protocol version", str(info.protocol_version))
    table.add_row("CPU", f"{info.cpu_mhz} MHz")
    table.add_row("max frame payload", f"{info.max_payload} B")
    table.add_row("model slot", slot)
    table.add_row("model", f"{info.model_sha256.hex()[:16]} ({info.model_size:,} B)" if info.model_size else "none")
    table.add_row("model ready", "yes" if info.model_ready else "no")
    table.add_row("tensor arena", f"{info.arena_size:,} B")
    table.add_row("heap free internal / PSRAM", f"{info.heap_free_internal:,} / {info.heap_free_psram:,} B")
    table.add_row("current sensor", "yes" + (" (simulated)" if info.simulated else "") if info.has_current_sensor else "no")
    table.add_row("takes model uploads", "yes" if info.accepts_upload else "no")
    table.add_row("registered ops", escape(", ".join(info.ops)))
    return table


def info_dict(info: Info) -> dict:
    return {
        "protocol_version": info.protocol_version, "board": info.board, "firmware": info.firmware_name,
        "firmware_version": info.firmware_version, "cpu_mhz": info.cpu_mhz, "max_payload": info.max_payload,
        "model_slot": None if info.model_slot == NO_SLOT else info.model_slot, "model_size": info.model_size,
        "model_sha256": info.model_sha256.hex() if info.model_size else None, "model_ready": info.model_ready,
        "arena_size": info.arena_size, "heap_free_internal": info.heap_free_internal,
        "heap_free_psram": info.heap_free_psram, "current_sensor": info.has_current_sensor,
        "accepts_upload": info.accepts_upload, "ops": list(info.ops), "simulated": info.simulated,
    }


def inspect_tables(report) -> list:
    """The op table, then the budget lines (green when they fit, red when not), then problems."""
    ops = Table(title=f"{report.model_bytes:,}-byte model on {report.board}"
                + ("" if report.esp_nn else " (plain C kernels, no ESP-NN)"), title_justify="left",
                box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)  # 80 columns hold the longest op name
    longest = max((len(op.kind) for op in report.ops), default=2)
    # "estimate": how sure the time is (measured, modelled, extrapolated, assumed); --json gives its basis
    for column in ("#", "op", "output", "MACs", "weights", "est. ms", "estimate"):
        ops.add_column(column, justify="left" if column in ("op", "output", "estimate") else "right",
                       no_wrap=column in ("op", "est. ms"), min_width=longest if column == "op" else None)
    for op in report.ops:
        kind = escape(op.kind) if op.supported else f"[red]{escape(op.kind)}[/]"
        sure = f"{op.confidence}, float" if op.computes_in_float else op.confidence
        ops.add_row(str(op.index), kind, "x".join(map(str, op.output_shape)), f"{op.macs:,}", f"{op.weight_bytes:,}",
                    f"{op.estimated_us / 1000:,.3f}", sure)
    ops.add_row("", "[bold]total[/]", "", f"{report.macs:,}", f"{sum(o.weight_bytes for o in report.ops):,}",
                f"[bold]{report.estimated_latency_ms:,.3f}[/]", "")
    memory = Table(title="memory", title_justify="left")
    memory.add_column("item")
    memory.add_column("used", justify="right")
    memory.add_column("available", justify="right")
    memory.add_column("margin", justify="right")
    bits = 8 * report.pointer_size
    memory.add_row(f"arena head (activations, peak at op {report.peak_op})", f"{report.arena_head_bytes:,}", "", "")
    uncounted = " + some custom ops not counted: a lower bound" if report.arena_uncounted_ops else ""
    memory.add_row(f"arena tail (TFLM structures, {bits}-bit{uncounted})", f"{report.arena_tail_bytes:,}", "", "")
    for budget in report.budgets:
        colour = "green" if budget.fits else "red"
        memory.add_row(f"[{colour}]{budget.name}[/]", f"{budget.used:,}", f"{budget.available:,}",
                       f"[{colour}]{budget.margin:,}[/]")
    tables = [ops, memory]
    if report.problems:
        problems = Table(title="[red]will not run on this firmware[/]", title_justify="left")
        for column in ("op", "ops", "why", "what to do"):
            problems.add_column(column, justify="right" if column == "ops" else "left", no_wrap=column == "op")
        for op, reason, hint, count in problem_counts(report):
            problems.add_row(escape(op), str(count), reason, hint)
        tables.append(problems)
    return tables
