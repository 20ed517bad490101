"""Matrix Lie groups: SO(2), SO(3), SE(2), SE(3), Sp(n) and any group given by a
basis of its Lie algebra.

Every group implements the :class:`LieGroup` contract (``_base.py``): hat/vee,
exp/log, compose/inverse, Ad/ad, left Jacobians and ``dexp_inv``, residual and
projection, sampling; batched over leading axes, float32 and float64,
differentiable. ``get_group(name, **params)`` builds a registered group;
``register_group`` and the entry-point group ``dynsys.groups`` add more.
"""

from dynsys.groups._base import LieGroup
from dynsys.groups._registry import available_groups, get_group, register_group
from dynsys.groups.matrix import MatrixLieGroup
from dynsys.groups.se2 import SE2
from dynsys.groups.se3 import SE3
from dynsys.groups.so2 import SO2
from dynsys.groups.so3 import SO3
from dynsys.groups.sp import Sp

__all__ = [
    "LieGroup",
    "MatrixLieGroup",
    "SE2",
    "SE3",
    "SO2",
    "SO3",
    "Sp",
    "available_groups",
    "get_group",
    "register_group",
]

register_group("so2", SO2)
register_group("so3", SO3)
register_group("se2", SE2)
register_group("se3", SE3)
register_group("sp", Sp)
