"""Machinery shared by the benchmark runners (``grid``, ``structure_suite``,
``unlearning_suite``): atomic file writes, output-directory checks, the local
process pool, and row grouping.

Every output file is written to a temporary name in its own directory and
then renamed over the target (``os.replace``, atomic on POSIX), so an
interrupted run never leaves a half-written file behind. Work units run in a
``spawn`` process pool whose workers use one torch thread and ignore Ctrl-C:
the parent stops handing out work and waits for the running units, so every
unit that finished keeps its file.
"""

from __future__ import annotations

import json
import os
import signal
import tomllib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, torch.Tensor):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON atomically (tensors become lists)."""
    write_text(path, json.dumps(data, indent=1, default=_json_default))


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, layout=None, **kw):
    """``(fig, axes)`` like ``pyplot.subplots``, on a figure outside pyplot.

    The figure is a plain ``matplotlib.figure.Figure``: the library never
    selects a backend or touches pyplot's figure list (a user's interactive
    session keeps its own), and nothing needs closing. Keyword arguments go to
    ``Figure.subplots`` (``squeeze``, ``sharex``, ``sharey``, ...).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **kw)


def colour(i: int):
    """The ``i``-th colour of the ``tab10`` cycle (wrapping), as RGBA."""
    import matplotlib

    return matplotlib.colormaps["tab10"](i % 10)


def save_figure(fig, path: Path) -> Path:
    """Save a figure from :func:`subplots` atomically as PNG; returns ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def check_jobs(jobs) -> int:
    """``jobs`` if it is an integer >= 1.

    Raises:
        ValueError: anything else (booleans included).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    return jobs


def existing_parent(path: Path) -> Path:
    """The nearest existing ancestor of ``path`` (``path`` itself if it exists).

    Raises:
        FileExistsError: that ancestor is a file.
    """
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    if not path.is_dir():
        raise FileExistsError(f"{str(path)!r} is not a directory")
    return path


def prepare_out_dir(
    out: str | os.PathLike,
    force: bool,
    reusable: bool = False,
    subdirs: Iterable[str] = (),
    make_parents: bool = False,
) -> Path:
    """Check an output directory before any work starts, then create it.

    Args:
        out: the directory.
        force: allow a non-empty directory.
        reusable: the directory holds output of this runner (resumed), so a
            non-empty one is allowed too.
        subdirs: subdirectories to create inside it.
        make_parents: create missing parents; otherwise the parent must exist.

    Returns:
        ``out`` as a :class:`Path`.

    Raises:
        FileExistsError: ``out`` is a file, or a non-empty directory while
            neither ``force`` nor ``reusable``.
        FileNotFoundError: the parent is missing and ``make_parents`` is false.
        PermissionError: the directory that would be written is not writable.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"output {str(out)!r} exists and is not a directory")
    if not make_parents and not out.exists() and not out.parent.is_dir():
        raise FileNotFoundError(f"directory {str(out.parent)!r} does not exist")
    parent = out if out.exists() else existing_parent(out)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"directory {str(parent)!r} is not writable")
    if out.is_dir() and any(out.iterdir()) and not (force or reusable):
        raise FileExistsError(
            f"output directory {str(out)!r} is not empty; pass --force to overwrite it"
        )
    out.mkdir(parents=True, exist_ok=True)
    for sub in subdirs:
        (out / sub).mkdir(exist_ok=True)
    return out


def prepare_resumable(
    out: Path,
    marker: str,
    settings: dict[str, Any],
    force: bool,
    subdirs: Iterable[str],
) -> Path:
    """Create (or reopen, to resume) an output directory tagged with its settings.

    A directory holding ``marker`` written with the same settings is reused
    (its finished work files are kept); one written with other settings is
    refused, so results of two configurations never mix.

    Raises:
        ValueError: ``out`` holds a run with other settings (without ``force``).
        FileExistsError, FileNotFoundError, PermissionError: as
            :func:`prepare_out_dir`.
    """
    tag = out / marker
    resuming = tag.is_file() and not force
    if resuming and json.loads(tag.read_text()) != json.loads(json.dumps(settings)):
        suite = Path(marker).stem
        raise ValueError(
            f"{str(out)!r} holds a run of the {suite} suite with other settings; "
            "use another directory or --force"
        )
    prepare_out_dir(out, force, reusable=resuming, subdirs=subdirs)
    write_text(tag, json.dumps(settings, indent=1))
    return out


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """A TOML file as a dict.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: it is not valid UTF-8 TOML (the message names the file).
    """
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"config {str(path)!r} is not valid TOML: {err}") from None


def merge_settings(
    suite: str,
    defaults: dict[str, Any],
    quick: dict[str, Any] | None,
    config: str | os.PathLike | dict | None,
    seeds: int | None,
) -> dict[str, Any]:
    """A suite's settings: ``defaults``, then ``quick``, then ``config``, ``seeds``.

    Args:
        suite: the suite's name; a TOML file may hold its keys at top level or
            under a ``[<suite>]`` table.
        defaults: every allowed key with its default.
        quick: changes of the quick variant, or ``None``.
        config: a TOML path or a dict of keys of ``defaults``, or ``None``.
        seeds: number of seeds overriding everything else, or ``None``.

    Returns:
        A new dict (values are not validated here).

    Raises:
        ValueError: a key not in ``defaults``, or a file that is not TOML.
        FileNotFoundError: ``config`` names a missing file.
    """
    out = {**defaults, **(quick or {})}
    if config is not None:
        if not isinstance(config, dict):
            config = load_toml(config)
            config = config.get(suite, config)
        unknown = sorted(set(config) - set(defaults))
        if unknown:
            raise ValueError(
                f"unknown {suite} setting(s) {unknown}; allowed: {', '.join(defaults)}"
            )
        out.update(config)
    if seeds is not None:
        out["seeds"] = seeds
    return out


def check_int_settings(s: dict[str, Any], keys: Iterable[str], minimum: int = 1):
    """Raise ``ValueError`` unless every ``s[key]`` is an int ``>= minimum``."""
    for key in keys:
        v = s[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ValueError(
                f"setting {key} must be an integer >= {minimum}, got {v!r}"
            )


def check_positive_settings(s: dict[str, Any], keys: Iterable[str]) -> None:
    """Raise ``ValueError`` unless every ``s[key]`` is a positive number."""
    for key in keys:
        v = s[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
            raise ValueError(f"setting {key} must be a positive number, got {v!r}")


def check_name_setting(s: dict[str, Any], key: str, known: Iterable[str]) -> None:
    """Raise ``ValueError`` unless ``s[key]`` is a non-empty list of ``known``."""
    known = list(known)
    names = s[key]
    if not isinstance(names, list) or not names or any(n not in known for n in names):
        raise ValueError(
            f"setting {key} must be a non-empty list of names "
            f"from {', '.join(known)}; got {names!r}"
        )


def _init_worker() -> None:
    """Worker set-up: one torch thread; Ctrl-C is handled by the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def run_parallel(
    fn: Callable[..., Any], tasks: list[tuple], jobs: int
) -> Iterator[tuple[tuple, Any]]:
    """Yield ``(args, fn(*args))`` for every tuple in ``tasks`` as each finishes.

    With ``jobs == 1`` (or one task) the calls run here, in order; otherwise on
    a ``spawn`` pool of ``jobs`` workers, in order of completion. ``fn`` must
    be importable by name (a module-level function). On an exception or
    Ctrl-C the queued tasks are dropped and the running ones finish.

    Limitation: spawned workers know only what importing the packages
    registers; groups or systems registered at run time in this process are
    unknown to them, so run such work with ``jobs=1``.
    """
    if jobs == 1 or len(tasks) <= 1:
        for args in tasks:
            yield args, fn(*args)
        return
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_worker
    )
    try:
        futures = {pool.submit(fn, *args): args for args in tasks}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def one_torch_thread():
    """Run the block with one torch intra-op thread, then restore the setting.

    Small models gain nothing from intra-op threads on a shared machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def group_rows(rows: list[dict], *keys: str) -> dict[tuple, list[dict]]:
    """Rows grouped by the tuple of their ``keys`` values, in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return groups
