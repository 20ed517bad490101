"""Matrix functions for groups without closed forms.

* Matrix exponential by scaling and squaring with a degree-18 Taylor
  polynomial: halve ``A`` until ``||A||_1 <= 1/4`` (truncation error below
  ``0.25**19/19! ~ 1e-23``), then square back (Moler & Van Loan, "Nineteen
  dubious ways to compute the exponential of a matrix, twenty-five years
  later", SIAM Review 45, 2003, sec. 3). We do not use
  ``torch.linalg.matrix_exp``: in torch 2.13 a single float64 matrix with
  ``||A||_1`` around 0.01-0.05 comes back with errors up to 1e-11 (measured
  against ``scipy.linalg.expm``), and batched and unbatched calls disagree.
* Principal matrix logarithm by inverse scaling and squaring: take square
  roots (Denman-Beavers iteration in product form) until ``||X - I||_1 <=
  1/4``, then ``log(I + E) = int_0^1 E (I + s E)^{-1} ds`` by ``m``-point
  Gauss-Legendre quadrature, which equals the ``[m/m]`` Pade approximant
  (Higham, "Functions of Matrices", SIAM 2008, ch. 6 and 11;
  Dieci, Morini & Papini, SIAM J. Matrix Anal. Appl. 17, 1996).
* ``phi(A) = sum_k A^k/(k+1)!`` as the top-right block of
  ``exp([[A, I], [0, 0]])`` (Van Loan, "Computing integrals involving the
  matrix exponential", IEEE TAC 23, 1978).
* ``psi(A) V = sum_k B_k/k! A^k V`` (``B_1 = -1/2``), the inverse of ``phi``
  (Iserles, Munthe-Kaas, Norsett & Zanna, Acta Numerica 2000, sec. 2.3),
  summed until the terms fall below round-off; it converges when the
  spectral radius of ``A`` is below ``2 pi``.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch
from torch import Tensor

from dynsys.groups._series import bernoulli

_GAUSS_NODES = 8
_SQRT_TARGET = 0.25
_MAX_SQRTS = 60
_MAX_DB_STEPS = 60
_MAX_SERIES_TERMS = 200
_TAYLOR_DEGREE = 18
_EXP_NORM = 0.25


@cache
def scaled_bernoulli(k: int) -> float:
    """``B_k (2 pi)^k / k!`` (``B_1 = -1/2``).

    By Euler's formula ``B_2k = (-1)^(k+1) 2 (2k)! zeta(2k) / (2 pi)^(2k)`` these
    tend to ``+-2``, so the scaled series below neither overflows nor underflows.
    """
    return float(bernoulli(k) / math.factorial(k)) * (2.0 * math.pi) ** k


def expm(A: Tensor) -> Tensor:
    """Matrix exponential of ``(*b, n, n)`` by scaling and squaring (Taylor 18)."""
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    norm = torch.linalg.matrix_norm(A.detach(), ord=1)
    finite = torch.isfinite(norm)
    ratio = torch.where(finite, norm, torch.zeros_like(norm)) / _EXP_NORM
    squarings = torch.ceil(torch.log2(ratio.clamp_min(1.0))).to(torch.int64)
    scaled = A / (2.0 ** squarings.to(A.dtype))[..., None, None]
    E = eye + scaled / _TAYLOR_DEGREE
    for k in range(_TAYLOR_DEGREE - 1, 0, -1):
        E = eye + (scaled @ E) / k
    for step in range(int(squarings.max()) if squarings.numel() else 0):
        E = torch.where((squarings > step)[..., None, None], E @ E, E)
    return E


def _sqrtm(A: Tensor) -> Tensor:
    """Principal square root by the product-form Denman-Beavers iteration."""
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    M, Y = A, A
    tol = 4.0 * torch.finfo(A.dtype).eps * A.shape[-1]
    for _ in range(_MAX_DB_STEPS):
        M_inv = torch.linalg.inv(M)
        Y = 0.5 * Y @ (eye + M_inv)
        M = 0.5 * (eye + 0.5 * (M + M_inv))
        if float((M.detach() - eye).abs().amax()) <= tol:
            return Y
    raise ValueError(
        "matrix log: the square-root iteration did not converge; the matrix is "
        "outside the domain of the principal logarithm"
    )


def matrix_log(A: Tensor) -> Tensor:
    """Principal logarithm of ``(*b, n, n)`` matrices with no eigenvalue on
    ``(-inf, 0]`` (the caller checks this)."""
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    X = A
    roots = 0
    while float(torch.linalg.matrix_norm((X - eye).detach(), ord=1).amax()) > (
        _SQRT_TARGET
    ):
        if roots == _MAX_SQRTS:
            raise ValueError("matrix log: too many square roots; is the input finite?")
        X = _sqrtm(X)
        roots += 1
    E = X - eye
    nodes, weights = np.polynomial.legendre.leggauss(_GAUSS_NODES)
    L = torch.zeros_like(A)
    for s, w in zip((nodes + 1.0) / 2.0, weights / 2.0, strict=True):
        L = L + float(w) * torch.linalg.solve(eye + float(s) * E, E)
    return L * 2.0**roots


def phi(A: Tensor) -> Tensor:
    """``sum_k A^k/(k+1)!`` for ``(*b, d, d)`` via one block matrix exponential."""
    d = A.shape[-1]
    big = torch.zeros(*A.shape[:-2], 2 * d, 2 * d, dtype=A.dtype, device=A.device)
    big[..., :d, :d] = A
    big[..., :d, d:] = torch.eye(d, dtype=A.dtype, device=A.device)
    return expm(big)[..., :d, d:]


def psi_apply(A: Tensor, V: Tensor) -> Tensor:
    """``sum_k B_k/k! A^k V`` for ``A (*b, d, d)`` and ``V (*b, d, m)``.

    Raises:
        ValueError: if the series has not converged after 200 terms (spectral
            radius of ``A`` too close to or beyond ``2 pi``).
    """
    eps = torch.finfo(A.dtype).eps
    A_scaled = A / (2.0 * math.pi)
    out = V
    power = V  # (A / 2 pi)^k V
    quiet = 0
    for k in range(1, _MAX_SERIES_TERMS):
        power = A_scaled @ power
        coeff = scaled_bernoulli(k)
        if coeff == 0.0:
            continue
        term = coeff * power
        out = out + term
        # Non-finite entries (a diverged state) are carried along, not waited on.
        size = out.detach().nan_to_num(0.0, 0.0, 0.0).abs().amax()
        small = term.detach().nan_to_num(0.0, 0.0, 0.0).abs().amax() <= eps * size
        quiet = quiet + 1 if bool(small) else 0
        if quiet >= 2:
            return out
    raise ValueError(
        "dexp_inv: the Bernoulli series in ad_xi did not converge; |xi| is "
        "outside its domain (spectral radius of ad_xi must be below 2*pi)"
    )
