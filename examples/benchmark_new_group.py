"""Add a Lie group, then benchmark learned dynamics on it.

Registers SO(4) with the definition from ``examples/add_a_lie_group.py`` (a
``MatrixLieGroup`` from an so(4) basis, checked by ``check_group``), builds
the ``group-flow`` system on it (``g' = g hat(xi)``, a left-invariant flow
whose spatial momentum ``Ad_g xi`` is conserved) and runs a small benchmark:
how far do learned one-step models leave the group, and how fast do the
conserved quantities drift? Runs in this process (``jobs=1``), since the
registration lives in this interpreter.

    python examples/benchmark_new_group.py [--arch bilinear relu] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from add_a_lie_group import SO4  # noqa: E402
from benchmark_invariants import invariant_table, make_config  # noqa: E402

import learners  # noqa: E402
from dynsys.groups import get_group, register_group  # noqa: E402
from dynsys.testing import check_group  # noqa: E402
from evaluation import SystemSpec, bench  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch",
        nargs="+",
        default=["bilinear", "swiglu", "relu"],
        choices=learners.available(),
    )
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    register_group("so4", SO4, replace=True)
    check_group(get_group("so4"))  # the group axioms, before any benchmark
    spec = SystemSpec(key="so4-flow", name="group-flow", params={"group": "so4"})
    config = make_config([spec], args.arch, 1 if args.quick else args.seeds, args.quick)
    out = args.out or tempfile.mkdtemp(prefix="dynsys-so4-")
    rows = bench(config, out, jobs=1, plots=not args.quick)
    print(invariant_table(rows))
    for row in rows:
        print(
            f"{row['arch']:>10} seed {row['seed']}: group residual "
            f"{row['group_residual_final']}, geodesic error "
            f"{row['geodesic_error_final']}"
        )
    print(f"report: {out}/report.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
