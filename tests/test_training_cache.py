"""Kept trainings (toolkit.training_cache): a kept entry gives the model a training gives, and
anything doubtful (a corrupt entry, another setting, a folder others can write) trains again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import toolkit.reference as reference  # noqa: E402
from toolkit.reference import build_reference_cnn, trained_reference  # noqa: E402

EPOCHS = 1  # the weights differ from the initial ones after one epoch; more would only cost time


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "trained"
    monkeypatch.setenv("ESPML_TRAINING_CACHE", str(folder))
    return folder


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the trainings that really run."""
    count: list[int] = []
    real = reference.train

    def counted(*args, **kwargs):
        count.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reference, "train", counted)
    return count


def weights(model) -> dict:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_kept_training_gives_the_trained_weights_and_random_state(cache: Path, trainings: list[int]) -> None:
    trained, _ = trained_reference(epochs=EPOCHS, cache=False)
    after_training = torch.get_rng_state()
    first, _ = trained_reference(epochs=EPOCHS)
    torch.manual_seed(123)  # whatever ran between the two
    kept, _ = trained_reference(epochs=EPOCHS)
    assert len(trainings) == 2  # the uncached one and the first cached one; the last was read
    assert same(weights(trained), weights(first)) and same(weights(trained), weights(kept))
    assert torch.equal(torch.get_rng_state(), after_training)
    assert not kept.training  # ready for evaluation, as a trained model is
    assert not same(weights(kept), weights(build_reference_cnn()))


def test_a_corrupt_entry_is_trained_again_and_replaced(cache: Path, trainings: list[int]) -> None:
    trained_reference(epochs=EPOCHS)
    (entry,) = cache.glob("*.pt")
    entry.write_bytes(entry.read_bytes()[:100])
    model, _ = trained_reference(epochs=EPOCHS)
    assert len(trainings) == 2
    assert same(weights(model), weights(trained_reference(epochs=EPOCHS)[0])) and len(trainings) == 2


def test_another_setting_is_another_entry(cache: Path, trainings: list[int]) -> None:
    trained_reference(epochs=EPOCHS)
    trained_reference(epochs=EPOCHS + 1)
    assert len(trainings) == 2 and len(list(cache.glob("*.pt"))) == 2


def test_a_folder_others_can_write_is_not_used(cache: Path, trainings: list[int]) -> None:
    cache.mkdir()
    os.chmod(cache, 0o777)
    trained_reference(epochs=EPOCHS)
    trained_reference(epochs=EPOCHS)
    assert len(trainings) == 2 and not list(cache.iterdir())


def test_a_network_without_a_stable_name_is_not_kept(cache: Path, trainings: list[int]) -> None:
    def local_factory():
        return build_reference_cnn()

    trained_reference(local_factory, epochs=EPOCHS)
    trained_reference(local_factory, epochs=EPOCHS)
    assert len(trainings) == 2 and not list(cache.glob("*.pt"))


@pytest.mark.parametrize("fresh", [False, True])
def test_the_demo_trains_anew_with_fresh(fresh: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit import demo

    class Asked(Exception):
        pass

    def trained_reference(cache: bool = True):
        raise Asked(cache)

    monkeypatch.setattr(reference, "trained_reference", trained_reference)
    with pytest.raises(Asked) as asked:
        demo.build_model(tmp_path, [], demo.PhaseClock(), fresh)
    assert asked.value.args == (not fresh,)
