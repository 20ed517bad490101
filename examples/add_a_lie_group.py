"""Add a Lie group that dynsys does not ship: SO(4), the rotations of R^4.

A matrix group needs only a basis of its Lie algebra and a residual that is
zero on the group; ``MatrixLieGroup`` supplies hat/vee, exp/log, Ad/ad and the
Jacobians. Here the algebra so(4) is spanned by the six ``E_ij = e_j e_i^T -
e_i e_j^T`` (i < j), the residual is ``||R^T R - I||_F + |det R - 1|`` and the
projection is the nearest rotation from an SVD (Umeyama 1991, eq. 39).

Run ``python examples/add_a_lie_group.py`` (``--quick``: float64 only).
"""

from __future__ import annotations

import argparse
import itertools

import torch

from dynsys.groups import MatrixLieGroup, available_groups, get_group, register_group
from dynsys.testing import check_group


def so4_basis() -> torch.Tensor:
    """The six generators of so(4), shape ``(6, 4, 4)``."""
    mats = []
    for i, j in itertools.combinations(range(4), 2):
        E = torch.zeros(4, 4, dtype=torch.float64)
        E[j, i], E[i, j] = 1.0, -1.0
        mats.append(E)
    return torch.stack(mats)


def so4_residual(g: torch.Tensor) -> torch.Tensor:
    """``||R^T R - I||_F + |det R - 1|`` for ``(*b, 4, 4)``."""
    eye = torch.eye(4, dtype=g.dtype, device=g.device)
    gram = g.transpose(-1, -2) @ g - eye
    return torch.linalg.matrix_norm(gram) + (torch.linalg.det(g) - 1.0).abs()


def so4_project(g: torch.Tensor) -> torch.Tensor:
    """Nearest rotation: ``U diag(1, 1, 1, det(U V^T)) V^T`` from ``g = U S V^T``."""
    U, _, Vh = torch.linalg.svd(g)
    flip = torch.ones_like(g[..., 0, :])
    flip[..., -1] = torch.linalg.det(U @ Vh)
    return (U * flip[..., None, :]) @ Vh


def SO4() -> MatrixLieGroup:
    """SO(4) as a :class:`MatrixLieGroup`."""
    return MatrixLieGroup("SO4", so4_basis(), so4_residual, so4_project)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="check float64 only")
    args = parser.parse_args(argv)

    register_group("so4", SO4, replace=True)
    G = get_group("so4")
    dtypes = [torch.float64] if args.quick else [torch.float32, torch.float64]
    for dtype in dtypes:
        check_group(G, dtype=dtype)

    # Quarter turns in the (x1, x2) and (x3, x4) planes at once.
    xi = torch.tensor([torch.pi / 2, 0, 0, 0, 0, torch.pi / 2], dtype=torch.float64)
    print(f"registered groups: {', '.join(available_groups())}")
    print(f"{G.name}: algebra dim {G.dim}, {G.matrix_size}x{G.matrix_size} matrices")
    print(f"exp of {xi.tolist()}:\n{G.exp(xi).round(decimals=12)}")
    print(f"check_group passed for {', '.join(str(d) for d in dtypes)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
