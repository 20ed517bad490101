"""Shared helpers for the CLI: user errors, safe output paths, progress bars."""

from __future__ import annotations

import os
import sys
from pathlib import Path


class CLIError(Exception):
    """An error the user caused; printed as one line, exit status 2."""


#: Exceptions that the CLI reports as one-line user errors.
UserError = (
    CLIError,
    ValueError,
    FileNotFoundError,
    FileExistsError,
    KeyError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


def check_output_path(
    path: str | os.PathLike, force: bool, suffix: str | None = None
) -> Path:
    """Check that ``path`` may be written, before any work starts.

    Raises:
        CLIError: the file exists and ``force`` is false, the suffix is wrong,
            or the parent directory does not exist or is not writable.
    """
    out = Path(path)
    if out.is_dir():
        raise CLIError(f"output {str(out)!r} is a directory; give a file name")
    if suffix is not None and out.suffix != suffix:
        raise CLIError(f"output file {str(out)!r} must end in {suffix}")
    if out.exists() and not force:
        raise CLIError(f"output {str(out)!r} exists; pass --force to overwrite it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise CLIError(f"directory {str(parent)!r} for the output does not exist")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"directory {str(parent)!r} is not writable")
    return out


def progress_bar(total: int, desc: str, unit: str = "step"):
    """A tqdm bar on stderr, hidden when stderr is not a terminal and CI is set."""
    from tqdm.auto import tqdm

    disable = bool(os.environ.get("DYNSYS_NO_PROGRESS"))
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=disable,
        dynamic_ncols=True,
        leave=False,
    )


def parse_params(items: list[str] | None) -> dict:
    """Parse ``--param K=V`` items; values are read as JSON, else kept as text.

    ``inertia=1,2,3`` gives a tuple of floats.
    """
    import json

    params: dict = {}
    for item in items or []:
        if "=" not in item:
            raise CLIError(f"--param {item!r} must have the form KEY=VALUE")
        key, raw = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if not key:
            raise CLIError(f"--param {item!r} has an empty key")
        if key in params:
            raise CLIError(f"--param {key} is given twice; give each parameter once")
        if "," in raw and not raw.strip().startswith("["):
            try:
                params[key] = tuple(float(v) for v in raw.split(","))
                continue
            except ValueError as exc:
                raise CLIError(
                    f"--param {key}: {raw!r} is not a list of numbers"
                ) from exc
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params
