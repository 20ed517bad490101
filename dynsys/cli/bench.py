"""``dynsys bench [--suite S] [--config FILE.toml] [--quick] [--jobs J] --out DIR``.

``--suite dynamics`` (the default) runs the grid of :mod:`evaluation.grid`
from the shipped suite file (``--config`` takes another TOML file).
``--suite structure`` and ``--suite unlearning`` are run by
``evaluation.structure_suite.run`` and ``evaluation.unlearning_suite.run``,
which share the signature ``run(out_dir, quick=..., jobs=..., config=...,
progress=..., seeds=None, force=False)``. The configuration and the output
directory are checked before any training starts.
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from dynsys.cli._common import CLIError, progress_bar

SUITES = ("dynamics", "structure", "unlearning")
#: Suites run by a module of their own: suite -> module.
EXTERNAL = {
    "structure": "evaluation.structure_suite",
    "unlearning": "evaluation.unlearning_suite",
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="train, roll out and score a grid of "
        "systems x architectures; write tables, report and plots",
    )
    p.add_argument(
        "--suite",
        choices=SUITES,
        default="dynamics",
        help="benchmark suite (default: dynamics)",
    )
    p.add_argument(
        "--config", default=None, help="suite TOML file instead of the built-in one"
    )
    p.add_argument(
        "--quick", action="store_true", help="the small smoke-test variant (minutes)"
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument(
        "--seeds", type=int, default=None, help="number of seeds (overrides the suite)"
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--force",
        action="store_true",
        help="recompute finished cells; write into a non-empty non-benchmark directory",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise CLIError(f"--jobs must be >= 1, got {args.jobs}")
    if args.seeds is not None and args.seeds < 1:
        raise CLIError(f"--seeds must be >= 1, got {args.seeds}")
    if args.config is not None and not Path(args.config).is_file():
        what = "is not a file" if Path(args.config).exists() else "does not exist"
        raise CLIError(f"--config {args.config!r} {what}")
    start = time.perf_counter()
    if args.suite in EXTERNAL:
        _run_external(args)
    else:
        _run_dynamics(args)
    print(
        f"dynsys bench: suite {args.suite} done in "
        f"{time.perf_counter() - start:.1f} s; results in {args.out}"
    )
    return 0


def _run_dynamics(args: argparse.Namespace) -> None:
    from evaluation.config import load_config
    from evaluation.grid import bench

    config = load_config(args.config or args.suite, quick=args.quick, seeds=args.seeds)
    with progress_bar(len(config.cells()), f"bench {config.name}", "cell") as bar:
        bench(config, args.out, jobs=args.jobs, progress=bar.update, force=args.force)


def _run_external(args: argparse.Namespace) -> None:
    name = EXTERNAL[args.suite]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise CLIError(
            f"suite {args.suite!r} needs the module {name}, which is "
            "not installed in this build"
        ) from None
    with progress_bar(0, f"bench {args.suite}", "cell") as bar:
        module.run(
            Path(args.out),
            quick=args.quick,
            jobs=args.jobs,
            config=args.config,
            progress=bar.update,
            seeds=args.seeds,
            force=args.force,
        )
