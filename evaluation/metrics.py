"""Structure metrics of a predicted rollout against the ground truth.

Per frame ``t`` and trajectory ``b`` (all in float64):

* state error ``||x_t - y_t||`` (Euclidean) and, on every group-valued block
  of the state layout, the geodesic error ``||log(g_ref^-1 g)||`` of the
  left-invariant metric. A learned state leaves the group, so the predicted
  block is first projected onto it (``G.project``, the nearest element); the
  distance from the group itself is reported as ``group_residual/<part>``.
* invariant drift ``|I(x_t) - I(x_0)| / max(|I(x_0)|, eps)`` for every
  invariant the system declares, and every constraint residual it declares.
  The components of a vector invariant (names ``v_x, v_y, v_z`` or
  ``v_0, v_1, ...``) share one scale, the norm ``|v(x_0)|`` of the whole
  vector: the relative size of a single component is not a property of the
  dynamics, and a component that starts near 0 would otherwise report a huge
  drift for a tiny rotation of the vector.
* volume: ``log|det J(x_t)|`` of the learned one-step map, accumulated along
  the rollout (Liouville: a Hamiltonian flow keeps it at 0; Arnold, Mathematical
  Methods of Classical Mechanics, 1989, sec. 16). Computed with ``slogdet``,
  never ``log(det)``, so large and tiny determinants stay finite.
* symplecticity defect ``||J^T Omega J - Omega||_F`` with
  ``Omega = [[0, I], [-I, 0]]`` (Hairer, Lubich, Wanner, Geometric Numerical
  Integration, 2006, Def. VI.2.2) for Hamiltonian systems.
* valid prediction time: the first step at which the normalised error
  ``||x_t - y_t|| / sigma`` exceeds a threshold, ``sigma`` the standard
  deviation of the reference states (Vlachas et al., Neural Networks 126,
  2020, sec. 4, who use a threshold of 0.5).

Jacobians are taken only at a subsample of frames (``jacobian_points``, evenly
spaced); the accumulated volume multiplies each sampled log-determinant by the
number of steps up to the next sample (the last by the steps left), a
rectangle rule that is exact when every frame is sampled or the map is linear.
"""

from __future__ import annotations

import math
import re

import torch

from evaluation._base import Scores
from evaluation.rollout import divergence_step

#: Floor of ``|I(x_0)|`` in the relative drift (invariants that start at 0).
DRIFT_EPS = 1e-12


def score(
    system,
    pred,
    reference,
    op=None,
    vpt_threshold: float = 0.5,
    jacobian_points: int = 64,
) -> Scores:
    """Score a rollout against the ground truth on every structure metric.

    Args:
        system: a ``dynsys`` System (``invariants``, ``constraints``,
            ``state_layout``, ``is_hamiltonian``, ``n_dof``, ``dt``).
        pred: predicted states ``(frames, batch, d)`` or a Trajectory.
        reference: true states ``(frames', batch, d)`` or a Trajectory; when
            the frame counts differ the common leading frames are scored.
        op: the learned operator (``step``); without it the Jacobian metrics
            (volume, symplecticity) are left out.
        vpt_threshold: normalised-error threshold of the valid prediction time.
        jacobian_points: number of frames at which Jacobians are evaluated.

    Returns:
        :class:`Scores`. Summary keys: ``state_error_final``;
        ``<m>_final`` and ``<m>_max`` for ``m`` in ``geodesic_error``,
        ``group_residual``, ``drift``, ``constraint`` (worst part, invariant
        or residual) and for each ``drift/<invariant>``; ``drift_exponent``;
        ``log_volume_final`` (median over the trajectories that stayed
        finite), ``log_det_mean``; ``symplecticity_median`` and
        ``symplecticity_max``; ``vpt_steps``, ``vpt_time``;
        ``diverged_fraction`` and ``divergence_step`` (earliest, -1 if none).
        Other batch statistics are medians in which a diverged trajectory
        counts as infinite.

    Raises:
        ValueError: shapes of ``pred`` and ``reference`` disagree, both are
            Trajectories whose common frames are at different times (frames
            are compared by index), or a threshold is not positive.
    """
    _check_times(pred, reference)
    pred, dt = _states(pred, system)
    ref, ref_dt = _states(reference, system)
    if hasattr(reference, "times"):  # the ground truth's own frame spacing
        dt = ref_dt
    pred, ref = _align(pred, ref)
    if not vpt_threshold > 0:
        raise ValueError(f"vpt_threshold must be > 0, got {vpt_threshold}")

    series = {"state_error": torch.linalg.vector_norm(pred - ref, dim=-1)}
    series.update(group_metrics(system, pred, ref))
    series.update(invariant_drift(system, pred))
    series.update(constraint_residuals(system, pred))
    nerr, vpt = valid_prediction_time(pred, ref, vpt_threshold)
    series["normalised_error"] = nerr
    steps_idx, jac = (torch.zeros(0, dtype=torch.long), {})
    if op is not None:
        steps_idx, jac = jacobian_metrics(system, op, pred, jacobian_points)
    div = divergence_step(pred)
    summary = summarise(series, jac, div, vpt, dt)
    return Scores(series, jac, steps_idx, div, vpt, summary, dt)


def _states(data, system) -> tuple[torch.Tensor, float]:
    """States as float64 ``(frames, batch, d)`` and the frame spacing."""
    dt = float(getattr(system, "dt", 1.0) or 1.0)
    if hasattr(data, "states"):
        times = torch.as_tensor(data.times, dtype=torch.float64)
        if times.numel() > 1:
            dt = float(times[1] - times[0])
        data = data.states
    x = torch.as_tensor(data).to(torch.float64)
    if x.dim() != 3:
        raise ValueError(f"states must be (frames, batch, d), got {tuple(x.shape)}")
    return x, dt


def _check_times(pred, reference) -> None:
    """Raise unless two Trajectories' common frames are at the same times."""
    if not (hasattr(pred, "times") and hasattr(reference, "times")):
        return
    tp = torch.as_tensor(pred.times, dtype=torch.float64)
    tr = torch.as_tensor(reference.times, dtype=torch.float64)
    n = min(tp.numel(), tr.numel())
    tp, tr = tp[:n], tr[:n]
    scale = float(tr.abs().max()) if n else 0.0
    if not torch.allclose(tp, tr, rtol=1e-9, atol=1e-12 * scale):
        bad = int((~torch.isclose(tp, tr, rtol=1e-9, atol=1e-12 * scale)).nonzero()[0])
        raise ValueError(
            f"pred and reference frames are at different times (frame {bad}: "
            f"{float(tp[bad]):.6g} vs {float(tr[bad]):.6g}); frames are compared "
            "by index, so roll out at the reference's frame spacing"
        )


def _align(pred: torch.Tensor, ref: torch.Tensor):
    if pred.shape[1:] != ref.shape[1:]:
        raise ValueError(
            f"pred (frames, batch, d) = {tuple(pred.shape)} and reference "
            f"{tuple(ref.shape)} must agree in batch and state size"
        )
    n = min(pred.shape[0], ref.shape[0])
    return pred[:n], ref[:n]


def _on_finite(fn, *xs: torch.Tensor) -> torch.Tensor:
    """Apply ``fn`` to the rows where every input is finite; NaN elsewhere.

    ``xs`` share leading shape ``(frames, batch)``; ``fn`` maps
    ``(n, *rest)`` inputs to ``(n,)``.
    """
    lead = xs[0].shape[:2]
    flat = [x.reshape(-1, *x.shape[2:]) for x in xs]
    ok = torch.ones(flat[0].shape[0], dtype=torch.bool)
    for x in flat:
        ok &= torch.isfinite(x.reshape(x.shape[0], -1)).all(-1)
    out = torch.full((flat[0].shape[0],), float("nan"), dtype=torch.float64)
    if ok.any():
        out[ok] = fn(*(x[ok] for x in flat)).to(torch.float64)
    return out.reshape(lead)


def group_parts(system) -> list:
    """The group-valued blocks of ``system.state_layout`` (may be empty)."""
    return [
        p
        for p in getattr(system, "state_layout", None) or []
        if getattr(p, "group", None) is not None
    ]


def group_metrics(system, pred: torch.Tensor, ref: torch.Tensor) -> dict:
    """Geodesic error and group residual of every group-valued block.

    Args:
        system: provides ``state_layout``.
        pred: ``(frames, batch, d)`` float64.
        ref: ``(frames, batch, d)`` float64.

    Returns:
        ``geodesic_error/<part>`` (after projecting the predicted block onto
        the group) and ``group_residual/<part>`` (before), each
        ``(frames, batch)``.
    """
    out = {}
    for part in group_parts(system):
        G, n = part.group, part.group.matrix_size
        g = pred[..., part.start : part.stop].reshape(*pred.shape[:2], n, n)
        h = ref[..., part.start : part.stop].reshape(*ref.shape[:2], n, n)

        def geodesic(g, h, G=G):
            rel = G.compose(G.inverse(h), G.project(g))
            return torch.linalg.vector_norm(G.log(rel), dim=-1)

        out[f"geodesic_error/{part.name}"] = _on_finite(geodesic, g, h)
        out[f"group_residual/{part.name}"] = _on_finite(G.residual, g)
    return out


def invariant_drift(system, pred: torch.Tensor, eps: float = DRIFT_EPS) -> dict:
    """Relative drift of every invariant the system declares.

    Args:
        system: provides ``invariants(x) -> dict[str, Tensor]``.
        pred: ``(frames, batch, d)``.
        eps: floor of the scale ``|I(x_0)|``.

    Returns:
        ``drift/<name>`` -> ``(frames, batch)``,
        ``|I(x_t) - I(x_0)| / max(scale, eps)`` with ``scale = |I(x_0)|`` for a
        scalar invariant and the norm of the whole vector at ``t = 0`` for a
        component of a vector invariant (see :func:`invariant_scales`).
    """
    values = {k: v.to(torch.float64) for k, v in system.invariants(pred).items()}
    scales = invariant_scales({k: v[:1] for k, v in values.items()})
    return {
        f"drift/{name}": (v - v[:1]).abs() / scales[name].clamp_min(eps)
        for name, v in values.items()
    }


#: A component name: a stem, then ``_x``/``_y``/``_z`` or ``_<index>``.
_COMPONENT = re.compile(r"^(?P<stem>.+)_(?:[xyz]|\d+)$")


def invariant_scales(initial: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Scale of each invariant's drift: ``|I|``, or the norm of its vector.

    Invariants whose names share a stem and end in ``_x/_y/_z`` or ``_<k>``
    (``spatial_momentum_x``, ``lrl_y``, ``spatial_xi_0``) are the components
    of one vector when there are at least two of them; each is scaled by the
    Euclidean norm of that vector. Any other invariant is scaled by ``|I|``.

    Args:
        initial: name -> initial values, any shape (all the same).

    Returns:
        name -> scale, the shape of the values.
    """
    stems: dict[str, list[str]] = {}
    for name in initial:
        match = _COMPONENT.match(name)
        stems.setdefault(match["stem"] if match else name, []).append(name)
    scales = {}
    for members in stems.values():
        if len(members) < 2:
            scales[members[0]] = initial[members[0]].abs()
            continue
        norm = torch.stack([initial[m] for m in members]).square().sum(0).sqrt()
        scales.update({m: norm for m in members})
    return scales


def constraint_residuals(system, pred: torch.Tensor) -> dict:
    """``constraint/<name>`` -> ``(frames, batch)`` for each declared residual."""
    return {
        f"constraint/{k}": v.to(torch.float64).abs()
        for k, v in system.constraints(pred).items()
    }


def valid_prediction_time(
    pred: torch.Tensor, ref: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised error and the valid prediction time of each trajectory.

    Args:
        pred: ``(frames, batch, d)``.
        ref: ``(frames, batch, d)``.
        threshold: error level (in units of the reference's spread).

    Returns:
        ``(frames, batch)`` normalised error ``||x_t - y_t|| / sigma`` with
        ``sigma^2`` the mean squared deviation of ``ref`` from its mean, and
        ``(batch,)`` int64 valid prediction time in steps: the first step at
        which the error exceeds ``threshold`` or is not finite; ``frames - 1``
        when it never does.
    """
    sigma = torch.sqrt(((ref - ref.mean(dim=(0, 1))) ** 2).sum(-1).mean())
    nerr = torch.linalg.vector_norm(pred - ref, dim=-1) / sigma.clamp_min(1e-12)
    bad = ~(nerr <= threshold)
    first = bad.to(torch.uint8).argmax(dim=0)
    last = torch.full_like(first, pred.shape[0] - 1)
    return nerr, torch.where(bad.any(dim=0), first, last)


def step_jacobians(op, x: torch.Tensor) -> torch.Tensor:
    """Jacobians of the one-step map at a batch of states.

    Uses ``torch.func.vmap(torch.func.jacrev(step))``. An operator that
    ``vmap`` cannot trace (e.g. an adaptive ODE solver that reads tensor
    values) falls back to one reverse pass per output coordinate over the
    whole batch, exact because each output row depends only on its own input.

    Args:
        op: operator with ``step(x)``, ``(n, d) -> (n, d)``, or a callable.
        x: ``(n, d)`` states.

    Returns:
        ``(n, d, d)`` Jacobians ``d step(x)_i / d x_j`` in float64.
    """
    step = op.step if hasattr(op, "step") else op
    params = list(op.parameters()) if isinstance(op, torch.nn.Module) else []
    x = x.detach().to(params[0].dtype if params else x.dtype)
    with torch.enable_grad():
        try:
            jac = torch.func.vmap(
                torch.func.jacrev(lambda v: step(v.unsqueeze(0)).squeeze(0))
            )(x)
        except RuntimeError:
            xg = x.clone().requires_grad_(True)
            y = step(xg)
            rows = [
                torch.autograd.grad(y[:, i].sum(), xg, retain_graph=True)[0]
                for i in range(y.shape[-1])
            ]
            jac = torch.stack(rows, dim=-2)
    return jac.detach().to(torch.float64)


def symplecticity_defect(jac: torch.Tensor, n_dof: int) -> torch.Tensor:
    """``||J^T Omega J - Omega||_F`` for ``[q, p]`` coordinates.

    Args:
        jac: ``(*b, 2 n_dof, 2 n_dof)`` Jacobians.
        n_dof: degrees of freedom.

    Returns:
        ``(*b,)``; 0 exactly for a symplectic linear map.
    """
    eye = torch.eye(n_dof, dtype=jac.dtype)
    zero = torch.zeros_like(eye)
    omega = torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)
    defect = jac.transpose(-1, -2) @ omega @ jac - omega
    return torch.linalg.matrix_norm(defect, ord="fro")


def jacobian_metrics(system, op, pred: torch.Tensor, points: int = 64):
    """Log-determinant, accumulated volume and symplecticity along a rollout.

    Args:
        system: provides ``is_hamiltonian`` and ``n_dof``.
        op: the operator whose one-step map is differentiated.
        pred: ``(frames, batch, d)`` rollout.
        points: at most this many frames are sampled, evenly spaced.

    Returns:
        ``(steps (k,), series)``: the sampled frame indices and a dict with
        ``log_det`` and ``log_volume`` (accumulated up to the end of each
        sampled interval, rectangle rule weighted by the interval) and, for
        Hamiltonian systems, ``symplecticity``; each ``(k, batch)``.
    """
    n_steps = pred.shape[0] - 1
    if n_steps < 1 or points < 1:
        return torch.zeros(0, dtype=torch.long), {}
    stride = max(1, math.ceil(n_steps / points))
    idx = torch.arange(0, n_steps, stride)
    x = pred[idx]
    jac = torch.full((*x.shape, x.shape[-1]), float("nan"), dtype=torch.float64)
    ok = torch.isfinite(x).all(-1)
    if ok.any():
        jac[ok] = step_jacobians(op, x[ok])
    sign, logabs = torch.linalg.slogdet(jac)
    logabs = torch.where(sign == 0, torch.full_like(logabs, -math.inf), logabs)
    logabs = torch.where(ok, logabs, torch.full_like(logabs, math.nan))
    # Each sample stands for the steps up to the next one (the last for those
    # left before the end), so the weights sum to n_steps exactly.
    width = torch.diff(idx, append=torch.tensor([n_steps])).to(logabs.dtype)
    series = {"log_det": logabs, "log_volume": torch.cumsum(logabs * width[:, None], 0)}
    n_dof = int(getattr(system, "n_dof", 0) or 0)
    if getattr(system, "is_hamiltonian", False) and 2 * n_dof == pred.shape[-1]:
        series["symplecticity"] = symplecticity_defect(jac, n_dof)
    return idx, series


def _median(x: torch.Tensor) -> float:
    """Median over trajectories, counting non-finite entries as +inf.

    ``torch.median``: for an even count, the lower of the two middle values
    (an actual trajectory's value, and finite while half the batch is).
    """
    x = torch.where(torch.isnan(x), torch.full_like(x, math.inf), x)
    return float(x.median()) if x.numel() else math.nan


def _worst(series: dict, prefix: str) -> torch.Tensor | None:
    """Elementwise maximum of the series whose names start with ``prefix``."""
    parts = [v for k, v in series.items() if k.startswith(prefix)]
    if not parts:
        return None
    stacked = torch.stack(parts)
    return torch.where(torch.isnan(stacked).any(0), math.nan, stacked.amax(0))


def drift_exponent(drift: torch.Tensor, points: int = 64) -> float:
    """Growth exponent ``p`` of ``drift(t) ~ C t^p``: the log-log slope.

    Args:
        drift: ``(frames,)`` drift curve (frame 0 is the start, drift 0).
        points: log-spaced frames used in the least-squares fit.

    Returns:
        Slope of ``log drift`` against ``log t`` over ``t >= 1`` where the
        drift is finite and positive; NaN with fewer than 3 such frames.
    """
    frames = drift.shape[0]
    if frames < 4:
        return math.nan
    t = torch.unique(torch.logspace(0, math.log10(frames - 1), points).long())
    d = drift[t]
    keep = torch.isfinite(d) & (d > 0)
    if int(keep.sum()) < 3:
        return math.nan
    lt, ld = torch.log(t[keep].double()), torch.log(d[keep].double())
    lt_c = lt - lt.mean()
    return float((lt_c * (ld - ld.mean())).sum() / (lt_c**2).sum())


def summarise(
    series: dict, jac: dict, div: torch.Tensor, vpt: torch.Tensor, dt: float
) -> dict[str, float]:
    """The scalar summary of :func:`score` (medians over trajectories)."""
    s = {"state_error_final": _median(series["state_error"][-1])}
    for key in ("geodesic_error", "group_residual", "drift", "constraint"):
        worst = _worst(series, key + "/")
        if worst is None:
            continue
        s[f"{key}_final"] = _median(worst[-1])
        nan_inf = torch.where(torch.isnan(worst), math.inf, worst)
        s[f"{key}_max"] = _median(nan_inf.amax(0))
        if key == "drift":
            curve = nan_inf.median(dim=1).values
            s["drift_exponent"] = drift_exponent(curve)
    for name, v in series.items():
        if name.startswith("drift/"):
            s[f"{name}_final"] = _median(v[-1])
            s[f"{name}_max"] = _median(torch.nan_to_num(v, nan=math.inf).amax(0))
    if jac:
        # Signed: the median over the trajectories that stayed finite.
        s["log_volume_final"] = float(jac["log_volume"][-1].nanmedian())
        s["log_det_mean"] = float(jac["log_det"].nanmean())
    if "symplecticity" in jac:
        s["symplecticity_median"] = float(jac["symplecticity"].nanmedian())
        finite = jac["symplecticity"][torch.isfinite(jac["symplecticity"])]
        s["symplecticity_max"] = float(finite.max()) if finite.numel() else math.nan
    s["vpt_steps"] = _median(vpt.double())
    s["vpt_time"] = s["vpt_steps"] * dt
    s["diverged_fraction"] = float((div >= 0).double().mean())
    s["divergence_step"] = float(div[div >= 0].min()) if (div >= 0).any() else -1.0
    return s
