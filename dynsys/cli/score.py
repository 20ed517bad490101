"""``dynsys score --data PRED.npz --reference FILE.npz [--model MODEL.pt]``.

Prints the summary of :func:`evaluation.score` (one metric per line) for a
predicted trajectory against the ground truth; with ``--model`` the Jacobian
metrics (phase-space volume, symplecticity) are included; ``--json FILE``
also writes the summary as JSON.
"""

from __future__ import annotations

import argparse
import math

from dynsys.cli._common import CLIError, check_output_path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "score",
        help="score a predicted trajectory against the "
        "ground truth on structure metrics",
    )
    p.add_argument("--data", required=True, help="predicted trajectory (.npz)")
    p.add_argument("--reference", required=True, help="true trajectory (.npz)")
    p.add_argument(
        "--model",
        default=None,
        help="the operator that made the prediction, for volume and symplecticity",
    )
    p.add_argument(
        "--vpt-threshold",
        type=float,
        default=0.5,
        help="normalised error that ends the valid prediction time",
    )
    p.add_argument("--json", default=None, help="also write the summary here")
    p.add_argument("--force", action="store_true", help="overwrite --json")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dynsys import Trajectory
    from evaluation import score

    out = check_output_path(args.json, args.force, ".json") if args.json else None
    pred = Trajectory.load(args.data)
    ref = Trajectory.load(args.reference)
    if pred.system != ref.system or pred.params != ref.params:
        raise CLIError(
            f"{args.data!r} holds {pred.system} {pred.params}, but "
            f"{args.reference!r} holds {ref.system} {ref.params}"
        )
    op = None
    if args.model:
        import learners
        from dynsys.cli.rollout import check_model_system

        op = learners.load(args.model)
        check_model_system(op, ref, args.model, args.reference)
    scores = score(
        ref.make_system(), pred, ref, op=op, vpt_threshold=args.vpt_threshold
    )
    frames = min(pred.states.shape[0], ref.states.shape[0])
    print(
        f"scored {frames} common frames (t = {ref.times[0].item():g}.."
        f"{ref.times[frames - 1].item():g}) of {pred.states.shape[0]} predicted "
        f"and {ref.states.shape[0]} reference frames"
    )
    width = max(len(k) for k in scores.summary)
    for key, value in scores.summary.items():
        print(f"{key.ljust(width)}  {value:.6g}")
    if out is not None:
        from evaluation.grid import write_json

        summary = {
            k: (v if math.isfinite(v) else str(v)) for k, v in scores.summary.items()
        }
        write_json(
            out,
            {
                "data": args.data,
                "reference": args.reference,
                "frames": scores.frames,
                "summary": summary,
            },
        )
    return 0
