"""Shared pieces of SE(2) and SE(3): homogeneous matrices ``[[R, t], [0, 1]]``.

The inverse is ``[[R^T, -R^T t], [0, 1]]``; the residual adds the distance of the
bottom row from ``(0, ..., 0, 1)`` to the rotation residual; the projection
replaces ``R`` by its nearest rotation and resets the bottom row (Barfoot,
"State Estimation for Robotics", 2017, sec. 7.1.2).
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor

from dynsys.groups._base import LieGroup
from dynsys.groups._projection import rotation_residual


def homogeneous(R: Tensor, t: Tensor) -> Tensor:
    """``R (*b, k, k)``, ``t (*b, k)`` -> ``[[R, t], [0, 1]]``, ``(*b, k+1, k+1)``."""
    batch = torch.broadcast_shapes(R.shape[:-2], t.shape[:-1])
    k = R.shape[-1]
    R = R.expand(*batch, k, k)
    top = torch.cat((R, t.expand(*batch, k)[..., None]), -1)
    bottom = torch.zeros(*batch, 1, k + 1, dtype=R.dtype, device=R.device)
    bottom[..., 0, k] = 1.0
    return torch.cat((top, bottom), -2)


def split(g: Tensor) -> tuple[Tensor, Tensor]:
    """``(*b, k+1, k+1)`` -> rotation ``(*b, k, k)`` and translation ``(*b, k)``."""
    k = g.shape[-1] - 1
    return g[..., :k, :k], g[..., :k, k]


class SpecialEuclidean(LieGroup):
    """Common code of ``SE(k)``; subclasses give the rotation part's maps."""

    @abc.abstractmethod
    def _nearest_rotation(self, R: Tensor) -> Tensor:
        """Nearest ``(*b, k, k)`` rotation to ``R``."""

    @abc.abstractmethod
    def _sample_rotations(self, n: int, generator: torch.Generator | None) -> Tensor:
        """``n`` Haar-uniform rotations in float64."""

    def inverse(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "inverse")
        R, t = split(g)
        Rt = R.transpose(-1, -2)
        return homogeneous(Rt, -(Rt @ t[..., None])[..., 0])

    def residual(self, g: Tensor) -> Tensor:
        """``||R^T R - I||_F + |det R - 1| + ||bottom row - (0, .., 0, 1)||``."""
        self._check_matrix(g, "residual")
        R, _ = split(g)
        bottom = g[..., -1, :].clone()
        bottom[..., -1] = bottom[..., -1] - 1.0
        return rotation_residual(R) + torch.linalg.vector_norm(bottom, dim=-1)

    def project(self, g: Tensor) -> Tensor:
        """Nearest rotation block (see ``_projection``), translation kept."""
        self._check_matrix(g, "project")
        R, t = split(g)
        return homogeneous(self._nearest_rotation(R), t)

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        """Haar-uniform rotation, standard-normal translation."""
        R = self._sample_rotations(n, generator)
        k = self.matrix_size - 1
        t = torch.randn(n, k, generator=generator, dtype=torch.float64)
        return homogeneous(R, t)
