"""dynsys: dynamical systems on Lie groups and symplectic spaces.

Ground-truth systems, Lie groups, trajectory files and the command line.
See DESIGN.md for the public surface.
"""

from __future__ import annotations

__version__ = "0.1.0"

from dynsys import groups  # noqa: E402
from dynsys.systems import available_systems, get_system  # noqa: E402
from dynsys.trajectory import Trajectory, simulate  # noqa: E402

__all__ = [
    "__version__",
    "groups",
    "available_systems",
    "get_system",
    "Trajectory",
    "simulate",
]
