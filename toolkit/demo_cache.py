"""The demo's trained, optimised and converted model, kept in its work folder for the next run.

It is reused only when everything that made it is unchanged: every source file of the toolkit,
the versions of the libraries that train and convert, the stage order and the budget. Anything
unreadable or altered in the folder is treated as no cache (the model is built again)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from toolkit.errors import InputDataError
from toolkit.tensors import Preprocess

TOOLKIT = Path(__file__).resolve().parent
LIBRARIES = ("torch", "onnx", "onnx2tf", "tensorflow", "scikit-learn", "numpy")
MODEL_FILE, FACTS_FILE = "model.tflite", "build.json"


@dataclass
class Build:
    tflite: bytes
    preprocess: Preprocess
    stages: list[dict]


def build_key(order: list[str], budget_points: float) -> str:
    """What the demo's model depends on, as one hash."""
    digest = hashlib.sha256(json.dumps({"order": order, "budget": budget_points}).encode())
    for library in LIBRARIES:
        try:
            digest.update(f"{library}=={metadata.version(library)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{library} absent\n".encode())
    for source in sorted(TOOLKIT.rglob("*.py")):
        digest.update(str(source.relative_to(TOOLKIT)).encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def load_build(folder: Path, key: str) -> Build | None:
    """The build kept in ``folder`` if it was made under ``key`` and is intact, else None."""
    try:
        facts = json.loads((folder / FACTS_FILE).read_text())
        tflite = (folder / MODEL_FILE).read_bytes()
        if facts["key"] != key or facts["model_sha256"] != hashlib.sha256(tflite).hexdigest():
            return None
        return Build(tflite, Preprocess.from_json(facts["preprocess"], str(folder / FACTS_FILE)), facts["stages"])
    except (OSError, ValueError, KeyError, TypeError, InputDataError):
        return None


def save_build(folder: Path, key: str, build: Build) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(build.tflite)
    facts = {"key": key, "model_sha256": hashlib.sha256(build.tflite).hexdigest(),
             "preprocess": build.preprocess.to_json(), "stages": build.stages}
    temporary = folder / (FACTS_FILE + ".tmp")
    temporary.write_text(json.dumps(facts, indent=1, default=_plain))
    temporary.replace(folder / FACTS_FILE)  # the facts last: a half-written build is never taken as whole


def _plain(value):
    """numpy scalars in the stage rows, as the numbers they hold."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} in a stage row cannot be kept")
