from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

# The virtual board runs the firmware's C: the tests run it under UndefinedBehaviorSanitizer
# (tests/test_sanitizers.py adds AddressSanitizer in a child process).
os.environ.setdefault("ESPML_HOST_PORT_SANITIZE", "undefined")

from machine_share import _machine_share, pytest_collection_modifyitems  # noqa: E402,F401 (hooks)
from toolkit.hil.suite import real_models  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# The farm tests need labgrid, which cannot share a venv with the convert extra: they run in
# .venv-farm (tests/test_farm.py starts them there).
collect_ignore = [] if importlib.util.find_spec("labgrid") else ["farm"]
FIXTURES = ROOT / "fixtures"
REFERENCE_MODEL = FIXTURES / "reference" / "digits_cnn_int8.tflite"


@pytest.fixture
def reference_model_path() -> Path:
    return REFERENCE_MODEL


@pytest.fixture
def heldout_nhwc() -> tuple[np.ndarray, np.ndarray]:
    x = np.load(FIXTURES / "reference" / "heldout_x.npy")
    y = np.load(FIXTURES / "reference" / "heldout_y.npy")
    return x.transpose(0, 2, 3, 1)[:, None], y


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "results.sqlite"


def real_model_params():
    models = real_models()
    if not models:
        return [pytest.param(None, marks=pytest.mark.skip(reason="ESPML_REAL_MODELS is not set"))]
    return [pytest.param(path, id=path.stem) for path in models]
