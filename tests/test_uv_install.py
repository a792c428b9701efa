"""scripts/uv_install.py: uv installs what pip would, from the indexes and constraints pip is told of."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "uv_install.py"


def load_script():
    spec = importlib.util.spec_from_file_location("uv_install", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pips_indexes_find_links_constraints_and_certificate_carry_over():
    config = [
        ":env:.find-links='/opt/wheels'",
        ":env:.default-timeout='180'",
        "global.cert='/etc/ssl/certs/ca.crt'",
        "global.constraint='/etc/xdg/pip/constraints.txt'",
        "global.extra-index-url='file:///opt/a/simple file:///opt/b/simple'",
        "install.index-url='https://mirror.example/simple'",
    ]
    flags, environment = load_script().uv_settings(config)
    assert flags == [
        "--index-strategy", "unsafe-best-match",
        "--find-links", "/opt/wheels",
        "--constraints", "/etc/xdg/pip/constraints.txt",
        "--extra-index-url", "file:///opt/a/simple", "--extra-index-url", "file:///opt/b/simple",
        "--index-url", "https://mirror.example/simple",
    ]
    assert environment == {"SSL_CERT_FILE": "/etc/ssl/certs/ca.crt"}


def test_a_pip_setting_uv_cannot_carry_is_named():
    with pytest.raises(ValueError, match="only-binary"):
        load_script().uv_settings(["global.only-binary=':all:'"])


def test_an_untranslatable_setting_hands_over_to_pip_before_installing():
    result = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "numpy"], capture_output=True,
                            text=True, env={**os.environ, "PIP_PRE": "1"})
    assert result.returncode == 3
    assert "pip setting pre has no uv equivalent here: installing with pip" in result.stderr


def test_real_uv_takes_the_flags_made_from_this_machines_pip_settings():
    pytest.importorskip("uv", reason="the venv was installed by pip (uv could not be installed)")
    result = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--force-reinstall", "--no-deps",
                             "numpy"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Would" in result.stderr and "numpy" in result.stderr
