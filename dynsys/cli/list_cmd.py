"""``dynsys list [groups|systems|integrators|learners]``."""

from __future__ import annotations

import argparse

from dynsys.cli._common import CLIError

KINDS = ("groups", "systems", "integrators", "learners")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "list", help="list registered groups, systems, integrators and learners"
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=KINDS,
        default=None,
        help="what to list (default: everything)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    blocks = [_ROWS[kind]() for kind in kinds]
    print("\n\n".join(blocks))
    return 0


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _groups() -> str:
    from dynsys import groups

    rows = []
    for name in groups.available_groups():
        G = groups.get_group(name)
        rows.append([name, G.name, str(G.dim), f"{G.matrix_size}x{G.matrix_size}"])
    return "groups\n" + _table(["name", "group", "algebra dim", "matrix"], rows)


def _systems() -> str:
    import dynsys

    rows = []
    for name in dynsys.available_systems():
        system = dynsys.get_system(name)
        x = system.sample(1, seed=0)
        inv = ", ".join(system.invariants(x)) or "-"
        params = ", ".join(f"{k}={v}" for k, v in system.params.items()) or "-"
        rows.append([name, str(system.state_dim), params, inv])
    return "systems\n" + _table(["name", "state dim", "parameters", "invariants"], rows)


def _integrators() -> str:
    import integrators

    rows = []
    for name in integrators.available():
        m = integrators.get(name)
        rows.append([name, m.kind, str(m.order), getattr(m, "requires", "-")])
    return "integrators\n" + _table(["name", "kind", "order", "needs"], rows)


def _learners() -> str:
    import learners

    rows = [[name] for name in learners.available()]
    if not rows:
        raise CLIError("no learners are registered")
    return "learners\n" + _table(["architecture"], rows)


_ROWS = {
    "groups": _groups,
    "systems": _systems,
    "integrators": _integrators,
    "learners": _learners,
}
