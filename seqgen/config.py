"""The generic settings loader: a tree of settings dataclasses filled from defaults, then an optional YAML
file, then `key=value` overrides.

It knows nothing of what the settings mean: each section is a `seqgen.errors.Settings` dataclass that lives
beside its part and checks its own values when it is built; the loader only reads text, refuses unknown keys
(suggesting the closest real one) and values of the wrong type (and non-finite numbers, which no setting
means), and builds the sections bottom-up from the final values, so every check sees what will be used.
The run's tree (`RunConfig`) is assembled in `seqgen.run_folder`. Every field carries its help text
(``field(metadata={"help": ...})``); ``seqgen train --help`` prints them.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from seqgen.errors import SeqgenError

T = TypeVar("T")


def flat_dict(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'train': {'lr': 1}} -> {'train.lr': 1}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_dict(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _is_optional(tp: Any) -> bool:
    return (typing.get_origin(tp) in (typing.Union, types.UnionType)) and type(None) in typing.get_args(tp)


def _type_name(tp: Any) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args:
        return " or ".join(_type_name(a) for a in args) + (" or null" if _is_optional(tp) else "")
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, tp: Any, value: Any, raw: str | None = None) -> Any:
    """Check `value` against the field type `tp`.

    Ints are accepted for floats, and so are strings that read as floats ('1e-3': YAML 1.1 reads that as a
    string); a string field given on the command line keeps the text as typed (`out=007` stays '007',
    `train.mixed_precision=no` stays 'no', not YAML 1.1's false). Nothing else is converted."""
    if _is_optional(tp):
        if value is None:
            return None
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
    if tp is str and raw is not None and not isinstance(value, dict | list):
        value = raw.strip()
    if tp is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    ok = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
    )
    if not ok:
        hint = ""
        if tp is str and isinstance(value, bool):  # a YAML file's unquoted no (YAML 1.1): say how to write it
            hint = " (YAML reads an unquoted no, yes, off or on as a boolean: quote it)"
        raise SeqgenError(f"config key '{key}' expects {_type_name(tp)}, got {value!r}{hint}")
    if tp is float:
        value = float(value)
        # No seqgen setting means anything at inf or nan (a nan learning rate trains nothing, silently).
        if not math.isfinite(value):
            raise SeqgenError(f"config key '{key}' must be a finite number, got {value}")
    return value


def _hints(cls: type) -> dict[str, Any]:
    """Field name -> resolved type, for the dataclass fields only (not ClassVars such as `section`)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def all_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted leaf key of a settings class, e.g. 'train.max_steps'."""
    out = []
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            out += all_keys(tp, prefix + f.name + ".")
        else:
            out.append(prefix + f.name)
    return out


def _unknown(key: str, cls: type) -> SeqgenError:
    close = difflib.get_close_matches(key, all_keys(cls), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return SeqgenError(f"unknown config key '{key}'{hint}")


class _Values:
    """The nested values of a settings tree while it is being filled, with the keys the user set."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.tree = dataclasses.asdict(cls())
        self.given: set[str] = set()

    def apply(self, key: str, value: Any, raw: str | None = None) -> None:
        """Set dotted `key` to `value` (type-checked); a section takes a mapping of its keys."""
        parts = key.split(".")
        cls, node = self.cls, self.tree
        for i, part in enumerate(parts):
            hints = _hints(cls)
            if part not in hints:
                raise _unknown(key, self.cls)
            tp = hints[part]
            if i < len(parts) - 1:
                if not dataclasses.is_dataclass(tp):
                    raise _unknown(key, self.cls)
                cls, node = tp, node[part]
                continue
            if dataclasses.is_dataclass(tp):
                if not isinstance(value, dict):
                    raise SeqgenError(
                        f"config key '{key}' is a section; give its keys, e.g. '{key}.KEY=VALUE'"
                    )
                for k, v in value.items():
                    self.apply(f"{key}.{k}", v)
                return
            node[part] = _coerce(key, tp, value, raw)
            self.given.add(key)

    def build(self) -> Any:
        return _build(self.cls, self.tree)


def _build(cls: type[T], values: dict[str, Any]) -> T:
    """`cls` from nested values, innermost sections first (each checks itself when constructed)."""
    hints = _hints(cls)
    kwargs = {
        f.name: _build(hints[f.name], values[f.name])
        if dataclasses.is_dataclass(hints[f.name])
        else values[f.name]
        for f in dataclasses.fields(cls)
    }
    return cls(**kwargs)


def _parse_override(text: str) -> tuple[str, Any, str]:
    if "=" not in text:
        raise SeqgenError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # YAML reads `out=runs/1e3` style values as str already; keep strings that YAML turns into dates etc.
    if not isinstance(value, str | int | float | bool | type(None) | dict | list):
        value = raw
    return key, value, raw


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file, or a one-line error naming the file and the problem."""
    p = Path(path)
    if not p.is_file():
        raise SeqgenError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SeqgenError(f"config file is not UTF-8 text: {p}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SeqgenError(f"config file is not valid YAML{where}: {p}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SeqgenError(f"config file must hold a mapping of keys, got {type(data).__name__}: {p}")
    return data


def parse_settings(
    cls: type[T], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> tuple[T, frozenset[str]]:
    """(`cls` from its defaults, then the YAML file (if any), then `key=value` overrides, the keys set)."""
    values = _Values(cls)
    if path is not None:
        for k, v in read_yaml_mapping(path).items():
            values.apply(str(k), v)
    for text in overrides:
        values.apply(*_parse_override(text))
    return values.build(), frozenset(values.given)


def settings_from_dict(cls: type[T], data: dict[str, Any]) -> tuple[T, frozenset[str]]:
    """`cls` from a (nested or dotted) mapping, as a saved config.yaml holds it, and the keys it set."""
    values = _Values(cls)
    for k, v in data.items():
        values.apply(str(k), v)
    return values.build(), frozenset(values.given)


def help_text(cls: type) -> str:
    """One line per key: name, type, default and help; for `seqgen train --help`."""
    lines = []

    def walk(c: type, obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(c):
            tp = _hints(c)[f.name]
            if dataclasses.is_dataclass(tp):
                walk(tp, getattr(obj, f.name), prefix + f.name + ".")
                continue
            default = getattr(obj, f.name)
            choices = f.metadata.get("choices")
            extra = f" [{'|'.join(choices)}]" if choices else ""
            lines.append(
                f"  {prefix + f.name} ({_type_name(tp)}, default {default!r}){extra}: {f.metadata['help']}"
            )

    walk(cls, cls(), "")
    return "\n".join(lines)
