"""Name -> group factory registry, with third-party discovery.

Built-in groups are registered at import. Other packages add groups without
touching dynsys by declaring an entry point in the group ``dynsys.groups``::

    [project.entry-points."dynsys.groups"]
    so4 = "mypkg.groups:SO4"

The entry point is loaded on first use of its name; its object is a factory
called with the keyword parameters given to ``get_group``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import metadata

from dynsys.groups._base import LieGroup

__all__ = ["available_groups", "get_group", "register_group"]

ENTRY_POINT_GROUP = "dynsys.groups"

_FACTORIES: dict[str, Callable[..., LieGroup]] = {}


def register_group(
    name: str, factory: Callable[..., LieGroup], replace: bool = False
) -> None:
    """Register a group factory under ``name``.

    Args:
        name: lower-case registry name, e.g. ``"so4"``.
        factory: callable returning a :class:`LieGroup`; keyword arguments of
            ``get_group(name, **params)`` are passed to it.
        replace: allow replacing an existing registration.

    Raises:
        ValueError: empty name, non-callable factory, or a name already taken
            while ``replace`` is false.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"register_group: name must be a non-empty str, got {name!r}")
    if not callable(factory):
        raise ValueError(f"register_group: factory for {name!r} must be callable")
    key = name.lower()
    if key in _FACTORIES and not replace:
        raise ValueError(
            f"register_group: a group named {key!r} is already registered; "
            "pass replace=True to replace it"
        )
    _FACTORIES[key] = factory


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name.lower(): ep for ep in found}


def available_groups() -> list[str]:
    """Sorted names of every registered and entry-point group."""
    return sorted(set(_FACTORIES) | set(_entry_points()))


def get_group(name: str, **params: object) -> LieGroup:
    """Build the group registered as ``name``.

    Args:
        name: registry name (case-insensitive), e.g. ``"so3"`` or ``"sp"``.
        **params: parameters of the group, e.g. ``n=2`` for ``"sp"``.

    Returns:
        The group instance.

    Raises:
        ValueError: unknown name (the message lists the known ones), a
            third-party entry point that fails to import, parameters the
            factory does not accept, or required parameters left out.
    """
    key = str(name).lower()
    factory = _FACTORIES.get(key)
    if factory is None:
        ep = _entry_points().get(key)
        if ep is None:
            known = ", ".join(available_groups())
            raise ValueError(f"unknown group {name!r}; known groups: {known}")
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plugin: name it, in one line
            text = " ".join(str(exc).split())
            raise ValueError(
                f"group {key!r} from entry point {ep.value!r} failed to load: "
                f"{type(exc).__name__}: {text}"
            ) from exc
        _FACTORIES[key] = factory
    _check_params(key, factory, params)
    group = factory(**params)
    if not isinstance(group, LieGroup):
        raise ValueError(
            f"group factory {key!r} returned {type(group).__name__}, not a LieGroup"
        )
    return group


def _check_params(key: str, factory: Callable[..., LieGroup], params: dict) -> None:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: let it call
        return
    named = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    accepted = [p.name for p in named]
    missing = [p.name for p in named if p.default is p.empty and p.name not in params]
    if missing:
        raise ValueError(
            f"group {key!r} needs parameter(s) {', '.join(missing)}, e.g. "
            f"get_group({key!r}, {missing[0]}=...)"
        )
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        allowed = ", ".join(accepted) or "none"
        raise ValueError(
            f"group {key!r} got unknown parameter(s) {', '.join(unknown)}; "
            f"accepted: {allowed}"
        )
