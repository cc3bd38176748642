"""The dataset fingerprint: equal for equal test data, different (and explained) otherwise."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from frlbench.data.base import PairedDataset, PairedSplit
from frlbench.data.fingerprint import DatasetFingerprint, dataset_fingerprint, describe_mismatch


def _dataset(seed: int = 0) -> PairedDataset:
    gen = torch.Generator().manual_seed(seed)

    def split(n: int, resolutions: tuple[int, ...]) -> PairedSplit:
        fields = {r: torch.randn(n, 2, r, r, generator=gen) for r in resolutions}
        return PairedSplit(fields, {r: 2 * f for r, f in fields.items()}, list(range(n)))

    return PairedDataset(
        task="t",
        profile="smoke",
        train_resolution=8,
        splits={"train": split(3, (8,)), "val": split(1, (8,)), "test": split(2, (8, 16))},
        mean=torch.tensor([1.0, -1.0]),
        std=torch.tensor([2.0, 0.5]),
    )


def test_equal_data_equal_fingerprint_and_a_json_round_trip():
    a, b = dataset_fingerprint(_dataset()), dataset_fingerprint(_dataset())
    assert a.matches(b) and describe_mismatch(a, b) == ""
    assert [g.resolution for g in a.grids] == [8, 16]
    assert DatasetFingerprint.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_training_data_does_not_enter_the_fingerprint():
    data = _dataset()
    other = copy.deepcopy(data)
    other.splits["train"].inputs[8] += 1.0
    assert dataset_fingerprint(data).matches(dataset_fingerprint(other))


def test_one_changed_bit_of_a_test_target_or_the_statistics_is_found():
    base = dataset_fingerprint(_dataset())
    data = _dataset()
    target = data.splits["test"].targets[16]
    target[0, 0, 0, 0] = torch.nextafter(target[0, 0, 0, 0], torch.tensor(float("inf")))
    changed = dataset_fingerprint(data)
    assert not changed.matches(base)
    assert "grid 16" in describe_mismatch(changed, base)
    data = _dataset()
    data.std[0] = 2.5
    assert not dataset_fingerprint(data).matches(base)


def test_other_test_sizes_are_named():
    base = dataset_fingerprint(_dataset())
    data = _dataset()
    split = data.splits["test"]
    split.inputs = {r: t[:1] for r, t in split.inputs.items()}
    split.targets = {r: t[:1] for r, t in split.targets.items()}
    assert "1 test pairs here, 2 published" in describe_mismatch(dataset_fingerprint(data), base)


@pytest.mark.slow
def test_data_are_built_on_one_thread_whatever_the_process_uses(tmp_path):
    """fluid3d smoke data differed in the last bits between 1 and 2 threads (MKL's inverse
    FFT) before builds were pinned to one thread; now both give the same fingerprint."""
    import torch

    from frlbench.catalog import builtin_task_file
    from frlbench.data import load_dataset
    from frlbench.data.fingerprint import dataset_fingerprint
    from frlbench.spec import load_task, resolve_task

    task = resolve_task(load_task(builtin_task_file("fluid3d")), "smoke")
    before = torch.get_num_threads()
    prints = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            data = load_dataset(task, cache_dir=tmp_path / f"t{threads}", progress=False)
            prints.append(dataset_fingerprint(data))
            assert torch.get_num_threads() == threads  # the caller's setting comes back
    finally:
        torch.set_num_threads(before)
    # the data bits (what pairs runs) are the same; the summaries that explain a mismatch are
    # reductions taken under the caller's thread count and may differ in their last digits
    assert prints[0].digest == prints[1].digest
