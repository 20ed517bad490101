"""Gradient-flow check: do the modes of a target operator stay separate?

Linear case. For ``Q = U V^T`` and the loss ``1/2 |Q - Q*|_F^2`` (the
population loss ``1/2 E|Q x - Q* x|^2`` for ``x ~ N(0, I)``), gradient flow is
``U' = -(Q - Q*) V``, ``V' = -(Q - Q*)^T U``, so ``Q' = -(Q - Q*) V V^T -
U U^T (Q - Q*)``. With ``Q* = sum_i s_i u_i v_i^T`` the mode coordinates are
``C = U*^T Q V*``: the coefficients ``c_i = C[i, i]`` and the cross terms
``C[i, j]``, ``i != j``. From an aligned, balanced start ``c_i`` follows the
logistic curve ``c_i(t) = s_i e^{2 s_i t} / (e^{2 s_i t} - 1 + s_i / c_i(0))``
and the cross terms stay 0 (Saxe, McClelland & Ganguli, "Exact solutions to
the nonlinear dynamics of learning in deep linear neural networks", ICLR 2014,
eq. (7)-(8) with ``tau = 1``).

Bilinear case. A bilinear layer ``y_k = sum_h P[k, h] (W_h . x)(V_h . x)`` is
the quadratic form ``x^T B_k x`` (see :mod:`evaluation.structure`). The target
is ``T_k = sum_i s_i a_i[k] sym(u_i v_i^T)`` with orthonormal ``a_i`` and
orthonormal ``{u_i} + {v_i}`` (traceless modes). For ``x ~ N(0, I)``,
``E[(x^T E x)^2] = 2 tr(E^2) + (tr E)^2`` for symmetric ``E`` (Isserlis'
theorem, Biometrika 12, 1918), so the population loss is ``sum_k |E_k|_F^2 +
(tr E_k)^2 / 2`` with ``E_k = B_k - T_k``, integrated here exactly. Mode
coordinates: ``G[i, j, l] = 2 sum_k a_i[k] u_j^T B_k v_l`` (``= s_i`` on the
diagonal ``i = j = l`` at the target).

Pointwise networks are fit to samples of the same data by full-batch gradient
descent with a small step ``lr``, the forward-Euler discretisation of their
gradient flow, so ``t = steps * lr`` is on the same clock. Their operator is
the least-squares fit of their outputs on the training inputs by a linear map
(linear case) or a quadratic form (bilinear case); for a network that is
exactly linear or quadratic this recovers its operator exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import Tensor, nn

__all__ = [
    "LinearTarget",
    "BilinearTarget",
    "FlowResult",
    "linear_target",
    "bilinear_target",
    "saxe_coefficient",
    "factorised_flow",
    "bilinear_flow",
    "network_flow",
]


def _orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, k)))
    return q * np.sign(np.diag(r))


def _check_strengths(s) -> np.ndarray:
    s = np.asarray(s, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or not np.all(s > 0):
        raise ValueError(
            f"mode strengths s must be a non-empty 1-d list of "
            f"positive numbers, got {s.tolist()}"
        )
    return s


@dataclass(frozen=True)
class LinearTarget:
    """``Q* = U diag(s) V^T``: ``s`` ``(r,)``, ``U`` ``(m, r)``, ``V`` ``(d, r)``."""

    s: np.ndarray
    U: np.ndarray
    V: np.ndarray

    def operator(self) -> np.ndarray:
        """``Q*`` of shape ``(m, d)``."""
        return (self.U * self.s) @ self.V.T

    def coefficients(self, Q: np.ndarray) -> np.ndarray:
        """Mode coordinates ``U^T Q V``: ``(*b, r, r)``, diagonal ``s`` at ``Q*``."""
        return self.U.T @ Q @ self.V

    def __call__(self, x: Tensor) -> Tensor:
        """Target outputs ``Q* x`` for ``x`` ``(n, d)``."""
        return x @ torch.as_tensor(self.operator().T, dtype=x.dtype)


@dataclass(frozen=True)
class BilinearTarget:
    """``T_k = sum_i s_i A[k, i] sym(U_i V_i^T)``; ``A (m, r)``, ``U, V (d, r)``."""

    s: np.ndarray
    A: np.ndarray
    U: np.ndarray
    V: np.ndarray

    def operator(self) -> np.ndarray:
        """The symmetric tensor ``T`` of shape ``(m, d, d)``."""
        T = np.einsum("r,kr,ir,jr->kij", self.s, self.A, self.U, self.V)
        return 0.5 * (T + T.transpose(0, 2, 1))

    def coefficients(self, B: np.ndarray) -> np.ndarray:
        """Mode coordinates ``G[i, j, l] = 2 sum_k A[k, i] U_j^T B_k V_l``.

        Args:
            B: ``(*b, m, d, d)`` symmetric interaction tensors.

        Returns:
            ``(*b, r, r, r)``, equal to ``s_i`` on ``i = j = l`` at ``T``.
        """
        return 2.0 * np.einsum("ki,...kab,aj,bl->...ijl", self.A, B, self.U, self.V)

    def __call__(self, x: Tensor) -> Tensor:
        """Target outputs ``x^T T_k x`` for ``x`` ``(n, d)``."""
        T = torch.as_tensor(self.operator(), dtype=x.dtype)
        return torch.einsum("ni,kij,nj->nk", x, T, x)


def linear_target(s, d_in: int, d_out: int, seed: int = 0) -> LinearTarget:
    """A random ``Q* = sum_i s_i u_i v_i^T`` with orthonormal ``u_i``, ``v_i``.

    Raises:
        ValueError: ``s`` not positive, or more modes than ``min(d_in, d_out)``.
    """
    s = _check_strengths(s)
    if len(s) > min(d_in, d_out):
        raise ValueError(
            f"{len(s)} modes need d_in, d_out >= {len(s)}, got "
            f"d_in={d_in}, d_out={d_out}"
        )
    rng = np.random.default_rng(seed)
    return LinearTarget(
        s, _orthonormal(rng, d_out, len(s)), _orthonormal(rng, d_in, len(s))
    )


def bilinear_target(s, d_in: int, d_out: int, seed: int = 0) -> BilinearTarget:
    """A random traceless bilinear target with ``r = len(s)`` separate modes.

    Raises:
        ValueError: ``s`` not positive, ``d_in < 2 r`` or ``d_out < r``.
    """
    s = _check_strengths(s)
    r = len(s)
    if d_in < 2 * r or d_out < r:
        raise ValueError(
            f"{r} bilinear modes need d_in >= {2 * r} and d_out >= "
            f"{r}, got d_in={d_in}, d_out={d_out}"
        )
    rng = np.random.default_rng(seed)
    UV = _orthonormal(rng, d_in, 2 * r)
    return BilinearTarget(s, _orthonormal(rng, d_out, r), UV[:, :r], UV[:, r:])


def saxe_coefficient(s: float, c0: float, t: np.ndarray) -> np.ndarray:
    """Logistic mode growth of a balanced, aligned ``U V^T`` (Saxe et al. 2014).

    Args:
        s: target strength ``s_i > 0``.
        c0: initial coefficient ``c_i(0) > 0``.
        t: ``(T,)`` times.

    Returns:
        ``(T,)`` values of ``c_i(t)``.
    """
    # Same curve divided through by e^{2 s t}, so that large t cannot overflow.
    decay = np.exp(-2.0 * s * np.asarray(t, dtype=np.float64))
    return s / (1.0 + (s / c0 - 1.0) * decay)


@dataclass(frozen=True)
class FlowResult:
    """Mode coordinates along a gradient flow.

    Attributes:
        name: what was trained.
        times: ``(T,)``.
        coeffs: ``(T, r, r)`` (linear) or ``(T, r, r, r)`` (bilinear).
        s: ``(r,)`` target strengths.
        loss: ``(T,)`` loss values.
    """

    name: str
    times: np.ndarray
    coeffs: np.ndarray
    s: np.ndarray
    loss: np.ndarray

    def _diag_mask(self) -> np.ndarray:
        r, order = len(self.s), self.coeffs.ndim - 1
        idx = np.indices((r,) * order)
        return np.all(idx == idx[0], axis=0)

    @property
    def diagonal(self) -> np.ndarray:
        """``(T, r)`` mode coefficients ``c_i(t)``."""
        return self.coeffs[:, self._diag_mask()]

    @property
    def cross(self) -> np.ndarray:
        """``(T,)`` the largest ``|cross term|`` at each time."""
        off = np.abs(self.coeffs[:, ~self._diag_mask()])
        return off.max(axis=1) if off.shape[1] else np.zeros(len(self.times))

    def cross_ratio(self) -> float:
        """Largest cross term over the whole flow divided by ``max_i s_i``."""
        return float(self.cross.max() / self.s.max())

    def final_cross_ratio(self) -> float:
        """Largest cross term at the end divided by the largest ``|c_i|`` then."""
        top = np.abs(self.diagonal[-1]).max()
        return float(self.cross[-1] / top) if top > 0 else float("inf")


def _integrate(rhs, y0: np.ndarray, t_max: float, n_times: int) -> tuple:
    if t_max <= 0 or n_times < 2:
        raise ValueError(
            f"need t_max > 0 and n_times >= 2, got t_max={t_max}, n_times={n_times}"
        )
    times = np.linspace(0.0, t_max, n_times)
    # DOP853 with tight tolerances: the flow is smooth and the plateaus of a
    # small start need accurate tracking of exponentially small quantities.
    sol = solve_ivp(
        lambda t, y: rhs(y),
        (0.0, t_max),
        y0,
        method="DOP853",
        t_eval=times,
        rtol=1e-10,
        atol=1e-14,
    )
    if not sol.success:
        raise RuntimeError(f"gradient-flow integration failed: {sol.message}")
    return times, sol.y.T


def _aligned_factor(
    basis: np.ndarray, hidden: int, scale: float, rng: np.random.Generator
) -> np.ndarray:
    # Columns of `basis` placed on r orthonormal hidden directions.
    R = _orthonormal(rng, hidden, basis.shape[1])
    return scale * basis @ R.T


def factorised_flow(
    target: LinearTarget,
    hidden: int,
    init_scale: float = 1e-3,
    t_max: float = 20.0,
    n_times: int = 200,
    aligned: bool = False,
    seed: int = 0,
) -> FlowResult:
    """Integrate the gradient flow of ``Q = U V^T`` towards ``target``.

    Args:
        target: the :class:`LinearTarget`.
        hidden: inner dimension of ``U`` ``(m, hidden)`` and ``V`` ``(d, hidden)``.
        init_scale: random start ``N(0, init_scale^2)`` entries; aligned start
            ``U = init_scale U* R^T``, ``V = init_scale V* R^T`` (so ``c_i(0) =
            init_scale^2``) with ``R`` orthonormal ``(hidden, r)``.
        t_max: final time.
        n_times: number of recorded times.
        aligned: use the aligned, balanced start.
        seed: seed of the start.

    Returns:
        A :class:`FlowResult` with ``coeffs`` ``(n_times, r, r)``.
    """
    m, r = target.U.shape
    d = target.V.shape[0]
    if hidden < r:
        raise ValueError(f"hidden must be >= the number of modes {r}, got {hidden}")
    rng = np.random.default_rng(seed)
    if aligned:
        U0 = _aligned_factor(target.U, hidden, init_scale, rng)
        V0 = _aligned_factor(target.V, hidden, init_scale, np.random.default_rng(seed))
    else:
        U0 = init_scale * rng.standard_normal((m, hidden))
        V0 = init_scale * rng.standard_normal((d, hidden))
    Qs = target.operator()

    def rhs(y):
        U, V = y[: m * hidden].reshape(m, hidden), y[m * hidden :].reshape(d, hidden)
        E = U @ V.T - Qs
        return np.concatenate([(-E @ V).ravel(), (-E.T @ U).ravel()])

    times, ys = _integrate(
        rhs, np.concatenate([U0.ravel(), V0.ravel()]), t_max, n_times
    )
    U = ys[:, : m * hidden].reshape(-1, m, hidden)
    V = ys[:, m * hidden :].reshape(-1, d, hidden)
    Q = U @ V.transpose(0, 2, 1)
    loss = 0.5 * ((Q - Qs) ** 2).sum(axis=(1, 2))
    return FlowResult("U V^T", times, target.coefficients(Q), target.s, loss)


def _bilinear_tensor_np(P: np.ndarray, W: np.ndarray, V: np.ndarray) -> np.ndarray:
    B = np.einsum("kh,hi,hj->kij", P, W, V)
    return 0.5 * (B + B.transpose(0, 2, 1))


def _bilinear_grad(P, W, V, T) -> tuple[np.ndarray, ...]:
    # Loss sum_k |E_k|^2 + (tr E_k)^2 / 2 has dL/dB_k = G_k = 2 E_k + tr(E_k) I;
    # chain rule through B_k = sum_h P[k, h] sym(W_h V_h^T).
    E = _bilinear_tensor_np(P, W, V) - T
    tr = np.einsum("kii->k", E)
    G = 2.0 * E + tr[:, None, None] * np.eye(T.shape[1])
    gP = np.einsum("hi,kij,hj->kh", W, G, V)
    gW = np.einsum("kh,kij,hj->hi", P, G, V)
    gV = np.einsum("kh,kij,hi->hj", P, G, W)
    loss = float((E**2).sum() + 0.5 * (tr**2).sum())
    return gP, gW, gV, loss


def _bilinear_start(
    target: BilinearTarget,
    hidden: int,
    scale: float,
    aligned: bool,
    rng: np.random.Generator,
) -> tuple:
    m, r = target.A.shape
    d = target.U.shape[0]
    if not aligned:
        return tuple(
            scale * rng.standard_normal(shape)
            for shape in ((m, hidden), (hidden, d), (hidden, d))
        )
    P, W, V = np.zeros((m, hidden)), np.zeros((hidden, d)), np.zeros((hidden, d))
    P[:, :r], W[:r], V[:r] = scale * target.A, scale * target.U.T, scale * target.V.T
    return P, W, V


def bilinear_flow(
    target: BilinearTarget,
    hidden: int,
    init_scale: float = 0.1,
    t_max: float = 40.0,
    n_times: int = 200,
    aligned: bool = False,
    seed: int = 0,
) -> FlowResult:
    """Integrate the population gradient flow of a bilinear layer.

    Args:
        target: the :class:`BilinearTarget`.
        hidden: hidden width ``h`` of ``W, V`` ``(h, d)`` and ``P`` ``(m, h)``.
        init_scale: entries ``N(0, init_scale^2)``; aligned start: ``P[:, i] =
            init_scale a_i``, ``W_i = init_scale u_i``, ``V_i = init_scale v_i``
            for the first ``r`` units and 0 for the rest.
        t_max: final time.
        n_times: number of recorded times.
        aligned: use the aligned start.
        seed: seed of the random start.

    Returns:
        A :class:`FlowResult` with ``coeffs`` ``(n_times, r, r, r)``.
    """
    m, r = target.A.shape
    d = target.U.shape[0]
    if hidden < r:
        raise ValueError(f"hidden must be >= the number of modes {r}, got {hidden}")
    start = _bilinear_start(
        target, hidden, init_scale, aligned, np.random.default_rng(seed)
    )
    T, sizes = target.operator(), (m * hidden, hidden * d, hidden * d)
    cuts = np.cumsum(sizes)[:-1]

    def unpack(y):
        P, W, V = np.split(y, cuts)
        return P.reshape(m, hidden), W.reshape(hidden, d), V.reshape(hidden, d)

    def rhs(y):
        gP, gW, gV, _ = _bilinear_grad(*unpack(y), T)
        return -np.concatenate([gP.ravel(), gW.ravel(), gV.ravel()])

    times, ys = _integrate(
        rhs, np.concatenate([a.ravel() for a in start]), t_max, n_times
    )
    Bs = np.stack([_bilinear_tensor_np(*unpack(y)) for y in ys])
    loss = np.array([_bilinear_grad(*unpack(y), T)[3] for y in ys])
    return FlowResult("bilinear", times, target.coefficients(Bs), target.s, loss)


def _feature_pinv(target, X: Tensor) -> Tensor:
    # Least-squares projection of outputs onto linear (resp. quadratic)
    # functions of x over the training inputs: exact for a linear (resp.
    # quadratic) network, and for ReLU networks, whose Hessian vanishes almost
    # everywhere, still the operator that best explains them on their data.
    feats = [X, torch.ones_like(X[:, :1])]
    if isinstance(target, BilinearTarget):
        i, j = torch.triu_indices(X.shape[1], X.shape[1])
        feats.insert(0, X[:, i] * X[:, j])
    return torch.linalg.pinv(torch.cat(feats, dim=1))


def _network_operator(outputs: Tensor, target, pinv: Tensor) -> np.ndarray:
    coef = (pinv @ outputs).T.detach()  # (m, n_features)
    d = target.V.shape[0]
    if isinstance(target, LinearTarget):
        return coef[:, :d].numpy()
    i, j = torch.triu_indices(d, d)
    B = torch.zeros(coef.shape[0], d, d, dtype=coef.dtype)
    B[:, i, j] = coef[:, : len(i)] * torch.where(i == j, 1.0, 0.5)
    return (B + B.transpose(1, 2) - torch.diag_embed(B.diagonal(0, 1, 2))).numpy()


def network_flow(
    model: nn.Module,
    target: LinearTarget | BilinearTarget,
    lr: float = 1e-2,
    t_max: float = 20.0,
    n_times: int = 100,
    n_samples: int = 1024,
    seed: int = 0,
    name: str | None = None,
) -> FlowResult:
    """Fit any network to the target's data by small-step full-batch descent.

    The model is copied and trained in float64 on ``x ~ N(0, I)``, ``y =
    target(x)``, with the loss ``1/2 mean |f(x) - y|^2`` and ``t_max / lr``
    steps of plain gradient descent (forward Euler of the gradient flow).

    Args:
        model: maps ``(n, d_in) -> (n, d_out)``; it is not modified.
        target: a :class:`LinearTarget` or :class:`BilinearTarget`.
        lr: step size (the flow's time step).
        t_max: final time.
        n_times: number of recorded times.
        n_samples: training inputs.
        seed: seed of the inputs.
        name: label of the result (default the model's ``arch`` or class name).

    Returns:
        A :class:`FlowResult` of the network's effective operator.
    """
    import copy

    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    net = copy.deepcopy(model).to(torch.float64)
    d_in = target.V.shape[0]
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n_samples, d_in, generator=gen, dtype=torch.float64)
    Y = target(X)
    steps = max(int(round(t_max / lr)), 1)
    record = set(np.linspace(0, steps, n_times).round().astype(int).tolist())
    pinv = _feature_pinv(target, X)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    times, ops, losses = [], [], []
    for step in range(steps + 1):
        out = net(X)
        loss = 0.5 * ((out - Y) ** 2).sum(-1).mean()
        if step in record:
            times.append(step * lr)
            ops.append(_network_operator(out, target, pinv))
            losses.append(loss.item())
        if step < steps:
            opt.zero_grad()
            loss.backward()
            opt.step()
    label = name or getattr(model, "arch", type(model).__name__)
    return FlowResult(
        str(label),
        np.array(times),
        target.coefficients(np.stack(ops)),
        target.s,
        np.array(losses),
    )
