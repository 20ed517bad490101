"""Trajectories of ground-truth systems: ``simulate`` and the ``.npz`` file format.

A file is a NumPy ``.npz`` archive with three arrays and no pickled objects
(it loads with ``allow_pickle=False``):

* ``states`` ``(frames, batch, state_dim)`` float64,
* ``times`` ``(frames,)`` float64,
* ``card`` ``(nbytes,)`` uint8: UTF-8 JSON with ``format`` (``"dynsys-trajectory"``),
  ``format_version``, ``system``, ``params`` and ``meta`` (integrator, dt,
  steps, save_every, seed, invariants at t0, package version, creation time).

Writes go to a temporary file in the target directory and are renamed into
place (``os.replace``), so an interrupted write leaves no partial file.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynsys.systems import System, available_systems, get_system

Tensor = torch.Tensor

FORMAT = "dynsys-trajectory"
FORMAT_VERSION = 1
_ARRAYS = ("states", "times", "card")


class Trajectory:
    """States of a batch of trajectories of one system, with their provenance.

    Attributes:
        states: ``(frames, batch, state_dim)`` float64.
        times: ``(frames,)`` float64.
        system: the system's registry name.
        params: the system's parameters (JSON-serialisable).
        meta: integrator, dt, steps, save_every, seed, invariants at t0,
            version, created (ISO 8601, UTC), and any extra entries.
    """

    def __init__(
        self,
        states: Tensor,
        times: Tensor,
        system: str,
        params: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        states = torch.as_tensor(states)
        times = torch.as_tensor(times)
        if states.ndim != 3:
            raise ValueError(
                "states must have shape (frames, batch, state_dim), "
                f"got {tuple(states.shape)}"
            )
        if times.shape != states.shape[:1]:
            raise ValueError(
                f"times must have shape ({states.shape[0]},) to match "
                f"states, got {tuple(times.shape)}"
            )
        if not isinstance(system, str) or not system:
            raise ValueError(f"system must be a registry name, got {system!r}")
        for name, value in (("states", states), ("times", times)):
            if not value.is_floating_point():  # also rejects complex and ints
                raise TypeError(
                    f"{name} must be real floating point, got {value.dtype}"
                )
        self.states = states
        self.times = times
        self.system = system
        self.params = dict(params or {})
        self.meta = dict(meta or {})
        json.dumps([self.params, self.meta])  # fail early if not serialisable

    @property
    def frames(self) -> int:
        """Number of saved frames (including the initial state)."""
        return int(self.states.shape[0])

    @property
    def batch(self) -> int:
        """Number of trajectories."""
        return int(self.states.shape[1])

    @property
    def state_dim(self) -> int:
        """Length of a state vector."""
        return int(self.states.shape[2])

    def make_system(self) -> System:
        """Rebuild the System (name and parameters) that produced this run."""
        return get_system(self.system, **self.params)

    def invariant_drift(self, eps: float = 1e-12) -> dict[str, Tensor]:
        """Relative drift ``|I(x_t) - I(x_0)| / max(|I(x_0)|, eps)`` per invariant.

        Returns:
            ``{name: (frames, batch)}``.
        """
        inv = self.make_system().invariants(self.states)
        return {
            k: (v - v[:1]).abs() / v[:1].abs().clamp_min(eps) for k, v in inv.items()
        }

    def constraint_residuals(self) -> dict[str, Tensor]:
        """The system's constraint residuals, ``{name: (frames, batch)}``."""
        return self.make_system().constraints(self.states)

    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write the trajectory to ``path`` (``.npz``) atomically.

        Args:
            path: destination file.
            force: overwrite an existing file.

        Returns:
            The path written.

        Raises:
            FileExistsError: ``path`` exists and ``force`` is false.
        """
        out = Path(path)
        if out.exists() and not force:
            raise FileExistsError(
                f"{str(out)!r} exists; pass force=True to overwrite it"
            )
        card = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "system": self.system,
            "params": self.params,
            "meta": self.meta,
        }
        arrays = {
            "states": self.states.detach().cpu().numpy(),
            "times": self.times.detach().cpu().numpy(),
            "card": np.frombuffer(json.dumps(card).encode(), dtype=np.uint8),
        }
        atomic_write(out, lambda fh: np.savez(fh, **arrays))
        return out

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trajectory:
        """Read a trajectory written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            IsADirectoryError: ``path`` is a directory.
            ValueError: the file is truncated, not a dynsys trajectory, or was
                written by a newer format version.
        """
        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(
                f"trajectory path {str(path)!r} is a directory, not a .npz file"
            )
        if not path.is_file():
            raise FileNotFoundError(f"trajectory file {str(path)!r} does not exist")
        arrays = _read_arrays(path)
        card = _parse_card(path, arrays["card"])
        states, times = arrays["states"], arrays["times"]
        if states.ndim != 3 or times.shape != states.shape[:1]:
            raise ValueError(
                f"{str(path)!r}: states {states.shape} and times "
                f"{times.shape} do not fit together"
            )
        try:
            traj = cls(
                torch.from_numpy(states),
                torch.from_numpy(times),
                card["system"],
                card["params"],
                card["meta"],
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{str(path)!r}: {exc}") from None
        _check_card_system(path, traj)
        return traj

    def __repr__(self) -> str:
        return (
            f"Trajectory(system={self.system!r}, frames={self.frames}, "
            f"batch={self.batch}, state_dim={self.state_dim})"
        )


def atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it.

    The temporary file is removed if ``write`` fails, so ``path`` is either
    untouched or complete.
    """
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.",
        suffix=".tmp",
        dir=path.parent if str(path.parent) else ".",
    )
    try:
        # mkstemp creates the file 0600; give it the mode open() would (0666
        # less the umask) so that outputs are as readable as any other file.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The ``states``, ``times`` and ``card`` arrays, with one-line errors."""
    try:
        # Open the file ourselves: np.load leaks its handle when the zip is bad.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            missing = [k for k in _ARRAYS if k not in data.files]
            if missing:
                raise ValueError(
                    f"{str(path)!r} is not a dynsys trajectory file "
                    f"(no {missing[0]!r} array)"
                )
            return {k: data[k] for k in _ARRAYS}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable .npz trajectory file "
            f"(truncated or corrupt: {exc})"
        ) from None
    except ValueError as exc:
        if "dynsys trajectory" in str(exc):
            raise
        # numpy's own message here (pickled data, a bad header) advises loading
        # the file unsafely; a trajectory never holds pickles, so do not echo it.
        raise ValueError(
            f"{str(path)!r} is not a dynsys trajectory file "
            "(not a .npz archive of plain numeric arrays)"
        ) from None


def _check_card_system(path: Path, traj: Trajectory) -> None:
    """A card naming a registered system must carry valid parameters and
    states of that system's dimension; unregistered names load as they are.

    Raises:
        ValueError: invalid parameters or a state dimension that does not fit.
    """
    if traj.system not in available_systems():
        return
    try:
        system = traj.make_system()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{str(path)!r}: card parameters are invalid: {exc}") from None
    if system.state_dim != traj.state_dim:
        raise ValueError(
            f"{str(path)!r}: states have dimension {traj.state_dim} but "
            f"{traj.system} has state_dim {system.state_dim}"
        )


def _parse_card(path: Path, raw: np.ndarray) -> dict[str, Any]:
    """Decode and check the JSON card."""
    try:
        card = json.loads(raw.astype(np.uint8).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise ValueError(f"{str(path)!r}: the card is not valid JSON") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a dynsys trajectory file")
    version = card.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{str(path)!r}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} has format version {version}, newer than "
            f"this dynsys reads ({FORMAT_VERSION}); upgrade dynsys"
        )
    for key, kind in (("system", str), ("params", dict), ("meta", dict)):
        if not isinstance(card.get(key), kind):
            raise ValueError(
                f"{str(path)!r}: card entry {key!r} is missing or malformed"
            )
    return card


def simulate(
    system: System,
    x0: Tensor,
    steps: int,
    dt: float | None = None,
    integrator: str | None = None,
    save_every: int = 1,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """Integrate ``system`` from ``x0`` and return the saved frames.

    Args:
        system: a System (see :func:`dynsys.get_system`).
        x0: initial states ``(batch, state_dim)`` or ``(state_dim,)``; any real
            floating dtype, computed in float64.
        steps: number of steps, >= 1.
        dt: step size > 0; default ``system.dt``. Discrete maps take 1.
        integrator: a registered method name; default ``system.default_integrator``.
        save_every: keep every ``save_every``-th step (the last frame is step
            ``steps`` when it divides ``steps``).
        seed: recorded in ``meta`` (the seed that drew ``x0``, if any).
        progress: called with the number of steps done, for progress bars.

    Returns:
        A Trajectory with ``states (frames, batch, state_dim)``.

    Raises:
        ValueError: bad ``steps``, ``dt``, ``save_every`` or ``x0`` shape, or an
            integrator that cannot serve the system.
        TypeError: ``x0`` is not real floating point.
    """
    import integrators
    from dynsys import __version__

    if not isinstance(system, System):
        raise TypeError(f"system must be a dynsys System, got {type(system).__name__}")
    x0 = _check_x0(system, x0)
    steps = _check_int("steps", steps, 1)
    save_every = _check_int("save_every", save_every, 1)
    dt = _check_dt(system, dt)
    method = integrator if integrator is not None else system.default_integrator
    start = time.perf_counter()
    times, states = integrators.integrate(
        system, x0, dt, steps, method=method, save_every=save_every, progress=progress
    )
    wall = time.perf_counter() - start
    inv0 = {k: v.tolist() for k, v in system.invariants(x0).items()}
    meta = {
        "integrator": method,
        "dt": dt,
        "steps": steps,
        "save_every": save_every,
        "seed": seed,
        "invariants_t0": inv0,
        "version": __version__,
        "wall_time_s": wall,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    return Trajectory(
        states.detach(),
        times.detach().to(torch.float64),
        system.name,
        system.params,
        meta,
    )


def _check_x0(system: System, x0: Any) -> Tensor:
    """``x0`` as ``(batch, state_dim)`` float64, with one-line errors.

    Raises:
        TypeError: not a real floating-point tensor (or numpy array).
        ValueError: wrong shape, or a NaN/inf entry (a start, unlike a
            diverged rollout, must be finite).
    """
    if isinstance(x0, np.ndarray):
        x0 = torch.from_numpy(x0)
    if not isinstance(x0, Tensor):
        raise TypeError(f"x0 must be a torch.Tensor, got {type(x0).__name__}")
    if not x0.is_floating_point():
        raise TypeError(f"x0 must be a real floating-point tensor, got {x0.dtype}")
    if x0.ndim == 1:
        x0 = x0[None]
    if x0.ndim != 2 or x0.shape[-1] != system.state_dim:
        raise ValueError(
            f"x0 must have shape (batch, {system.state_dim}) for "
            f"{system.name}, got {tuple(x0.shape)}"
        )
    finite = torch.isfinite(x0).all(dim=-1)
    if not bool(finite.all()):
        bad = int(torch.nonzero(~finite)[0, 0])
        raise ValueError(f"x0 must hold finite numbers; state {bad} has NaN or inf")
    return x0.to(torch.float64)


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _check_dt(system: System, dt: Any) -> float:
    if dt is None:
        return float(system.dt)
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a positive real number, got {dt!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
    if system.is_discrete and value != system.dt:
        raise ValueError(
            f"{system.name} is a discrete map; dt must be "
            f"{system.dt:g} (one map step), got {dt!r}"
        )
    return value
