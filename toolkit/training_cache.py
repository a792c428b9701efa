"""Trained weights kept for the next run of ``toolkit.reference.trained_reference``.

Seeded training on one thread gives the same weights every time for the same code, libraries and
machine, so a second training of the same network is a file read (the reference CNN: about 30
CPU-s). An entry is keyed by the network's factory (its module's source), toolkit/reference.py
(the data, the loop, the hyperparameters), the upscale and epochs, the versions of torch, numpy and
scikit-learn, and the machine type. It holds the weights and torch's random state after training,
so what runs next draws the same numbers either way. Entries live in $ESPML_TRAINING_CACHE, else
$ESPML_CACHE_DIR/espml/trained (else $XDG_CACHE_HOME or ~/.cache), used only when the folder is this
user's alone; they are read with torch's weights-only unpickler (tensors, no code). An entry that
cannot be read is trained again. Two processes training one network: the second waits and reads.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

LIBRARIES = ("torch", "numpy", "scikit-learn")
REFERENCE_SOURCE = Path(__file__).with_name("reference.py")


def cache_folder() -> Path | None:
    """The folder of entries, made 0700 when new; None when it cannot be made or others can write it."""
    explicit = os.environ.get("ESPML_TRAINING_CACHE")
    base = Path(os.environ.get("ESPML_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = Path(explicit) if explicit else base / "espml" / "trained"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.stat()
    except OSError:
        return None
    return folder if st.st_uid == os.geteuid() and not st.st_mode & 0o077 else None


def entry_key(factory: Callable, upscale: int, epochs: int) -> str | None:
    """The entry's name, or None for a factory without a stable name (a lambda, a local function)."""
    qualname, module = getattr(factory, "__qualname__", ""), sys.modules.get(getattr(factory, "__module__", ""))
    source = getattr(module, "__file__", None)
    if not qualname or "<" in qualname or source is None:
        return None
    digest = hashlib.sha256(f"{module.__name__}:{qualname}:{upscale}:{epochs}:{platform.machine()}\n".encode())
    for library in LIBRARIES:
        try:
            digest.update(f"{library}=={metadata.version(library)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{library} absent\n".encode())
    for path in sorted({REFERENCE_SOURCE, Path(source).resolve()}):
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def cached_training(factory: Callable, upscale: int, epochs: int, train: Callable):
    """``train()``'s model, or the same model read from the entry an earlier ``train()`` wrote."""
    import torch

    key, folder = entry_key(factory, upscale, epochs), cache_folder()
    if key is None or folder is None:
        return train()
    entry = folder / f"{key}.pt"
    with (folder / f"{key}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        model = factory()
        try:
            kept = torch.load(entry, weights_only=True)
            model.load_state_dict(kept["weights"])
            torch.set_rng_state(kept["rng"])
            return model.eval()
        except Exception:  # missing, truncated, another layout: train again
            pass
        model = train()
        partial = entry.with_suffix(".partial")
        torch.save({"weights": model.state_dict(), "rng": torch.get_rng_state()}, partial)
        os.replace(partial, entry)
        return model
