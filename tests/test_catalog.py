"""The catalog overlay: built-in tasks and baselines ship in the package; a user's own
``tasks/`` and ``baselines/`` (current directory, ``$FRLBENCH_HOME`` or the CLI options) are
added on top, and a name defined twice is an error naming both files."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frlbench import catalog, registry
from frlbench.catalog import BUILTIN_DIR, Catalog
from frlbench.cli import app
from frlbench.errors import UserError
from frlbench.spec import ConfigError
from frlbench.validate import split_list

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "example_plugin.py"


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch):
    for reg in (registry.BACKBONES, registry.BASELINES, registry.TASKS):
        monkeypatch.setattr(reg, "_entries", dict(reg._entries))
    monkeypatch.setattr(catalog, "_loaded_plugin_files", set(catalog._loaded_plugin_files))


def user_model(root: Path) -> Path:
    """A fresh directory holding only baselines/my_model.py and baselines/my_model.toml."""
    baselines = root / "baselines"
    baselines.mkdir(parents=True)
    plugin = EXAMPLE.read_text().replace('"my_cnn"', '"my_model"')
    (baselines / "my_model.py").write_text(plugin)
    (baselines / "my_model.toml").write_text('backbone = "my_model"\n[defaults]\nsize = "tiny"\n')
    return root


def test_builtins_ship_inside_the_package():
    assert (BUILTIN_DIR / "tasks" / "fluid3d.toml").is_file()
    assert {p.stem for p in (BUILTIN_DIR / "baselines").glob("*.toml")} >= {"cnn", "fno", "unet"}


def test_user_directory_adds_to_the_builtins(tmp_path, monkeypatch):
    root = user_model(tmp_path / "work")
    monkeypatch.chdir(root)
    monkeypatch.delenv("FRLBENCH_HOME", raising=False)
    result = CliRunner().invoke(app, ["list", "backbones"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "my_model" in result.output and "cnn" in result.output and "fno" in result.output
    result = CliRunner().invoke(app, ["list", "baselines"], env={"COLUMNS": "200"})
    assert "my_model" in result.output and "unet" in result.output
    result = CliRunner().invoke(app, ["list", "tasks"], env={"COLUMNS": "200"})
    assert "fluid3d" in result.output


def test_frlbench_home_is_the_user_directory(tmp_path, monkeypatch):
    root = user_model(tmp_path / "home")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FRLBENCH_HOME", str(root))
    Catalog.default().load()
    assert "my_model" in registry.BASELINES and "cnn" in registry.BASELINES


def test_a_name_defined_twice_names_both_files(tmp_path):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    shutil.copy(BUILTIN_DIR / "tasks" / "fluid3d.toml", tasks / "fluid3d.toml")
    with pytest.raises(ConfigError) as info:
        Catalog(tasks, tmp_path / "baselines").load()
    message = str(info.value)
    assert "task 'fluid3d' is defined twice" in message
    assert str(BUILTIN_DIR / "tasks" / "fluid3d.toml") in message
    assert str(tasks / "fluid3d.toml") in message


def test_clash_is_a_clean_cli_error(tmp_path, monkeypatch):
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    (baselines / "cnn.toml").write_text('backbone = "cnn"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FRLBENCH_HOME", raising=False)
    result = CliRunner().invoke(app, ["list", "baselines"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "defined twice" in result.output and "Traceback" not in result.output


def test_missing_catalog_option_directory_is_an_error(tmp_path):
    result = CliRunner().invoke(app, ["list", "tasks", "--tasks-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "--tasks-dir" in result.output


def test_name_lists_accept_commas_spaces_and_repetition():
    assert split_list(["cnn,unet", "fno", "unet"], "--backbone") == ["cnn", "unet", "fno"]
    assert split_list(["off, full"], "--frl") == ["off", "full"]
    assert split_list("off full\tcnn", "--frl") == ["off", "full", "cnn"]
    assert split_list(None, "--frl") is None and split_list([], "--frl") is None


@pytest.mark.parametrize("value", [[""], ["  "], [","], ["", " , "]])
def test_an_empty_name_list_is_an_error_not_all(value):
    with pytest.raises(UserError, match=r"--task: got .* names nothing"):
        split_list(value, "--task")


def test_profile_names_come_from_the_profile_registry(tmp_path):
    task = (BUILTIN_DIR / "tasks" / "fluid3d.toml").read_text().replace("smoke", "smoky")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "other.toml").write_text(textwrap.dedent(task).replace('name = "fluid3d"', ""))
    with pytest.raises(ConfigError, match=r"profiles\.smoky.*Did you mean 'smoke'"):
        Catalog(tasks, tmp_path / "baselines").load()


def test_tools_have_one_name_each(capsys):
    """`frlbench tune` and `frlbench zoo` are commands; `python -m frlbench.tune` is an alias of
    the same parser, and the zoo's module entry is only its internal measurement."""
    runner = CliRunner()
    tune = runner.invoke(app, ["tune", "--help"], env={"COLUMNS": "200"})
    assert tune.exit_code == 0 and "usage: frlbench tune" in tune.output
    assert "--frl-set" in tune.output and "--lrs" in tune.output
    bad = runner.invoke(app, ["tune", "--task", "nope", "--baseline", "cnn"])
    assert bad.exit_code == 2 and "unknown task 'nope'" in bad.output
    zoo = runner.invoke(app, ["zoo", "--help"], env={"COLUMNS": "200"})
    assert zoo.exit_code == 0
    for option in ("--backbone", "--size", "--ndim", "--train-resolution", "--scale"):
        assert option in zoo.output
    from frlbench.tools import zoo as zoo_module
    from frlbench.tune import main as alias

    with pytest.raises(SystemExit) as info:
        alias(["--help"])
    assert info.value.code == 0 and "usage: frlbench tune" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # no user-facing options left there
        zoo_module.main(["--output", "x.md"])
