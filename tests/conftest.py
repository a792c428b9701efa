from __future__ import annotations

import fcntl
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


@pytest.fixture(scope="session")
def tensorflow_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The models tests/tf_models.py builds (about 40 CPU-s of TensorFlow), built once per test run:
    the first xdist worker to ask builds them in the run's shared temporary folder, the others wait.
    None without TensorFlow (with tf_keras)."""
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tf_keras") is None:
        return None
    import tf_models

    shared = tmp_path_factory.getbasetemp().parent / "tf_models"  # the workers' common parent
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / ".complete").is_file():
            tf_models.build(shared)
            (shared / ".complete").touch()
    return shared
