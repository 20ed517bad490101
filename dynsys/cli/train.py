"""``dynsys train``: fit a learned operator to a trajectory file and save it.

    dynsys train --data FILE.npz --arch ARCH --mode one-step|neural-ode \
        --out MODEL.pt [--hidden H] [--depth D] [--epochs E] [--lr LR] \
        [--batch-size B] [--unroll K] [--seed S] [--init MODEL.pt] [--force]

Nothing is written unless training finishes: a bad option, a foreign data
file, data of another system than ``--init``'s checkpoint, or a NaN loss
leave any existing ``--out`` untouched.
"""

from __future__ import annotations

import argparse
import math

from dynsys.cli._common import CLIError, check_output_path, progress_bar

MODES = ("one-step", "neural-ode")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand to the ``dynsys`` subparsers ``sub``."""
    p = sub.add_parser("train", help="train a learner on a trajectory file")
    p.add_argument("--data", required=True, help="trajectory file (.npz)")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.add_argument(
        "--init",
        metavar="MODEL.pt",
        help="continue training this checkpoint (same system)",
    )
    _model_options(p)
    _training_options(p)
    p.set_defaults(run=run)


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--arch", help="architecture (dynsys list learners); required unless --init"
    )
    p.add_argument("--mode", choices=MODES, help="one-step map (default) or ODE")
    p.add_argument("--hidden", type=int, help="hidden width (64)")
    p.add_argument("--depth", type=int, help="number of blocks (1)")
    p.add_argument(
        "--match-params",
        type=int,
        metavar="N",
        help="choose the hidden width for about N parameters (overrides --hidden)",
    )
    p.add_argument("--method", help="ODE method for neural-ode (rk4, dopri5, ...)")


def _training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=100, help="epochs (100)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (1e-3)")
    p.add_argument("--batch-size", type=int, default=256, help="minibatch (256)")
    p.add_argument("--unroll", type=int, default=1, help="steps per window (1)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share held out for validation (0.1)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=20,
        help="early-stopping patience in epochs, 0 for none (20)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of initialisation, split and batches (0)",
    )


def _build(args: argparse.Namespace, traj):
    """A fresh operator from the options, or the ``--init`` checkpoint."""
    import learners

    if args.init is not None:
        return _from_checkpoint(args)
    if args.arch is None:
        raise CLIError(
            "--arch is required unless --init is given; known: "
            + ", ".join(learners.available())
        )
    mode = args.mode or "one-step"
    if mode == "one-step" and args.method is not None:
        raise CLIError("--method applies only to --mode neural-ode")
    d = int(traj.states.shape[-1])
    model = learners.make_model(
        args.arch,
        d,
        d,
        hidden=64 if args.hidden is None else args.hidden,
        depth=1 if args.depth is None else args.depth,
        match_params=args.match_params,
        seed=args.seed,
    )
    if mode == "one-step":
        return learners.OneStep(model)
    return learners.NeuralODE(model, method=args.method or "rk4")


def _from_checkpoint(args: argparse.Namespace):
    """The ``--init`` operator; model options would be silently ignored, so
    they are refused."""
    import learners

    fixed = [
        f"--{name.replace('_', '-')}"
        for name in ("arch", "hidden", "depth", "match_params", "method")
        if getattr(args, name) is not None
    ]
    if fixed:
        raise CLIError(
            f"{', '.join(fixed)} cannot be combined with --init: the model "
            "comes from the checkpoint"
        )
    op = learners.load(args.init)
    if not isinstance(op, learners.Operator):
        raise CLIError(f"--init {args.init!r} holds a bare model, not an operator")
    if args.mode is not None and args.mode != op.kind:
        raise CLIError(f"--mode {args.mode} differs from --init's {op.kind}")
    return op


def _fit(op, traj, args: argparse.Namespace):
    import learners

    bar = progress_bar(args.epochs, "train", unit="epoch")

    def progress(epoch: int, train_loss: float, val_loss: float | None) -> None:
        bar.update(1)
        bar.set_postfix(
            train=f"{train_loss:.2e}",
            val="-" if val_loss is None else f"{val_loss:.2e}",
        )

    try:
        return learners.train(
            op,
            traj,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            unroll=args.unroll,
            val_fraction=args.val_fraction,
            patience=args.patience or None,
            seed=args.seed,
            progress=progress,
        )
    except learners.TrainingError as exc:
        raise CLIError(f"{exc}; nothing written") from None
    finally:
        bar.close()


def _fmt(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.3e}"


def run(args: argparse.Namespace) -> int:
    """Train and save; prints a one-line summary."""
    import dynsys
    import learners

    out = check_output_path(args.out, args.force, suffix=".pt")
    traj = dynsys.Trajectory.load(args.data)
    op = _build(args, traj)
    history = _fit(op, traj, args)
    learners.save(op, out)
    s = history.summary()
    print(
        f"trained {op.model.arch} ({op.kind}, "
        f"{learners.count_params(op.model)} parameters) on {op.system}: "
        f"train loss {_fmt(s['final_train_loss'])}, val loss "
        f"{_fmt(s['final_val_loss'])}, best epoch {s['best_epoch']}/"
        f"{s['epochs_run']}, {s['wall_time']:.1f} s -> {out}"
    )
    return 0
