"""``dynsys rollout --model MODEL.pt --data FILE.npz --steps N --out FILE.npz``.

Rolls a trained operator out from the first frame of a trajectory file and
writes the prediction as a trajectory file whose ``meta`` marks it as a
prediction (``"prediction": true``, the model file, architecture, mode and the
per-trajectory divergence steps).
"""

from __future__ import annotations

import argparse
import json

from dynsys.cli._common import CLIError, check_output_path, progress_bar


def add_parser(sub) -> None:
    p = sub.add_parser(
        "rollout",
        help="roll a trained model out from the initial states of a trajectory file",
    )
    p.add_argument("--model", required=True, help="trained operator (.pt)")
    p.add_argument(
        "--data",
        required=True,
        help="trajectory file (.npz); its first frame gives the initial states",
    )
    p.add_argument("--steps", required=True, type=int, help="rollout steps")
    p.add_argument("--out", required=True, help="output trajectory file (.npz)")
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None,
        help="rollout precision (default: the model's)",
    )
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(run=run)


def _canonical(params) -> str:
    """System parameters as comparable text (tuples and lists alike)."""
    return json.dumps(params or {}, sort_keys=True, default=str)


def check_model_system(op, data, model_path: str, data_path: str) -> None:
    """Fail unless ``op`` was trained on the system (and parameters) of ``data``.

    A checkpoint that does not record its system is accepted.

    Raises:
        CLIError: the system names or parameters differ.
    """
    trained_on = getattr(op, "system", None)
    if not trained_on:
        return
    params = getattr(op, "system_params", None)
    same_params = params is None or _canonical(params) == _canonical(data.params)
    if trained_on != data.system or not same_params:
        raise CLIError(
            f"model {model_path!r} was trained on {trained_on} {params or ''}, "
            f"but {data_path!r} holds {data.system} {data.params}".replace("  ", " ")
        )


def run(args: argparse.Namespace) -> int:
    import torch

    import learners
    from dynsys import Trajectory
    from evaluation import divergence_step, rollout

    if args.steps < 1:
        raise CLIError(f"--steps must be >= 1, got {args.steps}")
    out = check_output_path(args.out, args.force, suffix=".npz")
    op = learners.load(args.model)
    data = Trajectory.load(args.data)
    check_model_system(op, data, args.model, args.data)
    dtype = getattr(torch, args.dtype) if args.dtype else None
    with progress_bar(args.steps, "rollout") as bar:
        pred = rollout(op, data.states[0], args.steps, dtype=dtype, progress=bar.update)
    dt = float(getattr(op, "dt", None) or data.meta.get("dt") or 1.0)
    times = data.times[0] + dt * torch.arange(args.steps + 1, dtype=torch.float64)
    meta = {
        "prediction": True,
        "model": str(args.model),
        "source": str(args.data),
        "arch": getattr(op.model, "arch", None),
        "mode": getattr(op, "kind", None),
        "dt": dt,
        "steps": args.steps,
        "dtype": str(pred.dtype).split(".")[-1],
        "divergence_step": divergence_step(pred).tolist(),
    }
    states = pred.to(torch.float64)
    states[0] = data.states[0]  # the exact start, not its float32 rounding
    traj = Trajectory(states, times, data.system, data.params, meta)
    traj.save(out, force=args.force)
    diverged = int((divergence_step(pred) >= 0).sum())
    print(
        f"rolled out {pred.shape[1]} trajectories for {args.steps} steps "
        f"(t = {times[0].item():g}..{times[-1].item():g}); "
        f"{diverged} diverged; wrote {out}"
    )
    return 0
