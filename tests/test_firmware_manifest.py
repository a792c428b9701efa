"""The firmware's component manifest pins the esp-tflite-micro / esp-nn pair that inspect's ESP-NN
figures assume (toolkit/boards/firmware.py ESP_NN_COMPONENTS, stated in `inspect --json`).

Only a chip shows which kernel a CONV_2D takes; the host checks the files the build uses: exact
pins (no range the component manager could resolve to another esp-nn), esp-tflite-micro new enough
to set filter_dims.channels (1.3.7), and no dependencies.lock saying otherwise."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import REFERENCE_MODEL
from toolkit.cli import main

DEVICE = Path(__file__).resolve().parent.parent / "device"
MANIFEST = DEVICE / "main" / "idf_component.yml"
EXACT = re.compile(r"\d+\.\d+\.\d+")


def manifest_pins(text: str) -> dict[str, str]:
    """`name: "version"` entries under `dependencies:` (the short form the manifest uses)."""
    pins, inside = {}, False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            inside = line.strip() == "dependencies:"
            continue
        found = re.match(r"\s+([\w./-]+):\s*\"?([^\"#]*?)\"?\s*(#.*)?$", line)
        if inside and found:
            pins[found.group(1)] = found.group(2)
    return pins


def disagreements(pins: dict[str, str], stated: dict[str, str]) -> list[str]:
    problems = []
    for name, version in stated.items():
        pinned = pins.get(name)
        if pinned is None:
            problems.append(f"{name} is not a dependency of device/main")
        elif not EXACT.fullmatch(pinned):
            problems.append(f"{name}: {pinned!r} is not an exact version")
        elif pinned != version:
            problems.append(f"{name}: manifest {pinned}, inspect assumes {version}")
    return problems


def inspect_statement(tmp_path: Path) -> dict[str, str]:
    out = tmp_path / "inspect.json"
    assert main(["inspect", str(REFERENCE_MODEL), "--json", str(out)]) == 0
    return json.loads(out.read_text())["esp_nn_components"]


def test_manifest_pins_the_pair_inspect_states(tmp_path: Path) -> None:
    stated = inspect_statement(tmp_path)
    assert set(stated) == {"espressif/esp-tflite-micro", "espressif/esp-nn"}
    assert disagreements(manifest_pins(MANIFEST.read_text()), stated) == []


def test_a_manifest_that_differs_from_the_statement_is_caught(tmp_path: Path) -> None:
    stated = inspect_statement(tmp_path)
    text = MANIFEST.read_text()
    newer = re.sub(r'(espressif/esp-nn:\s*)"[^"]+"', r'\1">=1.1.1"', text)
    assert newer != text
    assert disagreements(manifest_pins(newer), stated) == [
        "espressif/esp-nn: '>=1.1.1' is not an exact version"]
    older = re.sub(r'(espressif/esp-tflite-micro:\s*)"[^"]+"', r'\1"1.3.4"', text)
    assert disagreements(manifest_pins(older), stated) == [
        f"espressif/esp-tflite-micro: manifest 1.3.4, inspect assumes {stated['espressif/esp-tflite-micro']}"]
    missing = re.sub(r'\n\s*espressif/esp-nn:[^\n]*', "", text)
    assert disagreements(manifest_pins(missing), stated) == ["espressif/esp-nn is not a dependency of device/main"]


def test_the_pinned_esp_tflite_micro_sets_the_filter_channels() -> None:
    """Before 1.3.7 esp-tflite-micro passes filter_dims.channels = 0 and esp-nn >= 1.2.3 runs every
    CONV_2D on its ANSI C kernel."""
    pins = manifest_pins(MANIFEST.read_text())
    version = tuple(int(part) for part in pins["espressif/esp-tflite-micro"].split("."))
    assert version >= (1, 3, 7), pins


def test_no_dependencies_lock_with_other_versions() -> None:
    """A committed lock would win over the manifest; none is committed (its hashes cannot be made here)."""
    locks = [path for path in (DEVICE / "dependencies.lock", DEVICE / "main" / "dependencies.lock") if path.exists()]
    assert locks == []


def test_plain_c_estimates_state_no_components(tmp_path: Path) -> None:
    out = tmp_path / "inspect.json"
    assert main(["inspect", str(REFERENCE_MODEL), "--no-esp-nn", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["esp_nn_components"] is None
