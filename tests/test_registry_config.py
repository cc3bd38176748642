"""Registry look-ups, plugin discovery and typed TOML configuration errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from frlbench import catalog, registry
from frlbench.registry import FRL_VARIANTS, PROFILES, Registry, UnknownNameError
from frlbench.spec import (
    BackboneSpec,
    ConfigError,
    FRLConfig,
    TaskProfile,
    load_baseline,
    load_task,
)


def test_registry_get_list_and_did_you_mean():
    reg: Registry[int] = Registry("widget")
    reg.register("alpha")(1)
    reg.add("alpine", 2)
    reg.add("beta", 3)
    assert reg.get("beta") == 3
    assert reg.list("al*") == ["alpha", "alpine"]
    assert "beta" in reg and len(reg) == 3
    with pytest.raises(UnknownNameError) as info:
        reg.get("alpah")
    message = str(info.value)
    assert "Did you mean 'alpha'" in message
    assert "alpha, alpine, beta" in message


def test_registry_rejects_a_clash_from_another_source():
    reg: Registry[int] = Registry("widget")
    reg.add("x", 1, source="a.py")
    reg.add("x", 2, source="a.py")  # same source: replaced (re-import)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("x", 3, source="b.py")


def test_builtin_variants_and_profiles_are_registered():
    assert {"off", "full", "encoding-only", "multires-only", "loss-only", "no-encoding"} <= set(
        FRL_VARIANTS.list()
    )
    assert PROFILES.list() == ["paper", "quick", "smoke"]
    assert not FRL_VARIANTS.get("off").enabled
    with pytest.raises(UnknownNameError, match="Did you mean 'full'"):
        FRL_VARIANTS.get("ful")


def test_plugin_file_is_imported(tmp_path: Path):
    (tmp_path / "my_plugin.py").write_text(
        textwrap.dedent(
            """
            from frlbench.registry import register_backbone

            @register_backbone("plugin_probe_model", family="test")
            def build(spec, task, in_channels, out_channels):
                raise NotImplementedError
            """
        )
    )
    catalog.discover_plugins(tmp_path)
    assert "plugin_probe_model" in registry.BACKBONES
    assert registry.BACKBONES.entry("plugin_probe_model").info.family == "test"


def test_broken_plugin_names_the_file(tmp_path: Path):
    bad = tmp_path / "broken.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(registry.PluginError, match=r"broken\.py"):
        catalog.load_plugin_file(bad)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


TASK = """
builder = "advection"
ndim = 2
channels = ["c"]
[profiles.smoke]
train_resolution = 8
test_resolutions = [8, 16]
reference_resolution = 16
n_train = 2
n_val = 1
n_test = 1
"""


def test_task_toml_loads(tmp_path: Path):
    task = load_task(write(tmp_path / "adv.toml", TASK))
    assert task.name == "adv"
    assert task.profiles["smoke"].test_resolutions == (8, 16)
    assert task.grid_shape(16) == (16, 16)


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        ("ndim = 2", "ndim = 2\nnmdi = 3", ["nmdi", "unknown key", "valid keys"]),
        ("ndim = 2", 'ndim = "two"', ["'ndim'", "'two'", "integer"]),
        ("test_resolutions = [8, 16]", "test_resolutions = [16, 8]", ["test_resolutions",
                                                                     "ascending"]),
        ("reference_resolution = 16", "reference_resolution = 8",
         ["profiles.smoke.reference_resolution", ">= the largest"]),
        ("[profiles.smoke]", "[profiles.fast]", ["profiles.fast", "paper, quick, smoke"]),
        ("n_val = 1", "n_val = 0", ["profiles.smoke.n_val", "got 0", ">= 1"]),
    ],
)  # fmt: skip
def test_task_errors_name_file_key_value_and_valid(tmp_path, old, new, needles):
    path = write(tmp_path / "bad.toml", TASK.replace(old, new))
    with pytest.raises(ConfigError) as info:
        catalog.validate_task(load_task(path))  # profile names are checked by the catalog
    message = str(info.value)
    assert "bad.toml" in message
    for needle in needles:
        assert needle in message


def test_invalid_toml_names_the_file(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML"):
        load_task(write(tmp_path / "bad.toml", "ndim = = 2"))


BASELINE = """
backbone = "fno"
[defaults]
size = "small"
epochs = 5
[profiles.smoke]
size = "tiny"
epochs = 1
"""


def test_baseline_profiles_override_defaults(tmp_path: Path):
    spec = load_baseline(write(tmp_path / "fno.toml", BASELINE))
    assert spec.settings("smoke").size == "tiny"
    assert spec.settings("smoke").epochs == 1
    assert spec.settings("quick").epochs == 5


def test_baseline_bad_override_is_reported_at_load(tmp_path: Path):
    path = write(tmp_path / "b.toml", BASELINE.replace('size = "tiny"', 'size = "huge"'))
    with pytest.raises(ConfigError) as info:
        catalog.validate_baseline(load_baseline(path))
    assert "b.toml" in str(info.value)
    assert "profiles.smoke.size" in str(info.value)
    assert "'huge'" in str(info.value) and "tiny, small, base" in str(info.value)


def test_sizes_come_from_the_backbone_registration(tmp_path: Path, monkeypatch):
    """A plugin may declare its own sizes ("xl"); the built-ins' sizes are their presets."""
    from frlbench.models.cnn import PRESETS

    assert registry.BACKBONES.entry("cnn").info.sizes == tuple(PRESETS)
    monkeypatch.setattr(registry.BACKBONES, "_entries", dict(registry.BACKBONES._entries))
    registry.BACKBONES.add("xl_probe", lambda *a: None, source="test", sizes=("xl",))
    text = 'backbone = "xl_probe"\n[defaults]\nsize = "xl"\n'
    spec = load_baseline(write(tmp_path / "xl.toml", text))
    catalog.validate_baseline(spec)  # "xl" is valid for this backbone
    assert spec.settings("quick").size == "xl"
    with pytest.raises(ConfigError, match=r"defaults\.size.*'xl'.*tiny, small, base"):
        catalog.validate_baseline(
            load_baseline(write(tmp_path / "c.toml", text.replace("xl_probe", "cnn")))
        )


def test_task_tables_name_known_tasks_and_sizes_of_the_backbone(tmp_path: Path):
    catalog.Catalog.default().load()  # the built-in tasks
    text = 'backbone = "cnn"\n[profiles.quick.tasks.era5]\nsteps = 600\nsize = "SIZE"\n'
    spec = load_baseline(write(tmp_path / "ok.toml", text.replace("SIZE", "tiny")))
    catalog.validate_baseline(spec)
    assert spec.settings("quick", task="era5").steps == 600
    assert spec.settings("quick", task="fluid3d").steps == spec.settings("quick").steps
    with pytest.raises(ConfigError, match=r"profiles\.quick\.tasks\.era5\.size.*'xl'.*tiny"):
        catalog.validate_baseline(
            load_baseline(write(tmp_path / "xl.toml", text.replace("SIZE", "xl")))
        )
    typo = text.replace("SIZE", "tiny").replace("era5", "era")
    with pytest.raises(ConfigError, match=r"profiles\.quick\.tasks\.era'.*era5"):
        catalog.validate_baseline(load_baseline(write(tmp_path / "typo.toml", typo)))


def test_frl_config_validation_messages():
    with pytest.raises(ConfigError, match=r"lambda_spec.*>= 0"):
        FRLConfig(lambda_spec=-1.0)
    with pytest.raises(ConfigError, match=r"encoding_frequencies.*>= 1"):
        FRLConfig(encoding_frequencies=0)


def test_run_id_is_deterministic_and_content_addressed(task2d):
    from frlbench.spec import RunSpec, TrainSettings

    baseline = BackboneSpec(name="b", backbone="fno", defaults=TrainSettings(size="tiny"))
    a = RunSpec(task2d, baseline, FRL_VARIANTS.get("off"), 0, "smoke").resolve()
    b = RunSpec(task2d, baseline, FRL_VARIANTS.get("off"), 0, "smoke").resolve()
    c = RunSpec(task2d, baseline, FRL_VARIANTS.get("off"), 1, "smoke").resolve()
    assert a.run_id == b.run_id != c.run_id
    assert a.run_id.startswith("advection2d-b-off-s0-")
    # The file a spec was read from is not part of its identity.
    moved = RunSpec(
        task2d.__class__(**{**task2d.__dict__, "source": "/elsewhere.toml"}),
        baseline, FRL_VARIANTS.get("off"), 0, "smoke",
    ).resolve()  # fmt: skip
    assert moved.run_id == a.run_id


def test_task_profile_requires_train_resolution_among_tests():
    with pytest.raises(ConfigError, match="includes train_resolution"):
        TaskProfile(8, (16, 32), 32, 1, 1, 1)


def test_run_id_is_the_training_identity(monkeypatch):
    """Evaluation settings do not change a run id; the backbone's and FRL's versions do."""

    from frlbench.spec import BackboneSpec, RunSpec, TrainSettings, plan
    from tests.conftest import make_task

    task = make_task(tests=(8, 16), ref=16)
    spec = RunSpec(
        task, BackboneSpec("cnn", "cnn", defaults=TrainSettings(size="tiny")),
        FRL_VARIANTS.get("off"), 0, "smoke",
    ).resolve()  # fmt: skip
    for change in ({"rollout_steps": 3}, {"n_test": 5}, {"test_resolutions": (8,)}):
        assert spec.with_sizes(**change).run_id == spec.run_id, change
    for change in ({"n_train": 5}, {"train_resolution": 4, "test_resolutions": (4, 8)}):
        assert spec.with_sizes(**change).run_id != spec.run_id, change
    before = spec.run_id
    monkeypatch.setattr(plan, "FRL_VERSION", "2")
    assert spec.run_id != before
    monkeypatch.setattr(plan, "FRL_VERSION", "1")
    monkeypatch.setattr(registry.BACKBONES, "_entries", dict(registry.BACKBONES._entries))
    entry = registry.BACKBONES.entry("cnn")
    registry.BACKBONES.add(
        "cnn", entry.obj, source=entry.source, family=entry.info.family, version="2"
    )
    assert spec.run_id != before
