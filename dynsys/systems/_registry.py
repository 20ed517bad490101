"""Name -> System class registry: ``get_system``, ``available_systems``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dynsys.systems._base import System

_SYSTEMS: dict[str, type[System]] = {}


def register_system(
    name: str, cls: type[System] | None = None
) -> type[System] | Callable[[type[System]], type[System]]:
    """Register a System class under ``name``; usable as a class decorator.

    Args:
        name: the registry name, e.g. ``"rigid-body"``.
        cls: a subclass of :class:`System`; omit to use as ``@register_system(name)``.

    Returns:
        ``cls`` (or a decorator that registers and returns its argument).

    Raises:
        ValueError: ``name`` is empty or already taken by another class.
        TypeError: ``cls`` is not a System subclass.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"system name must be a non-empty string, got {name!r}")

    def _register(klass: type[System]) -> type[System]:
        if not (inspect.isclass(klass) and issubclass(klass, System)):
            raise TypeError(
                f"register_system({name!r}): expected a System subclass, got {klass!r}"
            )
        old = _SYSTEMS.get(name)
        if old is not None and old is not klass:
            raise ValueError(
                f"system name {name!r} is already registered to {old.__name__}"
            )
        _SYSTEMS[name] = klass
        return klass

    return _register if cls is None else _register(cls)


def available_systems() -> list[str]:
    """Names of all registered systems, sorted."""
    return sorted(_SYSTEMS)


def get_system(name: str, **params: Any) -> System:
    """Build the system registered as ``name`` with the given parameters.

    Args:
        name: a registered name (see :func:`available_systems`).
        **params: the system's parameters; omitted ones take their defaults.

    Returns:
        A validated System instance.

    Raises:
        ValueError: unknown name (the message lists the known ones), an unknown
            parameter (the message lists the allowed ones) or a bad value.
    """
    if name not in _SYSTEMS:
        raise ValueError(
            f"unknown system {name!r}; known systems: {', '.join(available_systems())}"
        )
    cls = _SYSTEMS[name]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"{name}: unknown parameter {unknown[0]!r}; allowed: "
            f"{', '.join(allowed) or '(none)'}"
        )
    return cls(**params)
