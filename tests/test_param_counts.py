"""``frlbench list backbones`` counts parameters once and then reads them from its cache."""

from __future__ import annotations

from pathlib import Path

from frlbench.tools import zoo
from frlbench.tools.param_counts import CountCache, count_key


def test_counts_are_built_once_then_read(tmp_path: Path, monkeypatch):
    from frlbench.catalog import Catalog

    Catalog(tmp_path / "tasks", tmp_path / "baselines").load()
    cache = CountCache(tmp_path / "cache" / "parameter_counts.json")
    first = zoo.describe_backbones(names=["cnn", "unet"], counts=cache)
    cache.save()

    def no_build(*args, **kwargs):
        raise AssertionError("built although its counts were cached")

    monkeypatch.setattr(zoo, "create_backbone", no_build)
    again = zoo.describe_backbones(
        names=["cnn", "unet"], counts=CountCache(tmp_path / "cache" / "parameter_counts.json")
    )
    assert [r["parameters"] for r in again] == [r["parameters"] for r in first]
    assert all(isinstance(n, int) and n > 0 for r in first for n in r["parameters"].values())
    assert count_key("cnn", 3, 3) != count_key("cnn", 2, 3) != count_key("unet", 2, 3)


def test_an_unreadable_counts_file_is_empty(tmp_path: Path):
    path = tmp_path / "parameter_counts.json"
    path.write_text("{not json")
    assert CountCache(path).get("anything") is None
