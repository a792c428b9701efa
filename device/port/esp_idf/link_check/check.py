#!/usr/bin/env python3
"""Link check of the ESP-IDF port, on the host.

ESP-IDF cannot be built here, so the firmware is compiled against declaration-only headers of the
ESP-IDF / FreeRTOS / esp-tflite-micro APIs it calls (include/, each declaration citing its upstream
header) and linked into one relocatable object:

  1. every device/core/*.c with the C compiler, every device/port/esp_idf/*.cc with the C++ one
     (ESP-IDF's language mode, -Wall -Werror): a wrong signature, a missing include or an API the
     headers do not declare fails here;
  2. `ld -r` of all objects, then `nm -u`: every symbol left undefined must be listed in
     symbols.txt (the functions of include/, and the newlib / C++-runtime ones), and none may be
     ours (espml_*, or any name the firmware defines): a core header without its extern "C" guard
     leaves the C++ side referring to mangled espml_* names the C objects do not define;
  3. app_main must be defined with C linkage.

Run once per ESP-IDF release the headers describe where the used APIs differ (--idf, default 5.2.0,
5.2 and 5.5, and 5.2 / 5.5 with the UART0 transport). Stdlib only:

    python3 device/port/esp_idf/link_check/check.py [--build DIR] [--idf 5.2] [--verbose]

Exit status 0 when the port compiles and links clean, 1 when the check fails, 2 when a tool is
missing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
INCLUDE = HERE / "include"
SYMBOLS = HERE / "symbols.txt"
PORT = HERE.parent
DEVICE = PORT.parent.parent
CORE = DEVICE / "core"

# ESP-IDF release -> (minor, patch) the headers describe: v5.2.0/5.2.1; v5.2.2 and later, which
# also stands for 5.3 and 5.4 where the used APIs are the same (see include/sdkconfig.h); v5.5.
# The "+uart0" profiles build the UART0 transport (main/Kconfig.projbuild) instead of USB-Serial/JTAG.
PROFILES = {"5.2.0": (2, 0, False), "5.2": (2, 2, False), "5.5": (5, 0, False),
            "5.2+uart0": (2, 2, True), "5.5+uart0": (5, 0, True)}

# ESP-IDF: C with -std=gnu17 (tools/cmake/build.cmake, v5.2 .. v5.5).
C_FLAGS = ["-std=gnu17", "-O2", "-Wall", "-Wextra", "-Werror"]
# ESP-IDF: C++ with -std=gnu++2b, -fno-exceptions and -fno-rtti (the defaults of
# CONFIG_COMPILER_CXX_EXCEPTIONS / _RTTI), -Werror=all with -Wno-unused-parameter and
# -Wno-sign-compare (CMakeLists.txt, tools/cmake/build.cmake); -O2 is CONFIG_COMPILER_OPTIMIZATION_PERF
# (device/sdkconfig.defaults). ESP-IDF defines _GNU_SOURCE for every source (build.cmake), which
# makes newlib declare fopencookie. ESP-IDF compiles C++ with -fuse-cxa-atexit (build.cmake): the
# destructors of static objects are registered with __cxa_atexit(..., &__dso_handle).
# esp-tflite-micro adds -DTF_LITE_STATIC_MEMORY to its users.
CXX_FLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wno-sign-compare",
             "-fno-exceptions", "-fno-rtti", "-fuse-cxa-atexit", "-D_GNU_SOURCE", "-DTF_LITE_STATIC_MEMORY"]
# Host-only noise kept out of the symbol table: PIC/GOT, stack protector, fortified calls.
HOST_FLAGS = ["-fno-pic", "-fno-stack-protector", "-U_FORTIFY_SOURCE"]


class ToolMissing(Exception):
    pass


@dataclass
class Result:
    profile: str
    problems: list[str] = field(default_factory=list)
    undefined: list[tuple[str, str]] = field(default_factory=list)  # (raw, demangled)
    sources: int = 0
    linked: bool = False


def tool(name: str, env: str | None = None) -> str:
    chosen = os.environ.get(env, name) if env else name
    path = shutil.which(chosen)
    if path is None:
        raise ToolMissing(f"{chosen} not found")
    return path


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True)


def cxx_std(cxx: str) -> str:
    """gnu++2b as ESP-IDF uses, else the newest the host compiler knows (the headers need > C++17)."""
    for std in ("gnu++2b", "gnu++23", "gnu++20"):
        probe = run([cxx, f"-std={std}", "-x", "c++", "-fsyntax-only", os.devnull])
        if probe.returncode == 0:
            return std
    raise ToolMissing(f"{cxx} supports none of gnu++2b, gnu++23, gnu++20")


def read_allowlist(problems: list[str]) -> dict[str, str]:
    """symbols.txt: `symbol | where`. Entries citing a header of include/ must be declared there."""
    allowed: dict[str, str] = {}
    for number, line in enumerate(SYMBOLS.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        symbol, sep, where = (part.strip() for part in line.rpartition("|"))
        if not sep or not symbol or not where:
            problems.append(f"symbols.txt:{number}: expected `symbol | header`, got {line!r}")
            continue
        allowed[symbol] = where
        if ":" in where:  # newlib: / libsupc++: the host's own headers declare it
            continue
        header = INCLUDE / where
        name = base_name(symbol)
        if not header.is_file():
            problems.append(f"symbols.txt:{number}: {symbol}: no header include/{where}")
        elif not re.search(rf"(?<![\w~]){re.escape(name)}\s*\(", header.read_text()):
            problems.append(f"symbols.txt:{number}: {symbol}: include/{where} does not declare {name}")
    return allowed


OPERATOR = re.compile(r"operator(\(\)|<=>|<<=|>>=|<<|>>|<=|>=|->\*|->|<|>)")


def qualified_name(demangled: str) -> str:
    """`ns::f<T>(int) const` -> `ns::f<T>`; a C name is returned unchanged."""
    names: list[str] = []

    def hide(match: re.Match) -> str:  # operator(), operator< ...: not a parameter list or template
        names.append(match.group(0))
        return f"\x00{len(names) - 1}\x00"

    text = OPERATOR.sub(hide, demangled)
    depth = 0
    for index, char in enumerate(text):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "(" and depth == 0:
            text = text[:index]
            break
    return re.sub(r"\x00(\d+)\x00", lambda match: names[int(match.group(1))], text)


def base_name(symbol: str) -> str:
    return qualified_name(symbol).rsplit("::", 1)[-1]


def strip_comments(source: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", source, flags=re.DOTALL)


def demangle(names: list[str], cxxfilt: str) -> list[str]:
    if not names:
        return []
    out = subprocess.run([cxxfilt], input="\n".join(names) + "\n", capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    return lines if len(lines) == len(names) else names


def nm_symbols(nm: str, obj: Path, *options: str) -> list[tuple[str, str]]:
    """(type letter, raw name) for each symbol nm lists."""
    out = run([nm, *options, str(obj)])
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    symbols = []
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            symbols.append((fields[-2], fields[-1]))
    return symbols


def compile_all(jobs: list[list[str]]) -> list[str]:
    errors = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for argv, out in zip(jobs, pool.map(run, jobs)):
            if out.returncode != 0:
                source = argv[-3]
                errors.append(f"compile failed: {Path(source).relative_to(DEVICE.parent)}\n"
                              + (out.stderr or out.stdout).rstrip())
    return errors


def check_profile(profile: str, build: Path, tools: dict[str, str], allowed: dict[str, str]) -> Result:
    result = Result(profile)
    minor, patch, uart0 = PROFILES[profile]
    out_dir = build / f"idf{profile}"
    out_dir.mkdir(parents=True, exist_ok=True)

    c_sources = sorted(CORE.glob("*.c"))
    cxx_sources = sorted(PORT.glob("*.cc"))
    result.sources = len(c_sources) + len(cxx_sources)
    includes = [f"-I{INCLUDE}", f"-I{CORE}", f"-I{PORT}"]
    jobs, objects = [], []
    for source in c_sources:
        obj = out_dir / f"core_{source.stem}.o"
        jobs.append([tools["cc"], *C_FLAGS, *HOST_FLAGS, f"-I{CORE}", "-c", str(source), "-o", str(obj)])
        objects.append(obj)
    for source in cxx_sources:
        obj = out_dir / f"port_{source.stem}.o"
        jobs.append([tools["cxx"], f"-std={tools['std']}", *CXX_FLAGS, *HOST_FLAGS, f"-DLINK_CHECK_IDF_MINOR={minor}",
                     f"-DLINK_CHECK_IDF_PATCH={patch}", *(["-DLINK_CHECK_UART0"] if uart0 else []),
                     *includes, "-c", str(source), "-o", str(obj)])
        objects.append(obj)
    result.problems += compile_all(jobs)
    if result.problems:
        return result

    linked = out_dir / "espml_firmware.o"
    out = run([tools["ld"], "-r", "-o", str(linked), *map(str, objects)])
    if out.returncode != 0:
        result.problems.append("ld -r failed:\n" + out.stderr.rstrip())
        return result
    result.linked = True

    undefined_raw = sorted({name for kind, name in nm_symbols(tools["nm"], linked, "-u") if kind in "Uw"})
    defined = nm_symbols(tools["nm"], linked, "--defined-only")
    defined_names = demangle([name for _, name in defined], tools["c++filt"])
    ours: dict[str, set[str]] = {}  # qualified name -> the raw global names defining it
    for (kind, raw), name in zip(defined, defined_names):
        if kind.isupper():  # a local (static, anonymous-namespace) definition resolves no reference
            ours.setdefault(qualified_name(name), set()).add(raw)
    declared = {word for header in [*CORE.glob("*.h"), *PORT.glob("*.h")]
                for word in re.findall(r"\b([A-Za-z_]\w*)\s*\(", strip_comments(header.read_text()))}
    result.undefined = list(zip(undefined_raw, demangle(undefined_raw, tools["c++filt"])))

    for raw, name in result.undefined:
        qualified = qualified_name(name)
        mangled = f" (mangled: {raw})" if raw != name else ""
        if qualified in ours:
            if raw != name and qualified in ours[qualified]:
                how = "C++ refers to a function the C core defines: its header lacks the extern \"C\" guard"
            else:
                how = "declared with another signature or linkage than its definition"
            result.problems.append(f"{name}{mangled}: one of ours, left undefined: {how}")
        elif base_name(name).startswith("espml_"):
            result.problems.append(f"{name}{mangled}: one of ours (espml_*) is defined nowhere: a missing "
                                   "extern \"C\" guard or definition")
        elif name in allowed:
            continue
        elif base_name(name) in declared:
            result.problems.append(f"{name}{mangled}: one of ours (declared in device/) is defined nowhere")
        else:
            result.problems.append(f"{name}{mangled}: not declared by the link-check headers (symbols.txt): an "
                                   "API that does not exist in ESP-IDF/esp-tflite-micro, or a declaration "
                                   "missing from include/")

    app_main = [(kind, name) for kind, name in defined if name == "app_main"]
    if not app_main or app_main[0][0] != "T":
        mangled = [name for _, name in defined if name.startswith("_Z8app_main")]
        hint = f" (found C++ {mangled[0]}: declare it extern \"C\")" if mangled else ""
        result.problems.append(f"app_main is not defined with C linkage{hint}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, help="directory for objects (default: a temporary one)")
    parser.add_argument("--idf", action="append", choices=PROFILES,
                        help="ESP-IDF release the headers describe (repeatable; default: all)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every undefined symbol")
    args = parser.parse_args(argv)

    try:
        tools = {"cc": tool("gcc", "CC"), "cxx": tool("g++", "CXX"), "ld": tool("ld"), "nm": tool("nm"),
                 "c++filt": tool("c++filt")}
        tools["std"] = cxx_std(tools["cxx"])
    except ToolMissing as error:
        print(f"link check: cannot run: {error}", file=sys.stderr)
        return 2

    problems: list[str] = []
    allowed = read_allowlist(problems)
    with tempfile.TemporaryDirectory(prefix="espml-link-check-") as scratch:
        build = args.build or Path(scratch)
        results = [check_profile(profile, build, tools, allowed) for profile in (args.idf or PROFILES)]

    failed = bool(problems)
    for problem in problems:
        print(f"FAIL {problem}")
    for result in results:
        state = "FAIL" if result.problems else "ok"
        linked = f"{len(result.undefined)} undefined symbols" if result.linked else "not linked"
        print(f"ESP-IDF {result.profile} headers: {result.sources} sources, {linked}: {state}")
        for problem in result.problems:
            print(f"  FAIL {problem}")
        if args.verbose:
            for raw, name in result.undefined:
                print(f"    U {name}" + (f"  [{raw}]" if raw != name else ""))
        failed = failed or bool(result.problems)
    print("link check: " + ("FAILED" if failed else "passed (compiled with " + tools["std"] + ", linked with ld -r)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
