# Sourced by scripts/demo and scripts/test: create or reuse .venv and install what the project needs.
# Both commands install the same extras, so running one after the other installs nothing more.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
    for candidate in python3.11 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "espml needs Python 3.11 (onnx2tf 1.29 and TensorFlow 2.19 pin it); install it and try again" >&2
    return 1
}

# pip install ARGS into the venv of PYTHON: with uv when pip's settings carry over to it (the main
# venv: 66 s with its bytecode, against about 3 min with pip here), with pip otherwise or when uv fails.
install_into() {
    local python="$1"
    shift
    if "$python" -m pip install --quiet --disable-pip-version-check "uv>=0.13,<0.14" >/dev/null 2>&1; then
        local code=0
        "$python" "$ROOT/scripts/uv_install.py" --quiet "$@" || code=$?
        if [ "$code" = 0 ]; then
            return 0
        fi
        [ "$code" = 3 ] || echo "uv failed (exit $code): installing with pip" >&2
    fi
    "$python" -m pip install --quiet --disable-pip-version-check "$@"
}

ensure_env() {
    local extras="convert,micropython-sim,report,power,test"
    local stamp="$VENV/.espml-installed"
    local want
    want="$extras $(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -x "$VENV/bin/python" ]; then
        "$(find_python)" -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
        echo "installing espml[$extras] into $VENV (first run: about a minute with uv, a few with pip)" >&2
        install_into "$VENV/bin/python" -e "$ROOT[$extras]"
        echo "$want" > "$stamp"
    fi
    # The virtual board runs the firmware's own C: build its host port (cached by source hash).
    "$VENV/bin/python" -m toolkit.virtual.host_port >/dev/null
}

# Tools the tests use from Debian's packages: headless Chromium (the HTML report is tested in a real
# browser) and clang with libFuzzer (the firmware's C is fuzzed). Root installs them; others are
# told how, and those tests skip with the reason.
ensure_test_tools() {
    local missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v clang >/dev/null 2>&1 || missing+=(clang)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's ${missing[*]} for the tests" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "no ${missing[*]}: the browser and fuzzing tests will skip (sudo apt-get install ${missing[*]})" >&2
    fi
}

# The farm tests (labgrid places) run in a venv of their own: labgrid 26.0.1 needs protobuf>=5.29.6,
# onnx2tf pins protobuf==4.25.5. Light core + labgrid + pytest; pyserial-labgrid (labgrid's fork,
# the same `serial` module) is installed last so its files win over pyserial's, whatever pip's order.
FARM_VENV="$ROOT/.venv-farm"
ensure_farm_env() {
    local stamp="$FARM_VENV/.espml-installed"
    local want
    want="farm $(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -x "$FARM_VENV/bin/python" ]; then
        "$(find_python)" -m venv "$FARM_VENV"
    fi
    if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
        echo "installing espml[farm] and pytest into $FARM_VENV" >&2
        install_into "$FARM_VENV/bin/python" -e "$ROOT[farm]" "pytest>=8" "pytest-xdist>=3"
        install_into "$FARM_VENV/bin/python" --force-reinstall --no-deps "pyserial-labgrid==3.5.0.2"
        echo "$want" > "$stamp"
    fi
}
