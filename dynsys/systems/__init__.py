"""Ground-truth dynamical systems, by registry name (docs/internals.md "Systems").

``get_system(name, **params)`` builds one; ``available_systems()`` lists them;
``register_system(name, cls)`` adds a new one. The contract is in ``_base.py``;
each family lives in its own module.
"""

from dynsys.systems import (  # noqa: F401  (importing registers the built-ins)
    cyclic,
    group_flow,
    hamiltonian,
    linear,
    modular,
    se2,
    se3,
    so3,
)
from dynsys.systems._base import (
    DiscreteSystem,
    LieSystem,
    SeparableHamiltonian,
    StatePart,
    System,
)
from dynsys.systems._registry import available_systems, get_system, register_system

__all__ = [
    "DiscreteSystem",
    "LieSystem",
    "SeparableHamiltonian",
    "StatePart",
    "System",
    "available_systems",
    "get_system",
    "register_system",
]
