"""Benchmark suites: TOML files read into a validated :class:`BenchConfig`.

A suite file has top-level ``name``, ``archs``, ``seeds``, tables ``[train]``
and ``[rollout]`` (fields of :class:`TrainSpec` and :class:`RolloutSpec`) and
an array ``[[systems]]`` of ``{name, key?, params?, modes?, dt?}``. The
built-in suites live in ``evaluation/suites/``; ``<suite>_quick.toml`` is the
quick variant of ``<suite>.toml``. Every check that can fail runs here, so a
bad configuration stops before any training starts.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from evaluation._base import MODES, BenchConfig, RolloutSpec, SystemSpec, TrainSpec
from evaluation._suite import load_toml

#: Directory of the built-in suite files (package data).
SUITES_DIR = Path(__file__).with_name("suites")
_TOP_KEYS = {"name", "archs", "seeds", "train", "rollout", "systems"}
_SYSTEM_KEYS = {"name", "key", "params", "modes", "dt"}


def builtin_suites() -> list[str]:
    """Names of the suites shipped with the package (``dynamics``, ...)."""
    return sorted(
        p.name[:-5]
        for p in SUITES_DIR.iterdir()
        if p.name.endswith(".toml") and not p.name.endswith("_quick.toml")
    )


def suite_path(suite: str, quick: bool = False):
    """Path of a built-in suite file (its quick variant with ``quick``).

    Raises:
        ValueError: no such built-in suite.
    """
    name = f"{suite}_quick.toml" if quick else f"{suite}.toml"
    path = SUITES_DIR / name
    if not path.is_file():
        raise ValueError(f"no built-in suite {name!r}; built-in: {builtin_suites()}")
    return path


def load_config(
    source: str | os.PathLike, quick: bool = False, seeds: int | None = None
) -> BenchConfig:
    """Read a suite from a built-in name or a TOML file and validate it.

    Args:
        source: a built-in suite name (``"dynamics"``) or a ``.toml`` path.
        quick: for a built-in suite, load its quick variant; for a file, apply
            the file's optional ``[quick]`` table of overrides.
        seeds: override the number of seeds.

    Returns:
        The validated :class:`BenchConfig`.

    Raises:
        ValueError: unknown suite, unreadable or malformed file, unknown
            system or architecture, or a bad number.
        FileNotFoundError: the file does not exist.
    """
    path = Path(source)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"config file {str(path)!r} does not exist")
        raw = load_toml(path)
        if quick:
            raw = _apply_quick(raw, path)
    else:
        raw = load_toml(suite_path(str(source), quick))
    if seeds is not None:
        raw["seeds"] = seeds
    config = parse_config(raw)
    check_config(config)
    return config


def _apply_quick(raw: dict, path: Path) -> dict:
    quick = raw.pop("quick", None)
    if quick is None:
        raise ValueError(f"--quick: config {str(path)!r} has no [quick] table")
    out = dict(raw)
    for key, value in quick.items():
        if key in ("train", "rollout"):
            out[key] = {**raw.get(key, {}), **value}
        elif key == "systems" and all(isinstance(v, str) for v in value):
            out[key] = [
                s
                for s in raw.get("systems", [])
                if s.get("key", s.get("name")) in value
            ]
        else:
            out[key] = value
    return out


def parse_config(raw: dict[str, Any]) -> BenchConfig:
    """Build a :class:`BenchConfig` from a parsed TOML dict (types checked).

    Raises:
        ValueError: unknown keys, wrong types, or out-of-range numbers.
    """
    unknown = set(raw) - _TOP_KEYS - {"quick"}
    if unknown:
        raise ValueError(
            f"unknown config key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}"
        )
    archs = raw.get("archs")
    if not archs or not isinstance(archs, list):
        raise ValueError("config needs 'archs', a non-empty list of architectures")
    entries = raw.get("systems") or []
    if not isinstance(entries, list):
        raise ValueError(
            f"'systems' must be a list of [[systems]] tables, got {entries!r}"
        )
    systems = tuple(_system(s) for s in entries)
    if not systems:
        raise ValueError("config needs at least one [[systems]] entry")
    keys = [s.key for s in systems]
    if len(set(keys)) != len(keys):
        raise ValueError(f"system keys must be unique, got {keys}; set 'key'")
    return BenchConfig(
        name=str(raw.get("name", "custom")),
        systems=systems,
        archs=tuple(str(a) for a in archs),
        seeds=_positive_int("seeds", raw.get("seeds", 1)),
        train=_spec(TrainSpec, raw.get("train", {}), "train"),
        rollout=_spec(RolloutSpec, raw.get("rollout", {}), "rollout"),
    )


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _spec(cls, table: dict, section: str):
    """Fill a frozen dataclass from a TOML table, checking names and signs."""
    if not isinstance(table, dict):
        raise ValueError(f"[{section}] must be a table, got {table!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(fields)
    if unknown:
        raise ValueError(
            f"unknown key(s) {sorted(unknown)} in [{section}]; "
            f"allowed: {sorted(fields)}"
        )
    for key, value in table.items():
        default = getattr(cls(), key)
        if isinstance(default, str):
            continue
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise ValueError(
                f"[{section}] {key} must be a positive number, got {value!r}"
            )
        if isinstance(default, int) and not isinstance(value, int):
            raise ValueError(f"[{section}] {key} must be an integer, got {value!r}")
    return cls(**table)


def _system(entry) -> SystemSpec:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict):
        raise ValueError(
            f"a [[systems]] entry must be a table or a name, got {entry!r}"
        )
    unknown = set(entry) - _SYSTEM_KEYS
    if unknown:
        raise ValueError(
            f"unknown key(s) {sorted(unknown)} in [[systems]]; "
            f"allowed: {sorted(_SYSTEM_KEYS)}"
        )
    if "name" not in entry:
        raise ValueError(f"[[systems]] entry {entry!r} has no 'name'")
    modes, params = entry.get("modes", ["one-step"]), entry.get("params", {})
    if not isinstance(modes, list) or not isinstance(params, dict):
        raise ValueError(
            f"system {entry['name']!r}: 'modes' must be a list and 'params' a "
            f"table, got {modes!r} and {params!r}"
        )
    modes = tuple(modes)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(
            f"unknown mode(s) {bad} for system {entry['name']!r}; "
            f"allowed: {list(MODES)}"
        )
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    dt = entry.get("dt")
    if dt is not None and not (isinstance(dt, int | float) and dt > 0):
        raise ValueError(f"dt of system {entry['name']!r} must be > 0, got {dt!r}")
    return SystemSpec(
        key=str(entry.get("key", entry["name"])),
        name=entry["name"],
        params=params,
        modes=modes,
        dt=dt,
    )


def check_config(config: BenchConfig) -> None:
    """Check names against the registries: systems build, archs exist and fit.

    Raises:
        ValueError: unknown system or bad parameters, unknown architecture, an
            architecture that cannot meet the parameter budget, or a
            neural-ODE mode on a discrete map.
    """
    import dynsys
    import learners

    if config.rollout.dtype not in ("float32", "float64"):
        raise ValueError(
            f"[rollout] dtype must be 'float32' or 'float64', "
            f"got {config.rollout.dtype!r}"
        )
    known = learners.available()
    bad = [a for a in config.archs if a not in known]
    if bad:
        raise ValueError(f"unknown architecture(s) {bad}; known: {', '.join(known)}")
    for spec in config.systems:
        if spec.name not in dynsys.available_systems():
            raise ValueError(
                f"unknown system {spec.name!r}; known: "
                f"{', '.join(dynsys.available_systems())}"
            )
        system = dynsys.get_system(spec.name, **spec.params)
        if "neural-ode" in spec.modes and getattr(system, "is_discrete", False):
            raise ValueError(
                f"system {spec.key!r} is a discrete map; "
                "mode 'neural-ode' needs a flow, use 'one-step'"
            )
        d = system.state_dim
        for arch in config.archs:
            learners.matched_hidden(arch, d, d, config.train.params, config.train.depth)
