"""Install into this interpreter's venv with uv, honouring pip's configuration (here: about 66 s against pip's 3 min).

uv reads no pip.conf and no PIP_* variables, so this reads `pip config list` and passes the same
indexes, find-links and constraints, with pip's "best match across all indexes" strategy and pip's
certificate. Usage: python uv_install.py PIP-INSTALL-ARGS... Exit 3, before installing anything,
when pip has a setting uv cannot carry over: the caller installs with pip instead.
"""

import os
import shlex
import subprocess
import sys

CANNOT_TRANSLATE = 3
FLAG_OF_SETTING = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraints",
}
# Settings that change how pip talks or prints, not what it installs.
# pip install options spelled differently by uv.
UV_SPELLING = {"--force-reinstall": "--reinstall"}
HARMLESS = {"default-timeout", "timeout", "disable-pip-version-check", "progress-bar", "no-color",
            "quiet", "verbose", "root-user-action", "no-input", "retries"}


def uv_settings(config_lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """uv flags and environment equivalent to pip's settings; ValueError names one it cannot carry."""
    flags = ["--index-strategy", "unsafe-best-match"]
    environment: dict[str, str] = {}
    for line in config_lines:
        if "=" not in line:
            continue
        key, raw_value = line.split("=", 1)
        setting = key.rsplit(".", 1)[-1]
        value = raw_value.strip().strip("'\"")
        if setting in FLAG_OF_SETTING:
            for item in shlex.split(value):
                flags += [FLAG_OF_SETTING[setting], item]
        elif setting == "no-index":
            if value.lower() in ("1", "true", "yes", "on"):
                flags.append("--no-index")
        elif setting == "cert":
            environment["SSL_CERT_FILE"] = value
        elif setting not in HARMLESS:
            raise ValueError(setting)
    return flags, environment


def main(pip_args: list[str]) -> int:
    config = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True, check=True).stdout
    try:
        flags, environment = uv_settings(config.splitlines())
    except ValueError as unknown:
        print(f"pip setting {unknown} has no uv equivalent here: installing with pip", file=sys.stderr)
        return CANNOT_TRANSLATE
    # pip writes the .pyc files at install; uv only when asked. Without them, and with
    # PYTHONDONTWRITEBYTECODE set (as on this machine), every process compiles torch and TensorFlow
    # from source: the test suite took 1,439 s against 944.
    command = [sys.executable, "-m", "uv", "pip", "install", "--compile-bytecode", "--python", sys.executable, *flags,
               *(UV_SPELLING.get(arg, arg) for arg in pip_args)]
    return subprocess.run(command, env={**os.environ, **environment}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
