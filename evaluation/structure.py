"""Operator extraction and spectral measures of learned operators.

What a network has learned is read off as a linear or bilinear operator and
compared with the true one.

Extraction
    * A bilinear block ``y = P((W x + b) * (V x + c)) + d`` is exactly the
      polynomial ``y_k = x^T B_k x + L_k x + e_k`` with the interaction tensor
      ``B[k, i, j] = sum_h P[k, h] W[h, i] V[h, j]`` (symmetrised in ``i, j``,
      since ``x^T B_k x`` only sees the symmetric part), the linear term
      ``L[k, i] = sum_h P[k, h] (c_h W[h, i] + b_h V[h, i])`` and the constant
      ``e_k = sum_h P[k, h] b_h c_h + d_k``.
    * Any model: Jacobians and Hessians at reference points (``torch.func``),
      and the stacked outputs over a grid of inputs. Half the Hessian is the
      *local interaction tensor*; for a quadratic model (a bilinear block,
      with or without linear maps around it) it is constant and equals ``B``.
      For gated blocks ``P(act(W x) * V x)`` it is the same quantity at a
      reference point, now varying with the point.

Spectral measures
    * singular values; effective rank ``exp(H(p))`` with ``p_i = s_i / sum s``
      (Roy & Vetterli, "The effective rank: a measure of effective
      dimensionality", EUSIPCO 2007, eq. (1)-(2));
    * principal angles between column spaces, from the SVD of ``Q_A^T Q_B``
      (Bjorck & Golub, "Numerical methods for computing angles between linear
      subspaces", Math. Comp. 27, 1973, sec. 3);
    * alignment: the cosine ``<L, T>_F / (|L|_F |T|_F)``;
    * energy in the true modes: the fraction of the learned operator that lies
      in the diagonal blocks of the true operator's eigenspaces;
    * for tasks on ``Z_n``: the Fourier spectrum. The shift ``x -> x + k`` and
      the addition table ``delta(a + b = k)`` are diagonal in the discrete
      Fourier basis (the characters of ``Z_n``; see Nanda et al., "Progress
      measures for grokking via mechanistic interpretability", ICLR 2023,
      sec. 4, for the learned algorithm on modular addition).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = [
    "InteractionTensor",
    "bilinear_tensor",
    "interaction_spectrum",
    "local_interaction_tensor",
    "jacobians",
    "hessians",
    "grid_outputs",
    "singular_values",
    "effective_rank",
    "principal_angles",
    "subspace_alignment",
    "operator_alignment",
    "mode_energy",
    "fourier_operator",
    "addition_fourier",
]


@dataclass(frozen=True)
class InteractionTensor:
    """A quadratic map ``y_k = x^T B_k x + L_k x + e_k``.

    Attributes:
        quadratic: ``(d_out, d_in, d_in)``, symmetric in the last two axes.
        linear: ``(d_out, d_in)``.
        constant: ``(d_out,)``.
    """

    quadratic: Tensor
    linear: Tensor
    constant: Tensor

    def __call__(self, x: Tensor) -> Tensor:
        """Evaluate at ``x`` ``(*b, d_in)``; returns ``(*b, d_out)``."""
        quad = torch.einsum("...i,kij,...j->...k", x, self.quadratic, x)
        return quad + x @ self.linear.T + self.constant


def _symmetrise(B: Tensor) -> Tensor:
    return 0.5 * (B + B.transpose(-1, -2))


def _is_plain_bilinear(block: nn.Module) -> bool:
    act = getattr(block, "act", None)
    return act is None or isinstance(act, nn.Identity)


def bilinear_tensor(
    block: nn.Module, dtype: torch.dtype = torch.float64
) -> InteractionTensor:
    """The exact polynomial form of a bilinear block ``P((W x + b) * (V x + c))``.

    Args:
        block: a module with ``nn.Linear`` attributes ``W``, ``V`` (``d_in ->
            hidden``) and ``P`` (``hidden -> d_out``), any of them with or
            without bias, and no activation on the ``W`` branch.
        dtype: dtype of the returned tensors (float64 by default).

    Returns:
        The :class:`InteractionTensor` with ``quadratic[k, i, j] =
        sym_ij sum_h P[k, h] W[h, i] V[h, j]``.

    Raises:
        TypeError: ``block`` lacks ``W``, ``V`` or ``P`` linear layers.
        ValueError: ``block`` is gated (has a non-identity ``act``); use
            :func:`local_interaction_tensor` for gated blocks.
    """
    for name in ("W", "V", "P"):
        if not isinstance(getattr(block, name, None), nn.Linear):
            raise TypeError(
                f"block needs an nn.Linear attribute {name!r} "
                "(a bilinear block P((Wx+b)*(Vx+c)))"
            )
    if not _is_plain_bilinear(block):
        raise ValueError(
            "block is gated (non-identity act); its interaction is "
            "local: use local_interaction_tensor(block, x0)"
        )
    W, V, P = (getattr(block, n).weight.detach().to(dtype) for n in ("W", "V", "P"))
    b, c, d = (_bias(getattr(block, n), dtype) for n in ("W", "V", "P"))
    quadratic = _symmetrise(torch.einsum("kh,hi,hj->kij", P, W, V))
    linear = P @ (c[:, None] * W + b[:, None] * V)
    constant = P @ (b * c) + d
    return InteractionTensor(quadratic, linear, constant)


def _bias(layer: nn.Linear, dtype: torch.dtype) -> Tensor:
    if layer.bias is None:
        return torch.zeros(layer.out_features, dtype=dtype)
    return layer.bias.detach().to(dtype)


def interaction_spectrum(B: Tensor) -> dict[str, Tensor]:
    """Eigenvalues per output and the output-direction modes of ``B``.

    Args:
        B: ``(d_out, d_in, d_in)`` interaction tensor (symmetrised here).

    Returns:
        ``eigvals`` ``(d_out, d_in)`` ascending eigenvalues of each ``B_k``;
        ``output_sv`` ``(r,)`` singular values of ``B`` unfolded to ``(d_out,
        d_in * d_in)``; ``output_dirs`` ``(d_out, r)`` the matching output
        directions ``u``; ``output_mats`` ``(r, d_in, d_in)`` the interaction
        matrices ``sum_k u_k B_k / s`` of those directions.
    """
    B = _symmetrise(B)
    d_out, d_in, _ = B.shape
    U, S, Vh = torch.linalg.svd(B.reshape(d_out, d_in * d_in), full_matrices=False)
    return {
        "eigvals": torch.linalg.eigvalsh(B),
        "output_sv": S,
        "output_dirs": U,
        "output_mats": Vh.reshape(-1, d_in, d_in),
    }


def _flat_outputs(fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return lambda x: fn(x[None])[0]


def jacobians(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Jacobians ``d fn / d x`` at a batch of reference points.

    Args:
        fn: a map ``(*b, d_in) -> (*b, d_out)`` acting row by row.
        x: ``(n, d_in)`` reference points.

    Returns:
        ``(n, d_out, d_in)``.
    """
    # Rows are independent, so the Jacobian of the batch sum holds every
    # per-row Jacobian; unlike vmap this works for any differentiable code.
    J = torch.autograd.functional.jacobian(lambda z: fn(z).sum(0), x)
    return J.permute(1, 0, 2)


def hessians(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Hessians of every output at a batch of reference points.

    Args:
        fn: a map ``(*b, d_in) -> (*b, d_out)`` acting row by row.
        x: ``(n, d_in)`` reference points.

    Returns:
        ``(n, d_out, d_in, d_in)``.
    """
    # Reverse over reverse: torch.func.hessian's forward mode loads TorchScript
    # decompositions that warn (deprecated) on first use.
    jac = torch.func.jacrev
    return torch.func.vmap(jac(jac(_flat_outputs(fn))))(x)


def local_interaction_tensor(fn: Callable[[Tensor], Tensor], x0: Tensor) -> Tensor:
    """Half the Hessian of ``fn`` at one point: ``(d_out, d_in, d_in)``.

    For a quadratic map this is the (symmetrised) interaction tensor ``B``
    at every ``x0``; for gated or pointwise models it is its local analogue.

    Args:
        fn: a map ``(*b, d_in) -> (*b, d_out)``.
        x0: ``(d_in,)`` reference point.
    """
    return 0.5 * hessians(fn, x0[None])[0]


@torch.no_grad()
def grid_outputs(
    fn: Callable[[Tensor], Tensor], inputs: Tensor, chunk: int = 4096
) -> Tensor:
    """Stack the outputs of ``fn`` over a grid of inputs: ``(n, d_out)``.

    This puts every model on the same footing: for one-hot inputs the stacked
    outputs are the learned operator's table.

    Args:
        fn: a map ``(*b, d_in) -> (*b, d_out)``.
        inputs: ``(n, d_in)``.
        chunk: rows evaluated at once.
    """
    return torch.cat([fn(part) for part in inputs.split(chunk)])


def singular_values(M: Tensor) -> Tensor:
    """Singular values of ``M`` ``(*b, m, n)``, descending: ``(*b, min(m, n))``."""
    return torch.linalg.svdvals(M)


def effective_rank(M_or_s: Tensor, from_singular_values: bool = False) -> float:
    """Roy & Vetterli (2007) entropy effective rank ``exp(-sum p log p)``.

    Args:
        M_or_s: a matrix ``(m, n)``, or its singular values ``(r,)`` when
            ``from_singular_values`` is true.
        from_singular_values: read ``M_or_s`` as singular values.

    Returns:
        A float in ``[1, min(m, n)]``; ``0.0`` for the zero matrix.
    """
    s = M_or_s if from_singular_values else singular_values(M_or_s)
    s = s.abs().to(torch.float64)
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s[s > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


def _orthonormal_basis(A: Tensor, rank: int | None, rtol: float) -> Tensor:
    U, S, _ = torch.linalg.svd(A, full_matrices=False)
    if rank is None:
        rank = int((S > rtol * S[0]).sum()) if S.numel() and S[0] > 0 else 0
    return U[:, :rank]


def principal_angles(
    A: Tensor, B: Tensor, rank: int | None = None, rtol: float = 1e-8
) -> Tensor:
    """Principal angles between the column spaces of ``A`` and ``B``.

    Bjorck & Golub (1973): with orthonormal bases ``Q_A``, ``Q_B`` the cosines
    are the singular values of ``Q_A^T Q_B``.

    Args:
        A: ``(m, p)``.
        B: ``(m, q)``.
        rank: use the leading ``rank`` left singular vectors of each; default
            the numerical rank (singular values above ``rtol * s_max``).
        rtol: relative threshold for the numerical rank.

    Returns:
        ``(min(rank_A, rank_B),)`` angles in ``[0, pi/2]``, ascending.

    Raises:
        ValueError: ``A`` and ``B`` have different numbers of rows.
    """
    if A.shape[0] != B.shape[0]:
        raise ValueError(
            f"A and B must have the same number of rows, got "
            f"{A.shape[0]} and {B.shape[0]}"
        )
    QA = _orthonormal_basis(A.to(torch.float64), rank, rtol)
    QB = _orthonormal_basis(B.to(torch.float64), rank, rtol)
    if QB.shape[1] > QA.shape[1]:
        QA, QB = QB, QA
    k = QB.shape[1]
    cos = torch.linalg.svdvals(QA.T @ QB).clamp(0.0, 1.0)
    # arccos loses accuracy for small angles; there use the sines, the singular
    # values of (I - Q_A Q_A^T) Q_B (Bjorck & Golub 1973, sec. 3).
    sin = torch.linalg.svdvals(QB - QA @ (QA.T @ QB)).flip(0)[:k].clamp(0.0, 1.0)
    small = cos > math.sqrt(0.5)
    return torch.where(small, torch.arcsin(sin), torch.arccos(cos))


def subspace_alignment(L: Tensor, T: Tensor, rank: int | None = None) -> float:
    """Mean squared cosine of the principal angles between ``L`` and ``T``.

    Compares the leading ``rank`` column spaces (default: the numerical rank
    of ``T``). 1 when they coincide; about ``rank / m`` for a random subspace.

    Args:
        L: learned operator ``(m, n)``.
        T: true operator ``(m, n)``.
        rank: subspace dimension.
    """
    if rank is None:
        rank = _orthonormal_basis(T.to(torch.float64), None, 1e-8).shape[1]
    angles = principal_angles(L, T, rank=rank)
    return float((torch.cos(angles) ** 2).mean()) if angles.numel() else math.nan


def operator_alignment(L: Tensor, T: Tensor) -> float:
    """Cosine similarity ``<L, T>_F / (|L|_F |T|_F)`` of two operators.

    Args:
        L: learned operator, any shape.
        T: true operator, same shape.

    Raises:
        ValueError: shapes differ.
    """
    if L.shape != T.shape:
        raise ValueError(
            f"operators must have the same shape, got {tuple(L.shape)} "
            f"and {tuple(T.shape)}"
        )
    L, T = L.to(torch.float64).flatten(), T.to(torch.float64).flatten()
    denom = L.norm() * T.norm()
    return float((L @ T) / denom) if denom > 0 else 0.0


def _eigen_groups(evals: Tensor, rtol: float) -> list[Tensor]:
    scale = max(float(evals.abs().max()), 1.0) if evals.numel() else 1.0
    unassigned = torch.ones(len(evals), dtype=torch.bool)
    groups = []
    for i in range(len(evals)):
        if unassigned[i]:
            close = ((evals - evals[i]).abs() <= rtol * scale) & unassigned
            unassigned &= ~close
            groups.append(close.nonzero().flatten())
    return groups


def mode_energy(L: Tensor, T: Tensor, rtol: float = 1e-6) -> float:
    """Fraction of ``L``'s energy inside the eigenspace blocks of ``T``.

    ``T``'s eigenvalues are grouped (equal within ``rtol``); each group's
    eigenvectors are orthonormalised, ``L`` is written in that basis,
    ``L~ = X^-1 L X``, and the energy of the diagonal blocks ``L~[g, g]`` is
    divided by the total. It is 1 exactly when ``L`` maps every eigenspace of
    ``T`` into itself (``L`` commutes with ``T``), and ``1 - result`` is the
    energy outside the true modes.

    Args:
        L: learned operator ``(n, n)``.
        T: true operator ``(n, n)``.
        rtol: relative tolerance for equal eigenvalues.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        ValueError: ``L`` and ``T`` are not square of the same size.
    """
    if L.shape != T.shape or L.ndim != 2 or L.shape[0] != L.shape[1]:
        raise ValueError(
            f"L and T must be square and of equal shape, got "
            f"{tuple(L.shape)} and {tuple(T.shape)}"
        )
    # Limitation: for a non-normal T the eigenspaces are not orthogonal, so the
    # fractions are energies in a non-orthonormal basis, not Frobenius ones.
    evals, X = torch.linalg.eig(T.to(torch.float64))
    groups = _eigen_groups(evals, rtol)
    X = torch.cat([torch.linalg.qr(X[:, g])[0] for g in groups], dim=1)
    Lt = torch.linalg.solve(X, L.to(torch.complex128) @ X)
    total = (Lt.abs() ** 2).sum()
    inside, start = 0.0, 0
    for g in groups:
        block = slice(start, start + len(g))
        inside += float((Lt[block, block].abs() ** 2).sum())
        start += len(g)
    return inside / float(total) if total > 0 else 1.0


def fourier_operator(M: Tensor) -> dict[str, Tensor | float]:
    """An operator on ``Z_n`` written in the Fourier basis: ``F M F^H``.

    ``F`` is the unitary DFT, ``F[f, x] = exp(-2 pi i f x / n) / sqrt(n)``; a
    cyclic shift, and any convolution, is diagonal in it.

    Args:
        M: ``(n, n)`` operator on functions of ``Z_n``.

    Returns:
        ``matrix`` the complex ``(n, n)`` ``F M F^H``; ``spectrum`` ``(n,)``
        the moduli of its diagonal; ``diag_energy`` the fraction of
        ``|M|_F^2`` on that diagonal (1 for a convolution, about ``1 / n`` for
        a random matrix).
    """
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"M must be a square (n, n) matrix, got {tuple(M.shape)}")
    Mc = M.to(torch.complex128)
    Mhat = torch.fft.ifft(torch.fft.fft(Mc, dim=0, norm="ortho"), dim=1, norm="ortho")
    total = float((Mhat.abs() ** 2).sum())
    diag = Mhat.diagonal()
    frac = float((diag.abs() ** 2).sum()) / total if total > 0 else 0.0
    return {"matrix": Mhat, "spectrum": diag.abs(), "diag_energy": frac}


def addition_fourier(table: Tensor) -> dict[str, Tensor | float]:
    """Fourier analysis of a learned addition table ``F[a, b, k]`` on ``Z_p``.

    With ``w = exp(2 pi i / p)`` the transform ``F^[f, g, h] = p^{-3/2}
    sum F[a, b, k] w^{-f a - g b + h k}`` is unitary, and the true table
    ``[a + b = k]`` lives only on ``f = g = h`` (Nanda et al. 2023, sec. 4:
    the network computes ``cos(w_f (a + b - k))`` terms).

    Args:
        table: ``(p, p, p)`` outputs indexed ``[a, b, k]``.

    Returns:
        ``spectrum`` ``(p,)`` the energy ``|F^[f, f, f]|^2`` per frequency
        ``f``; ``diag_energy`` its sum over the total energy (1 for the true
        table, about ``1 / p^2`` for noise); ``transform`` the complex tensor.
    """
    if table.ndim != 3 or len(set(table.shape)) != 1:
        raise ValueError(f"table must be (p, p, p), got {tuple(table.shape)}")
    t = table.to(torch.complex128)
    t = torch.fft.fft(torch.fft.fft(t, dim=0, norm="ortho"), dim=1, norm="ortho")
    t = torch.fft.ifft(t, dim=2, norm="ortho")
    idx = torch.arange(table.shape[0])
    spectrum = t[idx, idx, idx].abs() ** 2
    total = float((t.abs() ** 2).sum())
    frac = float(spectrum.sum()) / total if total > 0 else 0.0
    return {"spectrum": spectrum, "diag_energy": frac, "transform": t}
