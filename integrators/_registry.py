"""The one registry of integrators, by name, that tests and the CLI use."""

from __future__ import annotations

from typing import Any

from integrators._base import Integrator

__all__ = ["register", "available", "get", "compatible", "require_compatible"]

_REGISTRY: dict[str, Integrator] = {}


def register(integrator: Integrator, *, replace: bool = False) -> Integrator:
    """Add an integrator instance under ``integrator.name``.

    Args:
        integrator: an ``Integrator`` instance.
        replace: allow replacing an existing entry of the same name.

    Returns:
        The integrator, so this can be used inline.

    Raises:
        TypeError: if ``integrator`` is not an ``Integrator``.
        ValueError: if the name is taken and ``replace`` is false.
    """
    if not isinstance(integrator, Integrator):
        raise TypeError(f"expected an Integrator, got {type(integrator).__name__}")
    if integrator.name in _REGISTRY and not replace:
        raise ValueError(f"integrator {integrator.name!r} is already registered")
    _REGISTRY[integrator.name] = integrator
    return integrator


def available() -> list[str]:
    """Names of all registered integrators, in registration order."""
    return list(_REGISTRY)


def get(name: str | Integrator) -> Integrator:
    """The integrator registered as ``name`` (an ``Integrator`` passes through).

    Raises:
        ValueError: if no integrator has that name; the message lists them.
    """
    if isinstance(name, Integrator):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(_REGISTRY)
        raise ValueError(f"unknown integrator {name!r}; available: {known}") from None


def compatible(problem: Any) -> list[str]:
    """Names of the registered integrators that can advance ``problem``."""
    return [name for name, m in _REGISTRY.items() if m.supports(problem)]


def require_compatible(method: Integrator, problem: Any) -> None:
    """Raise unless ``method`` supports ``problem``.

    Raises:
        ValueError: naming the capability missing and the methods that can.
    """
    if method.supports(problem):
        return
    can = ", ".join(compatible(problem)) or "none (the problem provides no capability)"
    raise ValueError(
        f"integrator {method.name!r} needs a {method.requires.name} problem "
        f"(attributes {', '.join(method.requires.attributes)}), which "
        f"{type(problem).__name__} is not; methods that can: {can}"
    )
