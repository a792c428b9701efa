"""The thin command line: parse, call the library, print; ToolkitError becomes one line and an exit code."""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
import threading
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from toolkit import __version__
from toolkit.errors import ToolkitError

DEFAULT_DB = ".espml/results.sqlite"
console = Console()
errors = Console(stderr=True)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:>8}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                    console=errors, transient=True)


def _progress_callback(progress: Progress):
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done)

    return update


def _json_safe(value):
    """JSON has no NaN or Infinity: a figure that is not finite is written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def _write_json(path: str | None, data: dict) -> None:
    if path is None:
        return
    text = json.dumps(_json_safe(data), indent=2, allow_nan=False)
    if path == "-":
        console.print_json(text)
        return
    try:
        Path(path).write_text(text + "\n")
    except OSError as exc:
        raise ToolkitError(f"cannot write {path}: {exc.strerror}", "give a writable path for --json") from None


def cmd_info(args: argparse.Namespace) -> int:
    from toolkit.harness import Session
    from toolkit.harness.report import info_dict, info_table

    if args.target == "micropython":
        return _micropython_info(args)
    with Session.open(args.port, timeout=args.timeout) as session:
        info = session.hello()
    if args.json:
        _write_json(args.json, info_dict(info))
    if args.json != "-":
        console.print(info_table(info))
    return 0


def _micropython_info(args: argparse.Namespace) -> int:
    """What a MicroPython board has, asked through its raw REPL (the agent need not run)."""
    from dataclasses import asdict

    from rich.table import Table

    from toolkit.micropython.deploy import probe, raw_repl

    with raw_repl(args.port) as transport:
        state = asdict(probe(transport))
    _write_json(args.json, state)
    if args.json != "-":
        table = Table(title=f"MicroPython board on {args.port}", title_justify="left", show_header=False)
        for key, value in state.items():
            table.add_row(key.replace("_", " "), escape(str(value)))
        console.print(table)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from toolkit.harness import BenchInterrupted, BenchPlan, BenchStopped, ResultsStore, Session, run_bench
    from toolkit.harness.inputs import model_inputs
    from toolkit.harness.report import SIMULATED_NOTE, bench_table, locate_table, power_table, profile_table
    from toolkit.model import load_model

    model = load_model(args.model)
    samples = model_inputs(args.inputs, model, args.model, args.preprocess)
    loader = None
    if args.target == "micropython":  # the agent and the model go onto its filesystem, then it speaks the protocol
        from toolkit.micropython.deploy import FilesystemLoader, deploy

        deploy(args.port, model)
        loader = FilesystemLoader(args.port)
    profile = args.profile and args.target != "micropython"  # microlite has no per-op timing
    store = ResultsStore(args.db)
    power = None
    try:
        resumed = _stored_plan(store, args.resume)
        n = args.n or resumed.get("n") or 10
        warmup = args.warmup if args.warmup is not None else resumed.get("warmup", 1)
        with Session.open(args.port, timeout=args.timeout) as session, _progress() as progress:
            power = _power_plan(args)  # after the board: a virtual PPK2 stands beside a virtual board
            plan = BenchPlan(n, warmup, model_name=Path(args.model).name, profile=profile,
                             locate=args.locate)
            summary = run_bench(session, model, samples, plan, store, args.port,
                                _progress_callback(progress), resume=args.resume, power=power, loader=loader)
    except (BenchInterrupted, BenchStopped) as exc:
        exc.hint = f"{exc.hint}; go on with: {_resume_command(args.argv, exc.run_id)}"
        raise
    finally:
        store.close()
        if power:
            power.meter.close()
    if args.profile and not profile:
        from toolkit.micropython.deploy import NO_PROFILE_NOTE

        summary["profile_note"] = NO_PROFILE_NOTE
    _write_json(args.json, summary)
    if args.json != "-":
        console.print(bench_table(summary))
        if "profile_note" in summary:
            console.print(summary["profile_note"])
        if "profile" in summary:
            console.print(profile_table(summary["profile"]))
        if "power" in summary:
            console.print(power_table(summary["power"]))
        if "locate" in summary:
            console.print(locate_table(summary["locate"]))
        if summary["simulated"]:
            console.print(SIMULATED_NOTE)
    return 0 if summary["outputs_match_reference"] else 7


def _resume_command(argv: list[str], run_id: int) -> str:
    """The command that was run, with ``--resume RUN_ID`` in place of any it had, quoted for a shell."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--resume="):
            skip = False
            continue
        skip = arg == "--resume"
        if not skip:
            kept.append(arg)
    return shlex.join(["espml", *kept, "--resume", str(run_id)])


def _power_plan(args: argparse.Namespace):
    """The meter --power names, opened (its own one-line errors when it is absent or wrong)."""
    if not args.power:
        return None
    from toolkit.harness.power import PowerPlan
    from toolkit.power import make_meter

    meter = make_meter(args.power)
    meter.open()
    return PowerPlan(meter, args.power, marker=not args.no_marker, group=args.power_group, trace_path=args.trace)


def _stored_plan(store, run_id: int | None) -> dict:
    """The --n and --warmup a resumed run was made with (none when it recorded none)."""
    run = store.run(run_id) if run_id is not None else {}
    try:
        plan = json.loads(run.get("plan") or "null")
    except ValueError:
        plan = None
    plan = plan if isinstance(plan, dict) else {}
    return {"n": plan.get("n", run.get("planned_n")), "warmup": plan.get("warmup", 1)}


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.table import Table

    from toolkit.demo import run_demo
    from toolkit.harness.report import SIMULATED_NOTE, bench_table

    with _progress() as progress:
        result = run_demo(Path(args.work), Path(args.db), args.n, not args.no_retrain, progress=_progress_callback(progress),
                          fresh=args.fresh)
    console.print(f"reference model: {result.model_source}")
    stages = Table(title="model: optimisation stages (held-out digits)", title_justify="left")
    for column in ("stage", "status", "params", "int8 B", "accuracy", "agreement"):
        stages.add_column(column, justify="left" if column in ("stage", "status") else "right")
    for row in result.stages:
        stages.add_row(row["stage"], row["status"], f"{row['parameters']:,}",
                       f"{row['tflite_bytes']:,}" if row.get("tflite_bytes") else "",
                       f"{row['accuracy']:.2%}" if row.get("accuracy") is not None else "",
                       f"{row['agreement']:.2%}" if row.get("agreement") is not None else "")
    console.print(stages)
    f = result.flashed
    console.print(f"flashed with esptool into {f['slot']} (sequence {f['sequence']}): {f['wire_bytes']:,} deflated bytes "
                  f"in {f['seconds']:.1f} s over a link modelled at 921600 baud [yellow](simulated board)[/]")
    console.print(bench_table(result.bench))
    console.print(SIMULATED_NOTE)
    if args.timings:
        console.print("wall time per phase (this host): " + ", ".join(
            f"{phase} {seconds:.1f} s" for phase, seconds in result.timings_s.items())
            + f"; total {sum(result.timings_s.values()):.1f} s")
    _write_json(args.json, {"model_source": result.model_source, "stages": result.stages, "flashed": result.flashed,
                            "bench": result.bench, "timings_s": result.timings_s})
    return 0 if result.bench["outputs_match_reference"] else 7


def cmd_inspect(args: argparse.Namespace) -> int:
    from toolkit.boards import get_board
    from toolkit.harness.report import inspect_tables
    from toolkit.model import load_model
    from toolkit.model.inspect import inspect_model
    from toolkit.model.verdict import verdict

    model = load_model(args.model)
    report = inspect_model(model, get_board(args.board), not args.no_esp_nn, args.pointer_size, plan=args.plan)
    micropython = None
    if args.target == "micropython":  # microlite's tensor types and the board's GC heap
        from toolkit.micropython.deploy import arena_for
        from toolkit.micropython.heap import check_micropython

        micropython = check_micropython(model, get_board(args.board), arena_for(model))
    fits = report.fits and (micropython is None or micropython.fits)
    _write_json(args.json, {**report.to_json(), **({"fits": fits, "micropython": micropython.to_json()}
                                                   if micropython else {})})
    if args.json != "-":
        for table in inspect_tables(report):
            console.print(table)
        for line in report.arena_plan.summary_lines() if report.arena_plan is not None else ():
            console.print(line)
        for line in report.arena_patch.summary_lines() if report.arena_patch is not None else ():
            console.print(escape(line))
        for line in micropython.lines() if micropython else ():
            console.print(escape(line))
        said = verdict(report)
        colour = "green" if fits else "red"
        summary = said.lines[0] if fits or not report.fits else "does not fit or will not run as a MicroPython board"
        console.print(f"[{colour}]{escape(summary)}[/]; estimated {report.estimated_latency_ms:,.2f} ms per inference "
                      f"at {get_board(args.board).cpu_mhz} MHz ({'ESP-NN' if report.esp_nn else 'plain C kernels'})")
        for line in said.lines[1:]:
            console.print(f"  {escape(line)}", highlight=False)
    return 0 if fits else 8


def cmd_plan(args: argparse.Namespace) -> int:
    from toolkit.model.offline_plan import plan_file

    if not args.patch and (args.inputs or args.preprocess):
        raise ToolkitError("--inputs and --preprocess go with --patch", "add --patch, or drop them")
    if args.patch:
        from toolkit.model.patch_plan import patch_file

        if args.no_reorder or args.replan:
            raise ToolkitError("--patch plans the banded model itself: it takes neither --no-reorder nor --replan",
                               "drop those options")
        inputs = None
        if args.inputs:
            from toolkit.harness.inputs import model_inputs
            from toolkit.model import load_model

            inputs = [[x] for x in model_inputs(args.inputs, load_model(args.model), args.model, args.preprocess)]
        patched = patch_file(args.model, args.out, args.max_extra_macs, args.minimise, inputs)
        _write_json(args.json, {"model": args.model, "out": args.out, **patched.to_json()})
        if args.json != "-":
            for line in patched.summary_lines():
                console.print(line)
            console.print(f"wrote {args.out}")
        return 0
    planned = plan_file(args.model, args.out, reorder=not args.no_reorder, replan=args.replan)
    _write_json(args.json, {"model": args.model, "out": args.out, **planned.to_json()})
    if args.json != "-":
        for line in planned.summary_lines():
            console.print(line)
        console.print(f"wrote {args.out}" if planned.plan_written else f"copied {args.model} to {args.out} unchanged")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from rich import box
    from rich.table import Table

    from toolkit.convert import require_convert_extra

    require_convert_extra()
    from toolkit.optimize import report
    from toolkit.optimize.load import check_runs, load_data, load_model
    from toolkit.optimize.pipeline import Sequence, parse_order

    order = parse_order(args.stages)
    model = load_model(args.model, args.weights)
    data = load_data(args.data, args.labels, args.preprocess)
    check_runs(model, data)
    out = Path(args.out)
    # A spinner that says where it is on a terminal; off one (CI, a log file) a line per stage and strength.
    with errors.status("optimising...") as spinner:
        def progress(line: str) -> None:
            if errors.is_terminal:
                spinner.update(f"optimising: {escape(line)}")
            else:
                errors.print(f"optimise: {escape(line)}", highlight=False, soft_wrap=True)

        result = Sequence(model, data, args.budget, progress=progress).run(order, out,
                                                                            baseline_float_tflite=args.baseline)
    paths = report.write(result, out)
    table = Table(title=f"optimisation of {escape(args.model)} (budget {args.budget} points)", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False)  # fits 80 columns
    for key, title in report.COLUMNS:
        text = key in ("stage", "status")
        table.add_column(report.TERMINAL_TITLES.get(key, title), justify="left" if text else "right",
                         no_wrap=key != "status", min_width=10 if key == "status" else None)
    for row in result.rows:
        table.add_row(*(report.compact(key, row.get(key)) for key, _ in report.COLUMNS))
    console.print(table)
    for line in report.closing_lines(result):
        console.print(line)
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}" + (f", {result.onnx_path}" if result.onnx_path else ""))
    return 0


def cmd_flash(args: argparse.Namespace) -> int:
    from rich.table import Table

    from toolkit.boards import get_board
    from toolkit.flash import firmware_writes, flash
    from toolkit.model import load_model

    if not args.model and not args.firmware:
        raise ToolkitError("nothing to flash", "give a MODEL.tflite, --firmware, or both")
    model = load_model(args.model) if args.model else None
    if args.target == "micropython" and model is not None:
        if args.firmware:
            raise ToolkitError("with --target micropython, flash the firmware and the model in two steps",
                               "espml flash --port URL --firmware 0x0=micropython.bin, then the model")
        from toolkit.micropython.deploy import deploy

        done = deploy(args.port, model, start=False)
        console.print(f"model {model.sha256[:16]} {'copied to' if done.model_copied else 'already on'} the "
                      f"board's filesystem (MicroPython {done.version})")
        _write_json(args.json, {"model_sha256": model.sha256, "model_copied": done.model_copied,
                                "agent_copied": done.agent_copied, "seconds": done.model_seconds})
        return 0
    firmware = [w for item in (args.firmware or []) for w in firmware_writes(item)]
    on_terminal = console.is_terminal
    result = flash(args.port, get_board(args.board), model, firmware, force=args.force, before=args.before,
                   after=args.after, stub=not args.no_stub, show_esptool=on_terminal,
                   progress=lambda name, i, n: console.print(f"writing {name} ({i}/{n})") if on_terminal else None)
    table = Table(title=f"flashed {args.port} in {result.seconds:.1f} s", title_justify="left")
    for column in ("what", "offset", "bytes", "deflated (on the wire)"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for write in result.writes:
        table.add_row(write["name"], f"0x{write['offset']:06x}", f"{write['bytes']:,}", f"{write['deflated_bytes']:,}")
    console.print(table)
    if result.model_slot and result.model_runs:
        console.print(f"model {result.model_sha256[:16]} in {result.model_slot}, sequence {result.model_sequence}: "
                      "it runs once its SHA-256 checks at boot")
    elif result.model_slot:
        console.print(f"model {result.model_sha256[:16]} written to {result.model_slot} (--force), but inspect says "
                      "this firmware will not run it: the board refuses it at boot and keeps the model it has, if any")
    _write_json(args.json, {"writes": result.writes, "seconds": result.seconds, "model_slot": result.model_slot,
                            "model_sequence": result.model_sequence, "model_sha256": result.model_sha256})
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from toolkit.model.reader import read_model_bytes
    from toolkit.virtual import BoardOptions, VirtualBoard
    from toolkit.virtual.servers import loopback_address, open_pty, serve_pty, serve_rfc2217

    if args.micropython:
        from toolkit.micropython.virtual import MicroPythonOptions, VirtualMicroPythonBoard

        if args.model:
            raise ToolkitError("--model does not go with --micropython", "put the model on it with toolkit.micropython.deploy")
        board = VirtualMicroPythonBoard(MicroPythonOptions(board=args.board, baud=args.baud, fs_dir=args.flash_file))
    else:
        board = VirtualBoard(_sim_options(args, BoardOptions))
    if args.model:
        board.install_model(read_model_bytes(args.model))
    stop = threading.Event()

    def announce(url: str) -> None:
        print(url, flush=True)
        if args.port_file:
            Path(args.port_file).write_text(url + "\n")

    relay = _sim_relay(args, board) if args.power_relay else None
    try:
        if args.rfc2217:
            host, port = loopback_address(args.rfc2217)
            serve_rfc2217(board, (host, port), stop, lambda bound: announce(f"rfc2217://{host}:{bound}"))
        else:
            controller, path = open_pty()
            announce(path)
            serve_pty(board, controller, stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        if relay is not None:
            relay.shutdown()
        board.power_off()
    return 0


def _sim_relay(args: argparse.Namespace, board):
    """The board's power relay (labgrid's simplerest HTTP) on loopback; its URL is printed and,
    with --relay-file, written to a file."""
    from toolkit.virtual.relay import Relay, serve_relay
    from toolkit.virtual.servers import loopback_address

    def switch(on: bool) -> None:
        if on:
            board.power_on()
        else:
            board.power_off()

    host, port = loopback_address(args.power_relay)

    def announce(bound: int) -> None:
        url = f"http://{host}:{bound}/relay/{{index}}/{{value}}"
        print(f"power relay {url}", flush=True)
        if args.relay_file:
            Path(args.relay_file).write_text(url + "\n")

    return serve_relay(Relay({0: switch}), (host, port), announce)


def _sim_options(args: argparse.Namespace, options_type):
    """The board's options: --board-options (a vdev:// query: slow=1.3&hang_after=5...) under the flags."""
    import dataclasses

    import serial

    from toolkit.errors import UsageError
    from toolkit.virtual.protocol_vdev import parse_url

    if args.board_options and args.micropython:
        raise ToolkitError("--board-options does not go with --micropython", "drop one of them")
    try:
        options, shared_id, model = parse_url(f"vdev://{args.board}?{args.board_options or ''}")
    except serial.SerialException as exc:
        raise UsageError(f"--board-options: {exc}", "use the options of docs/virtual_board.md, e.g. slow=1.3&seed=2")
    if shared_id or model:
        raise UsageError("--board-options: id= and model= do not apply to espml sim", "use --model for a model")
    fields = {"sync_enters_download": not args.rfc2217}
    if args.baud is not None:
        fields["baud"] = args.baud
    if args.flash_file:
        fields["flash_file"] = args.flash_file
    if args.no_esp_nn:
        fields["esp_nn"] = False
    return dataclasses.replace(options, **fields)


def cmd_report(args: argparse.Namespace) -> int:
    import webbrowser

    from toolkit.harness.html_report import write_report

    out = Path(args.out) if args.out else Path(args.db).with_name("report.html")
    path = write_report(args.db, out, Path(args.results) if args.results else None)
    console.print(f"wrote {path}")
    if args.open and not webbrowser.open(path.resolve().as_uri()):
        console.print("no web browser found here; open the file in one")
    return 0


MAX_COUNT = 10**9  # inferences, warm-ups, a power window: more is a slip of the keyboard (a month at 1 ms each)
MAX_RUN_ID = 2**63 - 1  # SQLite's largest row id
MAX_BAUD = 100_000_000  # far above any UART the ESP32-S3 has (5 Mbaud)


def _at_least(least: int, most: int = MAX_COUNT):
    """An argparse type: a whole number in ``least..most`` (argparse names the option and exits 2)."""
    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, not {value}")
        if value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most:,}, not {value}")
        return value
    return whole


def _seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="espml", description="Neural networks onto ESP32-S3 boards, measured.")
    parser.add_argument("--version", action="version", version=f"espml {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the device's log lines")
    sub = parser.add_subparsers(dest="command", required=True)

    def port_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--port", required=True, help="pyserial URL: /dev/ttyACM0, rfc2217://host:port, vdev://esp32s3")
        p.add_argument("--timeout", type=_seconds, default=2.0, help="seconds to wait for each answer (default 2)")
        p.add_argument("--target", choices=("espml", "micropython"), default="espml",
                       help="the board runs our ESP-IDF firmware (default) or MicroPython with a TFLM module")

    p = sub.add_parser("demo", help="the whole pipeline on the virtual board, on bundled data")
    p.add_argument("--n", type=_at_least(1), default=None, help="inferences (default: every held-out digit)")
    p.add_argument("--no-retrain", action="store_true", help="use the bundled int8 model instead of training")
    p.add_argument("--fresh", action="store_true",
                   help="train, optimise and convert again even if an earlier run in --work made the same model")
    p.add_argument("--work", default=".espml/demo", help="folder for the demo's files")
    p.add_argument("--db", default=DEFAULT_DB, help=f"results store (default {DEFAULT_DB})")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON ('-' for stdout)")
    p.add_argument("--timings", action="store_true", help="print the wall time of each phase (train, each stage, flash, bench)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("info", help="what a board runs: firmware, model, memory, ops")
    port_args(p)
    p.add_argument("--json", metavar="FILE", help="write the answer as JSON ('-' for stdout)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("bench", help="stream inputs to a board, check outputs, measure latency, RAM, current")
    port_args(p)
    p.add_argument("--model", required=True, help=".tflite model the board should run (uploaded if it differs)")
    p.add_argument("--inputs", required=True, help="folder of image (.png/.bmp/.jpg), .npy or .raw inputs, or one .npy batch")
    p.add_argument("--preprocess", metavar="SPEC|FILE",
                   help="how images become the model's input, e.g. 'scale=1/255,mean=0.5,std=0.5,colour=rgb' or a "
                        ".json (default: the MODEL.preprocess.json espml recorded next to the model)")
    p.add_argument("--n", type=_at_least(1), help="measured inferences (default 10, or the resumed run's)")
    p.add_argument("--warmup", type=_at_least(0), help="unmeasured inferences first (default 1, or the resumed run's)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"results store (default {DEFAULT_DB})")
    p.add_argument("--resume", type=_at_least(1, MAX_RUN_ID), metavar="RUN_ID", help="continue an interrupted run of the store")
    p.add_argument("--profile", action="store_true",
                   help="then time every op of one more inference on the board, next to inspect's estimate")
    p.add_argument("--power", metavar="METER",
                   help="energy per inference from a meter on the supply: ppk2:PORT, joulescope[:SERIAL] "
                        "(the power extra), ina (the board's INA219/INA226) or replay:FILE (a saved trace); "
                        "docs/power.md has the wiring")
    p.add_argument("--no-marker", action="store_true",
                   help="no marker GPIO wired to the meter: place windows by the board's latency (approximate)")
    p.add_argument("--power-group", type=_at_least(1), metavar="N",
                   help="inferences per energy window (default: enough for 1000 samples, MLPerf-style)")
    p.add_argument("--trace", metavar="FILE", help="keep the meter's whole trace in this .npz (for replay:FILE)")
    p.add_argument("--locate", action="store_true",
                   help="when outputs differ, find the first op whose output differs (probe models uploaded, "
                        "the model restored)")
    p.add_argument("--json", metavar="FILE", help="write the summary as JSON ('-' for stdout)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("inspect", help="will a .tflite model fit and run on a board, and how fast (no board needed)")
    p.add_argument("model", help="the .tflite model")
    p.add_argument("--board", default="esp32s3", help="board variant (default esp32s3)")
    p.add_argument("--no-esp-nn", action="store_true", help="estimate with plain C kernels instead of ESP-NN")
    p.add_argument("--pointer-size", type=int, choices=(4, 8), default=4,
                   help="4 for the ESP32-S3 (default), 8 to compare with TFLM on a 64-bit host")
    p.add_argument("--plan", action="store_true",
                   help="also show the arena an offline plan (espml plan) would need, and the lower bound")
    p.add_argument("--target", choices=("espml", "micropython"), default="espml",
                   help="micropython: also check microlite's tensor types and the board's MicroPython GC heap")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON ('-' for stdout)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("plan", help="write a model with an offline arena plan that needs less RAM than TFLM's own")
    p.add_argument("model", help="the .tflite model")
    p.add_argument("-o", "--out", required=True, metavar="OUT.tflite", help="the planned model to write")
    p.add_argument("--no-reorder", action="store_true", help="keep the operators in their order")
    p.add_argument("--replan", action="store_true", help="plan a model that already carries an offline plan again")
    p.add_argument("--patch", action="store_true",
                   help="also run the first, high-resolution stage in bands (below the layer-wise lower bound)")
    p.add_argument("--max-extra-macs", type=float, default=15.0, metavar="PCT",
                   help="with --patch: the most MACs the bands' halo rows may add, in %% (default 15)")
    p.add_argument("--inputs", metavar="PATH",
                   help="with --patch: the model's own inputs (as for bench) on which outputs must stay identical, "
                        "besides random and extreme ones")
    p.add_argument("--preprocess", metavar="SPEC|FILE", help="with --inputs: how images become the model's input")
    p.add_argument("--minimise", choices=("arena", "head"), default="arena",
                   help="with --patch: the whole arena on the board, TFLM's structures included (default), "
                        "or the activations' head alone")
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON ('-' for stdout)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("optimize", help="fold, prune, factorise and quantise a torch model, stage by stage")
    p.add_argument("--model", required=True, metavar="MODULE:FACTORY|FILE",
                   help="a function returning the torch module, or a TorchScript / ExportedProgram (.pt2) file")
    p.add_argument("--weights", help="its state_dict (torch.save)")
    p.add_argument("--data", default="digits",
                   help="'digits' (bundled), a folder (a subfolder per class, one .npy/.png per sample), "
                        "or an .npy array of inputs (NCHW)")
    p.add_argument("--labels", help=".npy labels for --data, to report accuracy")
    p.add_argument("--preprocess", metavar="SPEC|FILE",
                   help="how --data images become inputs (default 'scale=1/255' in their colour and size); "
                        "recorded next to the int8 model")
    p.add_argument("--budget", type=float, default=0.5, help="accuracy a stage may cost, in points (default 0.5)")
    p.add_argument("--stages", default="separable,prune,lowrank,fold,quantize,plan",
                   help="order of stages: separable, prune, lowrank, fold on the torch model, then quantize, "
                        "then plan (an offline arena plan in the int8 model)")
    p.add_argument("--baseline", action="store_true", help="also convert the original to float32 TFLite for the ratio")
    p.add_argument("--out", default=".espml/optimize", help="folder for the int8 model, report.json/.md and ONNX")
    p.set_defaults(func=cmd_optimize)

    p = sub.add_parser("flash", help="write firmware and/or a model to a board with esptool")
    p.add_argument("--port", required=True, help="pyserial URL of the board")
    p.add_argument("--target", choices=("espml", "micropython"), default="espml",
                   help="micropython: the model goes onto the board's filesystem through its raw REPL")
    p.add_argument("model", nargs="?", help="the .tflite model (goes into the inactive model slot)")
    p.add_argument("--firmware", action="append", metavar="DIR|OFFSET=FILE",
                   help="ESP-IDF build folder (flasher_args.json) or OFFSET=FILE; repeatable")
    p.add_argument("--board", default="esp32s3", help="board variant (default esp32s3)")
    p.add_argument("--force", action="store_true", help="write even what inspect says will not run")
    p.add_argument("--before", default="default-reset",
                   choices=("default-reset", "usb-reset", "no-reset", "no-reset-no-sync"))
    p.add_argument("--after", default="hard-reset",
                   choices=("hard-reset", "soft-reset", "watchdog-reset", "no-reset", "no-reset-stub"))
    p.add_argument("--no-stub", action="store_true", help="talk to the ROM bootloader only")
    p.add_argument("--json", metavar="FILE", help="write what was written as JSON")
    p.set_defaults(func=cmd_flash)

    p = sub.add_parser("sim", help="serve a virtual ESP32-S3 on a pty or an RFC 2217 port (loopback)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal (the default)")
    where.add_argument("--rfc2217", metavar="127.0.0.1:PORT", help="serve RFC 2217 on a loopback TCP port")
    p.add_argument("--board", default="esp32s3", help="board variant (default esp32s3)")
    p.add_argument("--model", help="model to install before boot")
    p.add_argument("--baud", type=_at_least(1, MAX_BAUD), default=None, help="model a UART at this rate (default: unpaced USB)")
    p.add_argument("--no-esp-nn", action="store_true", help="a firmware built without ESP-NN (plain C kernels)")
    p.add_argument("--board-options", metavar="QUERY",
                   help="the vdev:// options of docs/virtual_board.md, e.g. 'slow=1.3&hang_after=50&seed=2' "
                        "(a sick board for a lab test)")
    p.add_argument("--port-file", metavar="FILE", help="also write the port URL to FILE")
    p.add_argument("--power-relay", metavar="127.0.0.1:PORT",
                   help="serve the board's power switch on this loopback port: relay 0 of labgrid's simplerest "
                        "backend (GET /relay/0/0 cuts the power, /relay/0/1 restores it)")
    p.add_argument("--relay-file", metavar="FILE", help="also write the relay's simplerest URL to FILE")
    p.add_argument("--flash-file", metavar="FILE", help="keep the board's flash in FILE between runs "
                                                          "(with --micropython: its filesystem in that folder)")
    p.add_argument("--micropython", action="store_true", help="a board running MicroPython (real, under wasmtime)")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("report", help="one self-contained HTML file with tables and plots of the stored runs")
    p.add_argument("--db", default=DEFAULT_DB, help=f"results store (default {DEFAULT_DB})")
    p.add_argument("--results", metavar="FILE", help="hil-results.json of a HIL run: tests, verdicts, baselines")
    p.add_argument("--out", metavar="FILE", help="the HTML file to write (default: report.html next to the store)")
    p.add_argument("--open", action="store_true", help="open the report in the web browser")
    p.set_defaults(func=cmd_report)
    # --debug and --verbose also after the sub-command; SUPPRESS keeps one given before it
    for command in sub.choices.values():
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show tracebacks and debug logs")
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="show the device's log lines")
    return parser


def _show_causes(exc: BaseException) -> None:
    """Under --debug, the traceback also shows what a one-line error was raised from."""
    while exc is not None:
        exc.__suppress_context__ = False
        exc = exc.__cause__ or exc.__context__


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except ToolkitError as exc:
        if args.debug:
            _show_causes(exc)
            raise
        hint = f" ({exc.hint})" if exc.hint else ""
        errors.print(f"[bold red]espml: error:[/] {escape(exc.message + hint)}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        message = getattr(exc, "message", "interrupted") + (f" ({exc.hint})" if getattr(exc, "hint", "") else "")
        errors.print(f"espml: {escape(message)}", highlight=False, soft_wrap=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
