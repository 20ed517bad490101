"""Training: minibatch AdamW on one-step pairs or K-step unrolled windows.

The loss of a window ``(x_0, x_1, ..., x_K)`` is the mean squared error of
the operator's own K-step rollout from ``x_0``, in the normalised units of
``learners/_base.py`` and averaged over the K steps (multi-step or "unrolled"
training, e.g. Brandstetter, Worrall and Welling, "Message Passing Neural PDE
Solvers", ICLR 2022, sec. 2.3). ``unroll=1`` is plain one-step regression.
Optimiser: AdamW (Loshchilov and Hutter, "Decoupled Weight Decay
Regularization", ICLR 2019) with a cosine (their sec. 3 / SGDR), step or
constant learning-rate schedule.

Data are a trajectory (anything with ``states (frames, batch, d)``, ``times``,
``system``, ``params``, ``meta``, such as ``dynsys.Trajectory``) or a pair of
tensors ``(inputs (N, d_in), targets (N, d_out))``. An operator is trained on
its normalised loss; a bare model (``make_model``'s output) is fitted by
plain mean squared error on raw inputs and targets, with no normalisation, so
its weights describe the raw map.

Training runs in float32 unless ``dtype="float64"``; the data are cast to
that dtype, the normaliser statistics stay float64. The validation split is by
whole trajectories when there are at least two, otherwise by time (the last
frames). After training, the parameters of the epoch with the lowest
validation loss (training loss without a validation set) are restored.
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace

import torch
from torch import nn

from learners._base import Operator, TrainingError
from learners.operators import NeuralODE

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_SCHEDULES = ("cosine", "step", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (all JSON-able; stored in checkpoints).

    Attributes:
        epochs: passes over the training windows.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        batch_size: windows per minibatch.
        unroll: K, the number of steps of each training window.
        schedule: ``cosine`` (to 0 over ``epochs``), ``step`` (times
            ``gamma`` every ``step_every`` epochs) or ``constant``.
        step_every, gamma: the step schedule.
        val_fraction: share of trajectories (or of the pairs, or of the frames
            of a single trajectory) held out for validation; 0 for none.
        patience: stop after this many epochs without improvement; ``None``
            for never.
        min_delta: improvement smaller than this does not count.
        seed: seeds the split and the minibatch order.
        dtype: ``float32`` or ``float64``.
        grad_clip: clip the gradient norm to this value; ``None`` for no clip.
    """

    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    unroll: int = 1
    schedule: str = "cosine"
    step_every: int = 30
    gamma: float = 0.5
    val_fraction: float = 0.1
    patience: int | None = 20
    min_delta: float = 0.0
    seed: int = 0
    dtype: str = "float32"
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        self._coerce_numbers()
        for name in ("epochs", "batch_size", "unroll", "step_every"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 1, name, "an integer >= 1", value)
        _require(_finite(self.lr) and self.lr > 0, "lr", "a positive number", self.lr)
        # A NaN min_delta would make every epoch "no improvement" and silently
        # hand back the untrained parameters.
        ok = _finite(self.min_delta) and self.min_delta >= 0
        _require(ok, "min_delta", "a finite number >= 0", self.min_delta)
        ok = self.grad_clip is None or (_finite(self.grad_clip) and self.grad_clip > 0)
        _require(ok, "grad_clip", "a positive number or None", self.grad_clip)
        ok = _is_int(self.seed) and 0 <= self.seed < 2**63
        _require(ok, "seed", "an integer in [0, 2**63)", self.seed)
        ok = _finite(self.val_fraction) and 0 <= self.val_fraction < 1
        _require(ok, "val_fraction", "a number in [0, 1)", self.val_fraction)
        ok = self.schedule in _SCHEDULES
        _require(ok, "schedule", f"one of {list(_SCHEDULES)}", self.schedule)
        _require(self.dtype in _DTYPES, "dtype", f"one of {list(_DTYPES)}", self.dtype)
        ok = self.patience is None or (_is_int(self.patience) and self.patience >= 1)
        _require(ok, "patience", "an integer >= 1 or None", self.patience)
        ok = _finite(self.weight_decay) and self.weight_decay >= 0
        _require(ok, "weight_decay", "a finite number >= 0", self.weight_decay)
        ok = _finite(self.gamma) and 0 < self.gamma <= 1
        _require(ok, "gamma", "a number in (0, 1]", self.gamma)

    def _coerce_numbers(self) -> None:
        """numpy scalars (from a sweep grid, say) become Python numbers, so the
        checks below apply and the config stays JSON-serialisable."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue
            if isinstance(value, numbers.Integral):
                object.__setattr__(self, f.name, int(value))
            elif f.type in ("float", "float | None"):
                object.__setattr__(self, f.name, float(value))

    def to_dict(self) -> dict:
        """The settings as a plain dict."""
        return asdict(self)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    """A finite real number (int or float, not bool)."""
    real = isinstance(value, int | float) and not isinstance(value, bool)
    return real and math.isfinite(value)


def _require(ok: bool, name: str, what: str, value: object) -> None:
    if not ok:
        raise ValueError(f"{name} must be {what}, got {value!r}")


@dataclass
class TrainingHistory:
    """What happened during :func:`train` (losses in normalised units).

    Attributes:
        train_loss, val_loss: one value per epoch (``val_loss`` empty without
            a validation set).
        lr: the learning rate used in each epoch.
        best_epoch: 1-based epoch whose parameters were kept.
        best_loss: its monitored (validation, else training) loss.
        stopped_early: early stopping ended the run.
        wall_time: seconds spent.
        n_train, n_val: number of training and validation windows.
        config: the :class:`TrainConfig` as a dict.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    stopped_early: bool = False
    wall_time: float = 0.0
    n_train: int = 0
    n_val: int = 0
    config: dict = field(default_factory=dict)

    @property
    def epochs_run(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    def summary(self) -> dict:
        """Final and best losses, epochs and wall time as a JSON-able dict."""
        return {
            "final_train_loss": self.train_loss[-1] if self.train_loss else None,
            "final_val_loss": self.val_loss[-1] if self.val_loss else None,
            "best_epoch": self.best_epoch,
            "best_loss": self.best_loss,
            "epochs_run": self.epochs_run,
            "stopped_early": self.stopped_early,
            "wall_time": self.wall_time,
            "n_train": self.n_train,
            "n_val": self.n_val,
        }


@dataclass
class _Windows:
    """Training windows: start states ``x0 (N, d_in)``, targets ``ys (N, K, d_out)``."""

    x0: torch.Tensor
    ys: torch.Tensor

    def __len__(self) -> int:
        return self.x0.shape[0]

    def take(self, idx: torch.Tensor) -> _Windows:
        return _Windows(self.x0[idx], self.ys[idx])


def _is_trajectory(data) -> bool:
    return all(hasattr(data, a) for a in ("states", "times", "system", "params"))


def _as_tensor(name: str, value) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must hold floating-point numbers, got {tensor.dtype}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor.to(torch.float64)


def _windows_of(states: torch.Tensor, unroll: int) -> _Windows:
    """All windows of ``unroll + 1`` consecutive frames of ``states (F, B, d)``."""
    w = states.unfold(0, unroll + 1, 1)  # (F - K, B, d, K + 1)
    w = w.permute(0, 1, 3, 2).reshape(-1, unroll + 1, states.shape[-1])
    return _Windows(w[:, 0], w[:, 1:])


def _split_states(
    states: torch.Tensor, cfg: TrainConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Split ``(F, B, d)`` into training and validation states (module docstring)."""
    frames, batch = states.shape[:2]
    need = cfg.unroll + 1
    if frames < need:
        raise ValueError(
            f"the trajectory has {frames} frames; unroll={cfg.unroll} "
            f"needs at least {need}"
        )
    if cfg.val_fraction == 0:
        return states, None
    if batch >= 2:
        n_val = min(batch - 1, max(1, round(batch * cfg.val_fraction)))
        perm = torch.randperm(batch, generator=gen)
        return states[:, perm[n_val:]], states[:, perm[:n_val]]
    n_train = frames - max(need, round(frames * cfg.val_fraction))
    if n_train < need:
        raise ValueError(
            f"one trajectory of {frames} frames is too short to hold "
            f"out {cfg.val_fraction:.0%} for validation with "
            f"unroll={cfg.unroll}; pass val_fraction=0 or more frames"
        )
    return states[:n_train], states[n_train:]


def _frame_dt(traj) -> float | None:
    times = torch.as_tensor(traj.times, dtype=torch.float64).reshape(-1)
    if times.numel() >= 2:
        return float(times[1] - times[0])
    dt = (getattr(traj, "meta", None) or {}).get("dt")
    return None if dt is None else float(dt)


def _check_system(op: Operator, traj) -> None:
    """Refuse data of another system than the one ``op`` was trained on."""
    params = _jsonable(dict(traj.params or {}))
    if op.system is not None and (
        op.system != traj.system or _jsonable(op.system_params) != params
    ):
        raise ValueError(
            f"the data come from system {traj.system!r} with {params}, but the "
            f"operator was trained on {op.system!r} with {op.system_params}"
        )


def _bind_system(op: Operator, traj) -> None:
    """Record the training system and frame interval on ``op``."""
    dt = _frame_dt(traj)
    if (
        op.dt is not None
        and dt is not None
        and not math.isclose(op.dt, dt, rel_tol=1e-9)
    ):
        raise ValueError(
            f"the data have frame interval dt={dt}, but the operator has dt={op.dt}"
        )
    op.system, op.system_params = str(traj.system), dict(traj.params or {})
    op.dt = dt if op.dt is None else op.dt


def _jsonable(obj):
    """Lists for tuples, so that parameters compare equal after a JSON trip."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def _prepare_trajectory(target, traj, cfg: TrainConfig, gen: torch.Generator):
    if isinstance(target, Operator):
        _check_system(target, traj)
    states = _as_tensor("trajectory states", traj.states)
    if states.ndim != 3:
        raise ValueError(
            "trajectory states must have shape (frames, batch, d), "
            f"got {tuple(states.shape)}"
        )
    _check_dims(target, states.shape[-1], states.shape[-1])
    train_states, val_states = _split_states(states, cfg, gen)
    if isinstance(target, Operator):
        _bind_system(target, traj)
        if not bool(target.normalizer.fitted):
            target.normalizer.fit(
                train_states[:-1], train_states[1:] - train_states[:-1]
            )
    val = None if val_states is None else _windows_of(val_states, cfg.unroll)
    if val is not None and len(val) == 0:
        val = None
    return _windows_of(train_states, cfg.unroll), val


def _prepare_pairs(target, data, cfg: TrainConfig, gen: torch.Generator):
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise TypeError(
            "data must be a trajectory or a tuple (inputs, targets) of "
            f"tensors, got {type(data).__name__}"
        )
    x, y = _as_tensor("inputs", data[0]), _as_tensor("targets", data[1])
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            "inputs and targets must have shapes (N, d_in) and "
            f"(N, d_out), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if cfg.unroll != 1:
        raise ValueError("unroll > 1 needs trajectory data, not (inputs, targets)")
    _check_dims(target, x.shape[1], y.shape[1])
    n_val = round(x.shape[0] * cfg.val_fraction)
    if n_val and x.shape[0] - n_val < 1:
        raise ValueError(f"{x.shape[0]} pairs are too few to hold out a validation set")
    perm = torch.randperm(x.shape[0], generator=gen)
    train_idx, val_idx = perm[n_val:], perm[:n_val]
    if isinstance(target, Operator):
        if isinstance(target, NeuralODE) and target.dt is None:
            raise ValueError("a NeuralODE trained on (inputs, targets) needs dt=...")
        if not bool(target.normalizer.fitted):
            target.normalizer.fit(x[train_idx], y[train_idx] - x[train_idx])
    windows = _Windows(x, y[:, None])
    val = windows.take(val_idx) if n_val else None
    return windows.take(train_idx), val


def _check_dims(target, d_in: int, d_out: int) -> None:
    model = target.model if isinstance(target, Operator) else target
    config = getattr(model, "config", {})
    want = (config.get("d_in"), config.get("d_out"))
    if want != (d_in, d_out):
        raise ValueError(
            f"the data have input/output sizes ({d_in}, {d_out}), but "
            f"the model maps {want[0]} -> {want[1]}"
        )


def _window_loss(step: Callable, scale: torch.Tensor, batch: _Windows) -> torch.Tensor:
    """Mean over the K steps of the scaled squared error of a K-step rollout."""
    x, total = batch.x0, 0.0
    for k in range(batch.ys.shape[1]):
        x = step(x)
        total = total + ((x - batch.ys[:, k]) / scale).pow(2).mean()
    return total / batch.ys.shape[1]


def _schedule(opt: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, cfg.step_every, cfg.gamma)
    return torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)


class _NonFinite(Exception):
    pass


class _Fit:
    """One training run's state: the step function, data, optimiser, schedule."""

    def __init__(
        self, target: nn.Module, cfg: TrainConfig, train: _Windows, val: _Windows | None
    ) -> None:
        dtype = _DTYPES[cfg.dtype]
        self.model = target.model if isinstance(target, Operator) else target
        self.model.to(dtype)
        is_op = isinstance(target, Operator)
        self.step = target.step if is_op else self.model
        self.scale = (
            target.loss_scale.to(dtype) if is_op else torch.ones((), dtype=dtype)
        )
        device = next(self.model.parameters()).device
        self.train = _Windows(train.x0.to(device, dtype), train.ys.to(device, dtype))
        self.val = (
            None
            if val is None
            else _Windows(val.x0.to(device, dtype), val.ys.to(device, dtype))
        )
        self.cfg = cfg
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.sched = _schedule(self.opt, cfg)

    def epoch(self, gen: torch.Generator) -> float:
        """One pass over shuffled minibatches; returns the mean training loss."""
        self.model.train()
        perm = torch.randperm(len(self.train), generator=gen)
        total = 0.0
        for idx in perm.split(self.cfg.batch_size):
            loss = _window_loss(self.step, self.scale, self.train.take(idx))
            if not bool(torch.isfinite(loss)):
                raise _NonFinite(f"training loss became {loss.item()}")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
            self.opt.step()
            total += loss.item() * idx.numel()
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise _NonFinite("the parameters became NaN or infinite")
        self.sched.step()
        return total / len(self.train)

    @torch.no_grad()
    def evaluate(self, data: _Windows) -> float:
        """Mean loss over ``data`` without gradients."""
        self.model.eval()
        chunks = torch.arange(len(data)).split(4 * self.cfg.batch_size)
        total = sum(
            _window_loss(self.step, self.scale, data.take(i)).item() * i.numel()
            for i in chunks
        )
        loss = total / len(data)
        if not math.isfinite(loss):
            raise _NonFinite(f"validation loss became {loss}")
        return loss


def train(
    target: nn.Module,
    data: object,
    config: TrainConfig | None = None,
    *,
    progress: Callable[[int, float, float | None], None] | None = None,
    **overrides,
) -> TrainingHistory:
    """Fit an operator (or a bare model) to a trajectory or to ``(inputs, targets)``.

    Args:
        target: an :class:`~learners.OneStep` or :class:`~learners.NeuralODE`
            (trained in normalised units, system and dt recorded), or a model
            from :func:`~learners.make_model` (raw mean squared error).
        data: a trajectory (``states (frames, batch, d)``, ``times``,
            ``system``, ``params``, ``meta``) or ``(inputs (N, d_in),
            targets (N, d_out))``.
        config: a :class:`TrainConfig`; keywords in ``overrides`` replace its
            fields (``epochs=..., lr=..., seed=...``).
        progress: called after every epoch as ``progress(epoch, train_loss,
            val_loss)`` (``val_loss`` is ``None`` without a validation set).

    Returns:
        The :class:`TrainingHistory`. The target holds the best parameters.

    Raises:
        ValueError: bad settings, data of the wrong size or of another system
            than the operator was trained on, or non-finite data.
        TrainingError: the loss became NaN or infinite; the parameters of the
            last completed epoch are restored and ``error.history`` is set.
    """
    cfg = _resolve_config(config, overrides)
    gen = torch.Generator().manual_seed(cfg.seed)
    prepare = _prepare_trajectory if _is_trajectory(data) else _prepare_pairs
    train_set, val_set = prepare(target, data, cfg, gen)
    if len(train_set) == 0:
        raise ValueError("the data give no training windows")
    fit = _Fit(target, cfg, train_set, val_set)
    history = TrainingHistory(
        n_train=len(train_set),
        config=cfg.to_dict(),
        n_val=0 if val_set is None else len(val_set),
    )
    _run(fit, history, gen, progress)
    if isinstance(target, Operator):
        target.training_info = {"config": cfg.to_dict(), "summary": history.summary()}
    logger.info(
        "trained %d epochs in %.2f s; best epoch %d, loss %.3e",
        history.epochs_run,
        history.wall_time,
        history.best_epoch,
        history.best_loss,
    )
    return history


def _resolve_config(config: TrainConfig | None, overrides: dict) -> TrainConfig:
    unknown = sorted(set(overrides) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown training option(s) {unknown}; see TrainConfig")
    return replace(config or TrainConfig(), **overrides)


def _run(fit: _Fit, history: TrainingHistory, gen: torch.Generator, progress) -> None:
    """The epoch loop with early stopping; restores the best parameters."""
    start, bad = time.perf_counter(), 0
    last_good = best = copy.deepcopy(fit.model.state_dict())
    for epoch in range(1, fit.cfg.epochs + 1):
        history.lr.append(fit.opt.param_groups[0]["lr"])
        try:
            train_loss = fit.epoch(gen)
            val_loss = None if fit.val is None else fit.evaluate(fit.val)
        except _NonFinite as exc:
            fit.model.load_state_dict(last_good)
            history.wall_time = time.perf_counter() - start
            raise TrainingError(
                f"{exc} in epoch {epoch}; stopped and restored the parameters of "
                f"epoch {epoch - 1} (try a lower learning rate)",
                history,
            ) from None
        last_good = copy.deepcopy(fit.model.state_dict())
        history.train_loss.append(train_loss)
        if val_loss is not None:
            history.val_loss.append(val_loss)
        monitored = train_loss if val_loss is None else val_loss
        logger.debug("epoch %d: train %.4e, val %s", epoch, train_loss, val_loss)
        if progress is not None:
            progress(epoch, train_loss, val_loss)
        if monitored < history.best_loss - fit.cfg.min_delta:
            history.best_loss, history.best_epoch, bad = monitored, epoch, 0
            best = last_good
        else:
            bad += 1
        if fit.cfg.patience is not None and bad >= fit.cfg.patience:
            history.stopped_early = True
            break
    fit.model.load_state_dict(best)
    history.wall_time = time.perf_counter() - start
    fit.model.eval()
