"""The firmware's portable C (protocol codec, CRC, model-image parser) against the shared vectors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HOST_TEST = Path(__file__).resolve().parent.parent / "device" / "host_test"


@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("make") is None, reason="no C compiler or make")
def test_c_codec_and_image_parser_pass_every_vector(tmp_path: Path) -> None:
    result = subprocess.run(["make", "-C", str(HOST_TEST), "test", f"BUILD={tmp_path}"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"^(\d+) passed, (\d+) failed$", result.stdout, re.MULTILINE)
    assert found, result.stdout
    passed, failed = map(int, found.groups())
    assert failed == 0 and passed >= 30, result.stdout


def test_every_manifest_op_has_a_resolver_mapping() -> None:
    """The ESP-IDF port registers every op of device/ops.txt; an op without a mapping in
    op_resolver.h would fail that build, so catch it here."""
    from toolkit.boards.firmware import firmware_ops

    header = (HOST_TEST.parent / "port" / "esp_idf" / "op_resolver.h").read_text()
    mapped = set(re.findall(r"#define ESPML_ADD_(\w+)\(r\)", header))
    listed = {op.removeprefix("CUSTOM:") for op in firmware_ops()}  # a custom op maps by its custom code
    assert listed <= mapped, sorted(listed - mapped)


def test_generated_op_tables_match_ops_txt_and_the_schema() -> None:
    """device/core/espml_ops.inc (what the core accepts) is generated from device/ops.txt."""
    result = subprocess.run([sys.executable, str(HOST_TEST.parent / "core" / "gen_ops.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ESP-IDF's two functions the component's CMakeLists calls, as CMake itself runs them: the
# component becomes a static library of the core's C sources (the port needs ESP-IDF headers).
IDF_STAND_IN = """cmake_minimum_required(VERSION 3.16)
project(espml_component_build C)
macro(idf_component_register)
  cmake_parse_arguments(_ "" "" "SRCS;INCLUDE_DIRS;REQUIRES" ${ARGN})
  list(FILTER __SRCS INCLUDE REGEX "[.]c$")
  set(COMPONENT_LIB espml_component)
  add_library(espml_component STATIC ${__SRCS})
endmacro()
function(idf_build_get_property var property)
  set(${var} "%s" PARENT_SCOPE)
endfunction()
add_subdirectory("%s" main)
"""


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("cc") is None, reason="no cmake or C compiler")
def test_the_component_build_regenerates_the_op_table_when_ops_txt_changes(tmp_path: Path) -> None:
    """device/main/CMakeLists.txt: an edited ops.txt regenerates core/espml_ops.inc and recompiles
    the core's op table, with no step by hand."""
    device = tmp_path / "device"
    shutil.copytree(HOST_TEST.parent, device, ignore=shutil.ignore_patterns("build", "__pycache__"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(IDF_STAND_IN % (Path(sys.executable).as_posix(), (device / "main").as_posix()))
    build = tmp_path / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []

    def run(*argv: str) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("cmake", "-S", str(project), "-B", str(build), *generator)
    run("cmake", "--build", str(build))
    table = device / "core" / "espml_ops.inc"
    assert "ESPML_OP(UNPACK, 88)" in table.read_text()
    ops = device / "ops.txt"
    ops.write_text(ops.read_text().replace("UNPACK\n", ""))
    rebuilt = run("cmake", "--build", str(build))
    assert "ESPML_OP(UNPACK" not in table.read_text() and "ESPML_OP(ADD, 0)" in table.read_text()
    assert "espml_ops.c" in rebuilt, rebuilt
