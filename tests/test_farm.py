"""The farm tests (tests/farm/: labgrid places, power cycling) run in .venv-farm, which scripts/test
creates: labgrid 26.0.1 needs a newer protobuf than the convert extra allows, so they cannot share
this venv. One test command still runs them: this test runs them there and fails with their output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FARM_PYTHON = ROOT / ".venv-farm" / "bin" / "python"


@pytest.mark.slow  # minutes of realtime boards, mostly waiting: started first, beside the rest
@pytest.mark.skipif(not FARM_PYTHON.is_file(), reason="no .venv-farm: scripts/test creates it (ensure_farm_env)")
def test_the_farm_suite_passes_in_its_own_venv() -> None:
    env = {k: v for k, v in os.environ.items()  # the outer run's xdist worker variables are not the inner run's
           if k not in ("ESPML_REAL_MODELS", "PYTHONPATH") and not k.startswith("PYTEST_")}
    workers = os.environ.get("ESPML_TEST_WORKERS", "3")  # its labs wait on realtime boards: run them side by side
    result = subprocess.run([str(FARM_PYTHON), "-m", "pytest", "tests/farm", "-q", "-p", "no:cacheprovider",
                             "-n", workers, "--dist", "worksteal"],
                            cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
