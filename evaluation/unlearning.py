"""Selective unlearning: remove one component of a learned operator, keep the rest.

A target ``f*`` is a sum of separable components with known identities,
``f*(x) = sum_c f*_c(x)``; component ``c`` reads its input only through an
input subspace ``V_c`` and writes only into an output subspace ``U_c``
(orthonormal bases; the ``U_c`` of different components are orthogonal, so
are the ``V_c``). Three families are built here:

* ``linear-modes``: ``Q* = sum_i s_i u_i v_i^T`` with distinct singular
  values; component ``i`` is the singular mode ``(u_i, v_i)``.
* ``modular-frequencies``: on ``Z_p`` with one-hot inputs ``(a, b)``,
  ``y_k = sum_f w_f cos(2 pi f (a + b - k) / p)``; component ``f`` is one
  Fourier frequency (Nanda et al., "Progress measures for grokking via
  mechanistic interpretability", ICLR 2023, sec. 4, eq. for the logits),
  whose input and output subspaces are spanned by ``cos, sin(2 pi f j / p)``.
* ``two-oscillators``: the vector field of two decoupled harmonic oscillators
  ``H_i = (p_i^2 + omega_i^2 q_i^2) / 2`` with different frequencies, state
  ``[q1, q2, p1, p2]``; component ``i`` is oscillator ``i``.

Errors are measured on the output side. With ``Pi`` the projector onto the
forgotten component's output subspace and ``r = f(x) - f*(x)``:

    forget error  F = E|Pi r|^2 / E|Pi f*(x)|^2,
    retain error  R = E|(I - Pi) r|^2 / E|(I - Pi) f*(x)|^2.

A model that outputs zero has ``F = R = 1``; so does a model trained only on
the retained components, in the forgotten output directions. The selectivity
of an edit from ``(F0, R0)`` to ``(F1, R1)`` is

    S = clip((F1 - F0) / (1 - F0), 0, 1) * clip(1 - (R1 - R0) / (1 - R0), 0, 1),

the fraction of the way the forget error went towards the zero-output level
times the fraction of the retained accuracy kept. ``S = 1`` for a perfect
edit (the component is gone, nothing else moved), ``S = 0`` when nothing was
forgotten or the retained components are as bad as a zero output (a destroyed
model). Non-finite errors count as infinite.

Two edits are provided. ``surgery`` identifies the component's input
subspace *from the learned model* and projects the model's first-layer
weights onto its orthogonal complement, with no training. For a bilinear
block the identification is exact and weight-based: the component's outputs
``y_u = x^T Q_u x + L_u x`` (``Q_u = sum_k u_k B_k`` from the interaction
tensor ``B``) have Jacobian ``2 Q_u x + L_u``, so the identified subspace is
the leading eigenspace of ``G = sum_u E[(2 Q_u x + L_u)(2 Q_u x + L_u)^T]``,
spanned by eigenvectors of the ``Q_u`` (Pearce et al., "Bilinear MLPs enable
weight-based mechanistic interpretability", 2024, sec. 3). For every other
model ``G`` is the same average of the component's Jacobians, by autograd
(the best linearisation available). ``gradient_unlearn`` runs a fixed number
of Adam steps of descent on the retained error and capped ascent on the
forget error.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from evaluation.structure import bilinear_tensor, jacobians

__all__ = [
    "Component",
    "EntangledTarget",
    "TARGETS",
    "available_targets",
    "make_target",
    "linear_modes_target",
    "modular_frequencies_target",
    "two_oscillators_target",
    "component_errors",
    "selectivity",
    "identify_input_subspace",
    "surgery",
    "gradient_unlearn",
    "retained_drift",
]

F64 = torch.float64


@dataclass(frozen=True)
class Component:
    """One separable part of a target.

    Attributes:
        name: a label, e.g. ``"mode-1"`` or ``"frequency-3"``.
        input_basis: ``(d_in, r_in)`` orthonormal columns spanning the inputs
            the component reads.
        output_basis: ``(d_out, r_out)`` orthonormal columns spanning the
            outputs it writes.
    """

    name: str
    input_basis: Tensor
    output_basis: Tensor


@dataclass(frozen=True)
class EntangledTarget:
    """A target map made of separable components with known identities.

    Attributes:
        name: target name (a key of :data:`TARGETS`).
        d_in, d_out: input and output sizes.
        operator: ``f*``: ``(*b, d_in) -> (*b, d_out)``, float64.
        components: the components; their output subspaces are orthogonal.
        sample: ``sample(n, seed) -> (n, d_in)`` float64 inputs.
        forget: index of the component removed by default.
        dt: for vector-field targets, the step of rollouts; else ``None``.
        invariants: for vector-field targets, ``x (*b, d_in) -> {component
            name: (*b,)}``, each component's conserved quantity.
    """

    name: str
    d_in: int
    d_out: int
    operator: Callable[[Tensor], Tensor]
    components: tuple[Component, ...]
    sample: Callable[[int, int], Tensor]
    forget: int = 0
    dt: float | None = None
    invariants: Callable[[Tensor], dict[str, Tensor]] | None = field(default=None)

    def component(self, index: int | None = None) -> Component:
        """The component at ``index`` (default: :attr:`forget`).

        Raises:
            ValueError: ``index`` is not a valid component index.
        """
        index = self.forget if index is None else index
        n = len(self.components)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise ValueError(
                f"component index must be an integer in [0, {n}), got {index!r}"
            )
        return self.components[index]


def _orthonormal(A: Tensor) -> Tensor:
    return torch.linalg.qr(A.to(F64))[0]


def _gaussian(d: int) -> Callable[[int, int], Tensor]:
    def sample(n: int, seed: int) -> Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        return torch.randn(n, d, generator=gen, dtype=F64)

    return sample


def linear_modes_target(
    d: int = 6, singular_values=(2.0, 1.4, 1.0, 0.6), forget: int = 1, seed: int = 1234
) -> EntangledTarget:
    """``Q* = sum_i s_i u_i v_i^T`` with random orthonormal ``u_i``, ``v_i``.

    Args:
        d: input and output size.
        singular_values: distinct positive ``s_i``, at most ``d`` of them.
        forget: index of the mode removed by default.
        seed: seed of the random singular vectors (fixed, so the target does
            not change with the model seed).

    Returns:
        The target; inputs are standard normal.

    Raises:
        ValueError: too many, non-positive or repeated singular values.
    """
    s = torch.as_tensor(singular_values, dtype=F64)
    if s.ndim != 1 or not 1 <= len(s) <= d or bool((s <= 0).any()):
        raise ValueError(
            f"singular_values must be 1..{d} positive numbers, got {singular_values!r}"
        )
    if len(torch.unique(s)) != len(s):
        raise ValueError(f"singular_values must be distinct, got {singular_values!r}")
    gen = torch.Generator().manual_seed(seed)
    U = _orthonormal(torch.randn(d, d, generator=gen, dtype=F64))[:, : len(s)]
    V = _orthonormal(torch.randn(d, d, generator=gen, dtype=F64))[:, : len(s)]
    Q = U @ torch.diag(s) @ V.T
    comps = tuple(
        Component(f"mode-{i}", V[:, i : i + 1], U[:, i : i + 1]) for i in range(len(s))
    )
    return EntangledTarget(
        "linear-modes", d, d, lambda x: x @ Q.T, comps, _gaussian(d), forget=forget
    )


def _fourier_pair(p: int, f: int) -> Tensor:
    """``(p, 2)`` orthonormal ``cos, sin(2 pi f j / p)`` columns, ``0 < f < p/2``."""
    j = torch.arange(p, dtype=F64)
    ang = 2 * math.pi * f * j / p
    return torch.stack([ang.cos(), ang.sin()], dim=1) * math.sqrt(2.0 / p)


def modular_frequencies_target(
    p: int = 11, frequencies=(1, 2, 4), weights=(1.0, 0.8, 0.6), forget: int = 1
) -> EntangledTarget:
    """``y_k = sum_f w_f cos(2 pi f (a + b - k) / p)`` on one-hot ``(a, b)``.

    Args:
        p: modulus (at least 5).
        frequencies: distinct integers in ``(0, p/2)``.
        weights: one positive weight per frequency.
        forget: index of the frequency removed by default.

    Returns:
        The target: ``d_in = 2 p`` (one-hot ``a`` then one-hot ``b``),
        ``d_out = p``; inputs are uniformly random pairs.

    Raises:
        ValueError: bad modulus, frequencies or weights.
    """
    if isinstance(p, bool) or not isinstance(p, int) or p < 5:
        raise ValueError(f"p must be an integer >= 5, got {p!r}")
    fs = list(frequencies)
    if (
        len(set(fs)) != len(fs)
        or not fs
        or any(not isinstance(f, int) or not 0 < 2 * f < p for f in fs)
    ):
        raise ValueError(
            f"frequencies must be distinct integers in (0, {p}/2), got {frequencies!r}"
        )
    w = torch.as_tensor(weights, dtype=F64)
    if w.shape != (len(fs),) or bool((w <= 0).any()):
        raise ValueError(f"weights must be {len(fs)} positive numbers, got {weights!r}")
    comps = []
    for f in fs:
        out = _fourier_pair(p, f)
        inp = torch.block_diag(out, out)
        comps.append(Component(f"frequency-{f}", inp, out))
    freqs = torch.as_tensor(fs, dtype=F64)

    def operator(x: Tensor) -> Tensor:
        # The bilinear extension off one-hot inputs: with A_f = sum_a x_a
        # e^{2 pi i f a / p} (and B_f from the b block), y_k = sum_f w_f
        # Re(A_f B_f e^{-2 pi i f k / p}); frequency f reads only A_f, B_f.
        j = torch.arange(p, dtype=x.dtype)
        phase = torch.exp(2j * math.pi * freqs.to(x.dtype)[:, None] * j / p)
        A = x[..., :p].to(phase.dtype) @ phase.T  # (*b, n_f)
        B = x[..., p:].to(phase.dtype) @ phase.T
        prod = (w.to(x.dtype) * A * B)[..., :, None] * phase.conj()  # (*b, n_f, p)
        return prod.real.sum(-2)

    def sample(n: int, seed: int) -> Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        ab = torch.randint(0, p, (n, 2), generator=gen)
        eye = torch.eye(p, dtype=F64)
        return torch.cat([eye[ab[:, 0]], eye[ab[:, 1]]], dim=1)

    return EntangledTarget(
        "modular-frequencies", 2 * p, p, operator, tuple(comps), sample, forget=forget
    )


def two_oscillators_target(
    omega=(1.0, 2.0), forget: int = 1, dt: float = 0.05
) -> EntangledTarget:
    """Vector field of two decoupled oscillators, state ``[q1, q2, p1, p2]``.

    ``dq_i/dt = p_i``, ``dp_i/dt = -omega_i^2 q_i`` from ``H_i = (p_i^2 +
    omega_i^2 q_i^2) / 2`` (Goldstein, *Classical Mechanics*, 3rd ed.,
    sec. 8.1); each ``H_i`` is conserved on its own.

    Args:
        omega: two distinct positive angular frequencies.
        forget: index of the oscillator removed by default.
        dt: step of the rollouts of the learned field.

    Returns:
        The target; inputs are standard normal states.

    Raises:
        ValueError: bad frequencies or step.
    """
    om = torch.as_tensor(omega, dtype=F64)
    if om.shape != (2,) or bool((om <= 0).any()) or om[0] == om[1]:
        raise ValueError(f"omega must be two distinct positive numbers, got {omega!r}")
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt!r}")
    eye = torch.eye(4, dtype=F64)
    comps = tuple(
        Component(f"oscillator-{i + 1}", eye[:, [i, i + 2]], eye[:, [i, i + 2]])
        for i in range(2)
    )

    def operator(x: Tensor) -> Tensor:
        q, p = x[..., :2], x[..., 2:]
        return torch.cat([p, -(om.to(x.dtype) ** 2) * q], dim=-1)

    def invariants(x: Tensor) -> dict[str, Tensor]:
        q, p = x[..., :2], x[..., 2:]
        H = 0.5 * (p**2 + om.to(x.dtype) ** 2 * q**2)
        return {c.name: H[..., i] for i, c in enumerate(comps)}

    return EntangledTarget(
        "two-oscillators",
        4,
        4,
        operator,
        comps,
        _gaussian(4),
        forget=forget,
        dt=float(dt),
        invariants=invariants,
    )


#: Target name -> factory (keyword arguments as documented on each).
TARGETS: dict[str, Callable[..., EntangledTarget]] = {
    "linear-modes": linear_modes_target,
    "modular-frequencies": modular_frequencies_target,
    "two-oscillators": two_oscillators_target,
}


def available_targets() -> list[str]:
    """Names of the entangled targets."""
    return list(TARGETS)


def make_target(name: str, **kw) -> EntangledTarget:
    """Build the target ``name`` with keyword arguments ``kw``.

    Raises:
        ValueError: unknown target name.
    """
    if name not in TARGETS:
        raise ValueError(
            f"unknown unlearning target {name!r}; known: {', '.join(TARGETS)}"
        )
    return TARGETS[name](**kw)


def _model_fn(model: nn.Module) -> Callable[[Tensor], Tensor]:
    dtype = next(model.parameters()).dtype
    return lambda x: model(x.to(dtype)).to(x.dtype)


def _relative_errors(
    pred: Tensor, y: Tensor, out_basis: Tensor
) -> tuple[Tensor, Tensor]:
    """``(F, R)`` as 0-d tensors (module docstring), differentiable in ``pred``."""
    Ub = out_basis.to(pred.dtype)
    r = pred - y
    rf, yf = r @ Ub, y @ Ub
    forget = rf.pow(2).sum() / yf.pow(2).sum()
    # project explicitly: |r|^2 - |r U|^2 would cancel catastrophically
    r_ret = (r - rf @ Ub.T).pow(2).sum()
    y_ret = (y - yf @ Ub.T).pow(2).sum()
    return forget, r_ret / y_ret


@torch.no_grad()
def component_errors(
    model: nn.Module | Callable[[Tensor], Tensor],
    target: EntangledTarget,
    x: Tensor,
    forget: int | None = None,
) -> tuple[float, float]:
    """Forget and retain errors ``(F, R)`` of ``model`` on inputs ``x``.

    Args:
        model: a network or any map ``(*b, d_in) -> (*b, d_out)``.
        target: the entangled target.
        x: ``(n, d_in)`` float64 inputs.
        forget: index of the forgotten component (default ``target.forget``).

    Returns:
        ``(F, R)``, relative squared errors in the forgotten output subspace
        and in its complement; 1 for a zero output.
    """
    if x.ndim != 2 or x.shape[1] != target.d_in:
        raise ValueError(f"x must have shape (n, {target.d_in}), got {tuple(x.shape)}")
    fn = _model_fn(model) if isinstance(model, nn.Module) else model
    x = x.to(F64)
    F, R = _relative_errors(
        fn(x), target.operator(x), target.component(forget).output_basis
    )
    return float(F), float(R)


def selectivity(forget_before, forget_after, retain_before, retain_after):
    """Selectivity ``S`` of an edit (formula in the module docstring).

    Args:
        forget_before, forget_after: forget errors ``F0``, ``F1``.
        retain_before, retain_after: retain errors ``R0``, ``R1``.
        Floats or arrays of one shape; non-finite values count as infinite.

    Returns:
        ``S`` in ``[0, 1]``: 1 for a perfect edit, 0 for a destroyed model or
        no forgetting. A float for scalar inputs, else an array.
    """
    F0, F1, R0, R1 = (
        np.nan_to_num(np.asarray(v, dtype=float), nan=np.inf)
        for v in (forget_before, forget_after, retain_before, retain_after)
    )
    tiny = np.finfo(float).tiny
    with np.errstate(invalid="ignore", over="ignore"):
        gain = np.clip((F1 - F0) / np.maximum(1.0 - F0, tiny), 0.0, 1.0)
        keep = np.clip(1.0 - (R1 - R0) / np.maximum(1.0 - R0, tiny), 0.0, 1.0)
    S = np.nan_to_num(gain * keep, nan=0.0)
    return float(S) if S.ndim == 0 else S


def _single_block(model: nn.Module) -> nn.Module:
    """The one block of a depth-1 model (or the model itself if it is a block)."""
    blocks = getattr(model, "blocks", None)
    if blocks is None:
        return model
    if len(blocks) != 1:
        # Limitation: a residual stack of depth > 1 passes its raw input to
        # later blocks through the skip connections, so projecting the first
        # block's weights is not an input projection; only depth 1 is edited.
        raise ValueError(
            f"surgery needs a depth-1 model (one block), got depth {len(blocks)}"
        )
    return blocks[0]


def _is_bilinear(block: nn.Module) -> bool:
    return all(isinstance(getattr(block, n, None), nn.Linear) for n in "WVP") and (
        getattr(block, "act", None) is None
    )


def _bilinear_gram(block: nn.Module, out_basis: Tensor, x: Tensor) -> Tensor:
    """``sum_u E[J_u^T J_u]`` with ``J_u = 2 Q_u x + L_u`` from the tensor."""
    T = bilinear_tensor(block, dtype=F64)
    Q = torch.einsum("ka,kij->aij", out_basis, T.quadratic)  # (r, d, d)
    L = out_basis.T @ T.linear  # (r, d)
    m1, m2 = x.mean(0), x.T @ x / x.shape[0]
    Qm = Q @ m1  # (r, d)
    G = 4 * torch.einsum("aij,jk,akl->il", Q, m2, Q)
    G = G + 2 * (Qm.T @ L + L.T @ Qm) + L.T @ L
    return 0.5 * (G + G.T)


def _jacobian_gram(model: nn.Module, out_basis: Tensor, x: Tensor) -> Tensor:
    """``E[J^T U U^T J]`` over the rows of ``x`` by autograd."""
    J = jacobians(_model_fn(model), x)  # (n, d_out, d_in)
    JU = torch.einsum("ka,nki->nai", out_basis, J)
    return torch.einsum("nai,naj->ij", JU, JU) / x.shape[0]


def identify_input_subspace(
    model: nn.Module,
    target: EntangledTarget,
    x: Tensor,
    forget: int | None = None,
    rank: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The input directions the model uses for the forgotten component's outputs.

    Bilinear blocks use the interaction tensor (exact, weights only besides
    the data moments); other models average the Jacobian by autograd.

    Args:
        model: the trained network.
        target: the entangled target (gives the output subspace).
        x: ``(n, d_in)`` reference inputs.
        forget: component index (default ``target.forget``).
        rank: subspace dimension (default: the component's input dimension).

    Returns:
        ``(basis (d_in, rank), eigvals (d_in,))``: orthonormal identified
        directions, and the descending eigenvalues of the Gram matrix ``G``.
    """
    comp = target.component(forget)
    rank = comp.input_basis.shape[1] if rank is None else int(rank)
    if not 1 <= rank <= target.d_in:
        raise ValueError(f"rank must be in [1, {target.d_in}], got {rank!r}")
    x = x.to(F64)
    blocks = getattr(model, "blocks", None)
    block = blocks[0] if blocks is not None and len(blocks) == 1 else model
    if _is_bilinear(block):
        G = _bilinear_gram(block, comp.output_basis, x)
    else:
        G = _jacobian_gram(model, comp.output_basis, x).detach().to(F64)
    evals, evecs = torch.linalg.eigh(G)
    return evecs[:, -rank:].flip(1), evals.flip(0)


def _first_layers(block: nn.Module) -> list[nn.Linear]:
    if all(isinstance(getattr(block, n, None), nn.Linear) for n in "WV"):
        return [block.W, block.V]
    layers = getattr(block, "layers", None)
    if layers is not None and isinstance(layers[0], nn.Linear):
        return [layers[0]]
    raise ValueError(
        "surgery needs a block with W and V layers or a `layers` "
        f"Sequential starting with nn.Linear, got {type(block).__name__}"
    )


def _last_layer(block: nn.Module) -> nn.Linear:
    if isinstance(getattr(block, "P", None), nn.Linear):
        return block.P
    return block.layers[-1]


@torch.no_grad()
def surgery(
    model: nn.Module,
    input_basis: Tensor | None = None,
    output_basis: Tensor | None = None,
) -> nn.Module:
    """Project a component out of a depth-1 model's weights; no training.

    Input side: every first-layer weight ``A`` (``W`` and ``V`` of a
    bilinear or gated block, ``layers[0]`` of an MLP) becomes ``A (I - V V^T)``,
    so the model computes ``f((I - V V^T) x)``; for a bilinear block this is
    ``B_k -> (I - VV^T) B_k (I - VV^T)`` and ``L_k -> L_k (I - VV^T)``.
    Output side: the last layer ``P`` (weight and bias) becomes
    ``(I - U U^T) P``.

    Args:
        model: a depth-1 model from ``learners.make_model`` or one block.
        input_basis: ``(d_in, r)`` orthonormal directions to remove from the
            input, or ``None``.
        output_basis: ``(d_out, r)`` orthonormal directions to remove from the
            output, or ``None``.

    Returns:
        An edited deep copy; ``model`` is unchanged.

    Raises:
        ValueError: a deeper model, an unknown block layout, or bases of the
            wrong shape.
    """
    edited = copy.deepcopy(model)
    block = _single_block(edited)
    if input_basis is not None:
        for layer in _first_layers(block):
            proj = _complement(input_basis, layer.in_features, "input_basis")
            layer.weight.copy_(layer.weight @ proj.to(layer.weight.dtype))
    if output_basis is not None:
        last = _last_layer(block)
        proj = _complement(output_basis, last.out_features, "output_basis")
        last.weight.copy_(proj.to(last.weight.dtype) @ last.weight)
        if last.bias is not None:
            last.bias.copy_(proj.to(last.bias.dtype) @ last.bias)
    return edited


def _complement(basis: Tensor, d: int, name: str) -> Tensor:
    if basis.ndim != 2 or basis.shape[0] != d:
        raise ValueError(f"{name} must have shape ({d}, r), got {tuple(basis.shape)}")
    basis = basis.to(F64)
    return torch.eye(d, dtype=F64) - basis @ basis.T


def gradient_unlearn(
    model: nn.Module,
    target: EntangledTarget,
    x: Tensor,
    forget: int | None = None,
    steps: int = 200,
    lr: float = 1e-3,
    forget_weight: float = 1.0,
) -> nn.Module:
    """Unlearn by gradient: descent on the retain error, capped ascent on forget.

    Minimises ``R(theta) - forget_weight * min(F(theta), 1)`` (module
    docstring for ``F`` and ``R``) with full-batch Adam for ``steps`` steps.
    The cap stops the ascent once the forget error reaches the level of a
    zero output, so a fixed budget does not drive the outputs to infinity.

    Args:
        model: the trained network (not modified).
        target: the entangled target.
        x: ``(n, d_in)`` float64 inputs (forget and retain losses are read
            on the same inputs, in complementary output subspaces).
        forget: component index (default ``target.forget``).
        steps: number of Adam steps (>= 0).
        lr: Adam learning rate.
        forget_weight: weight of the ascent term (> 0).

    Returns:
        The edited deep copy.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if not (lr > 0 and forget_weight > 0):
        raise ValueError(
            f"lr and forget_weight must be positive, got {lr!r}, {forget_weight!r}"
        )
    edited = copy.deepcopy(model)
    fn = _model_fn(edited)
    x = x.to(F64)
    y, U = target.operator(x), target.component(forget).output_basis
    opt = torch.optim.Adam(edited.parameters(), lr=lr)
    for _ in range(steps):
        F, R = _relative_errors(fn(x), y, U)
        loss = R - forget_weight * torch.clamp(F, max=1.0)
        if not torch.isfinite(loss):
            warnings.warn(
                "gradient unlearning reached a non-finite loss; stopped early",
                RuntimeWarning,
                stacklevel=2,
            )
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return edited


class _LearnedField:
    """A network as the ODE problem ``dx/dt = model(x)`` for ``integrators``."""

    def __init__(self, model: nn.Module) -> None:
        self.fn = _model_fn(model)

    def vector_field(self, t, x: Tensor) -> Tensor:
        return self.fn(x)


@torch.no_grad()
def retained_drift(
    model: nn.Module | None,
    target: EntangledTarget,
    x0: Tensor,
    steps: int,
    forget: int | None = None,
    method: str = "rk4",
) -> float:
    """Long-rollout drift of the retained components' invariants.

    Integrates ``dx/dt = model(x)`` (or the true field when ``model`` is
    ``None``) with ``method`` and step ``target.dt`` and measures, for each
    retained component ``c``, ``max_t |I_c(x_t) - I_c(x_0)| / |I_c(x_0)|``.

    Args:
        model: the learned vector field, or ``None`` for the truth.
        target: a vector-field target (with ``dt`` and ``invariants``).
        x0: ``(b, d_in)`` float64 initial states.
        steps: number of steps.
        forget: index of the forgotten component (default ``target.forget``).
        method: a fixed-step ``integrators`` method.

    Returns:
        The median over trajectories of the largest relative drift over time
        and retained components; ``inf`` if a rollout left the finite range.

    Raises:
        ValueError: the target has no dynamics.
    """
    import integrators

    if target.invariants is None or target.dt is None:
        raise ValueError(
            f"target {target.name!r} is not a vector field; "
            "retained_drift needs dt and invariants"
        )
    gone = target.component(forget).name
    problem = _LearnedField(model) if model is not None else _TrueField(target)
    _, xs = integrators.integrate(problem, x0.to(F64), target.dt, steps, method)
    drifts = []
    for name, inv in target.invariants(xs).items():
        if name != gone:
            rel = (inv - inv[0]).abs() / inv[0].abs().clamp_min(1e-300)
            drifts.append(rel.nan_to_num(nan=math.inf).amax(0))
    worst = torch.stack(drifts).amax(0)
    return float(worst.median())


class _TrueField:
    def __init__(self, target: EntangledTarget) -> None:
        self.vector_field = lambda t, x: target.operator(x)
