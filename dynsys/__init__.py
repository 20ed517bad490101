"""dynsys: dynamical systems on Lie groups and symplectic spaces.

Ground-truth systems, Lie groups, trajectory files and the command line.
See DESIGN.md for the public surface.
"""

from __future__ import annotations

__version__ = "0.1.0"

from dynsys import groups  # noqa: E402

__all__ = ["__version__", "groups"]

# The systems layer (get_system, available_systems, simulate, Trajectory) is
# re-exported below once its modules exist.
try:  # pragma: no cover - replaced by plain imports once systems land
    from dynsys.systems import available_systems, get_system  # noqa: F401
    from dynsys.trajectory import Trajectory, simulate  # noqa: F401

    __all__ += ["available_systems", "get_system", "Trajectory", "simulate"]
except ModuleNotFoundError as _exc:  # noqa: F841
    if not (_exc.name or "").startswith("dynsys."):
        raise
