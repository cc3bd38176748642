"""TOML to typed dataclasses: the parser every spec uses, its errors, and safe names.

:func:`parse_dataclass` checks every key against the dataclass fields. A wrong key, type or
value raises :class:`ConfigError` naming the file, the key, what was given and what is valid.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

C = TypeVar("C")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SAFE_NAME_RULE = (
    "letters, digits, '_', '-' and '.', starting with a letter or digit, no '..', "
    "at most 128 characters"
)


def is_safe_name(name: object) -> bool:
    """Whether ``name`` can be used as one path component (no separators, no ``..``)."""
    return isinstance(name, str) and SAFE_NAME.fullmatch(name) is not None and ".." not in name


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the file, key, value and valid choices."""


class InvalidValue(ConfigError):
    """A dataclass rejected one of its values; :func:`parse_dataclass` adds file and key path.

    Attributes:
        key: The field name.
        value: The value given.
        valid: What would be valid, in words.
    """

    def __init__(self, key: str, value: Any, valid: str) -> None:
        super().__init__(f"key {key!r}: got {value!r}; valid: {valid}")
        self.key, self.value, self.valid = key, value, valid


def _where(source: str, key: str) -> str:
    return f"{source}: key {key!r}" if key else source


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, source: str, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert TOML types to it."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        return _coerce_choice(value, get_args(tp), source, key)
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(value, tp, source, key)
    if origin in (tuple, list, dict) or dataclasses.is_dataclass(tp):
        return _coerce_container(value, tp, source, key)
    if tp in _SCALARS:
        return _coerce_scalar(value, tp, source, key)
    raise TypeError(f"unsupported annotation {tp!r} for {key!r}")


def _coerce_choice(value: Any, choices: tuple, source: str, key: str) -> Any:
    """A ``Literal`` value: one of ``choices``, named in the error."""
    if value not in choices:
        raise ConfigError(
            f"{_where(source, key)}: got {value!r}; valid choices: "
            + ", ".join(repr(c) for c in choices)
        )
    return value


def _coerce_union(value: Any, tp: Any, source: str, key: str) -> Any:
    """The first member of the union ``tp`` that accepts ``value`` (``None`` if optional)."""
    args = get_args(tp)
    if value is None and type(None) in args:
        return None
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _coerce(value, arg, source, key)
        except ConfigError:
            continue
    raise ConfigError(f"{_where(source, key)}: got {value!r}; expected {_type_name(tp)}")


def _coerce_container(value: Any, tp: Any, source: str, key: str) -> Any:
    """A list or tuple (each item checked), a table (each value checked) or a dataclass."""
    origin = get_origin(tp)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(
                f"{_where(source, key)}: got {value!r}; expected a list of {_type_name(tp)}"
            )
        args = get_args(tp)
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is not dict and isinstance(value, tp):  # an already-built dataclass
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{_where(source, key)}: got {value!r}; expected a table")
    if origin is dict:
        _, val_tp = get_args(tp)
        return {k: _coerce(v, val_tp, source, f"{key}.{k}") for k, v in value.items()}
    return parse_dataclass(tp, value, source, prefix=key)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


#: Scalar annotations: the check of a TOML value, and what the error says was expected.
_SCALARS: dict[type, tuple[Callable[[Any], bool], str]] = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (_is_int, "an integer"),
    float: (_is_number, "a number"),
    str: (lambda v: isinstance(v, str), "a string"),
}


def _coerce_scalar(value: Any, tp: type, source: str, key: str) -> Any:
    """A bool, int, float (finite; an integer is converted) or str."""
    check, expected = _SCALARS[tp]
    if not check(value):
        raise ConfigError(f"{_where(source, key)}: got {value!r}; expected {expected}")
    if tp is float:
        if not math.isfinite(float(value)):
            raise ConfigError(f"{_where(source, key)}: got {value!r}; expected a finite number")
        return float(value)
    return value


def parse_dataclass(cls: type[C], data: dict[str, Any], source: str, prefix: str = "") -> C:
    """Build dataclass ``cls`` from a mapping, validating keys and types.

    Args:
        cls: The dataclass to build.
        data: Keys and values, as read from TOML.
        source: Where the values came from (a file path), used in error messages.
        prefix: Dotted key of the enclosing table, used in error messages.

    Raises:
        ConfigError: For an unknown key, a missing required key, a wrong type, or a value
            rejected by the dataclass's own ``__post_init__`` check.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{_where(source, _join(prefix, unknown[0]))}: unknown key; valid keys: "
            + ", ".join(sorted(fields))
        )
    kwargs = {}
    for name, f in fields.items():
        full = _join(prefix, name)
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], source, full)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{_where(source, full)}: missing required key")
    try:
        return cls(**kwargs)
    except InvalidValue as exc:
        where = _where(source, _join(prefix, exc.key))
        raise ConfigError(f"{where}: got {exc.value!r}; valid: {exc.valid}") from None
    except ValueError as exc:
        raise ConfigError(f"{_where(source, prefix)}: {exc}") from None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning a syntax error into a :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # e.g. saved in Latin-1
        raise ConfigError(
            f"{path}: not UTF-8 text (UnicodeDecodeError: byte {exc.object[exc.start]:#04x} at "
            f"offset {exc.start}); TOML files must be saved as UTF-8"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None


def check(condition: bool, key: str, value: Any, valid: str) -> None:
    if not condition:
        raise InvalidValue(key, value, valid)
