"""Checkpoints: tensors plus a JSON card, loadable without running any code.

A checkpoint is a ``torch.save`` file holding one dict with only strings,
integers and tensors: ``format`` (``"dynsys-learner"``), ``version``,
``meta`` (a JSON text: model config, parameter dtype, operator kind and
options, system name and parameters, training config and summary),
``state`` (the ``state_dict``, normaliser statistics included) and
``sha256`` (a checksum of ``meta`` and the tensors, checked on load when
present; files written before it was added load without the check). It is read
with ``torch.load(..., weights_only=True)``, which refuses anything that
would need unpickling code, and rebuilt from the card, so a loaded operator
computes exactly what the saved one did.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import torch
from torch import nn

from dynsys.trajectory import atomic_write
from learners._base import Operator
from learners.models import make_model
from learners.operators import OPERATORS

FORMAT = "dynsys-learner"
VERSION = 1
_DTYPES = {"torch.float32": torch.float32, "torch.float64": torch.float64}


def _card(obj: nn.Module) -> dict:
    """The JSON-able description that rebuilds ``obj``."""
    model = obj.model if isinstance(obj, Operator) else obj
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "arch" not in config:
        raise TypeError(
            "save needs an operator or a model from learners.make_model, "
            f"got {type(obj).__name__}"
        )
    card = {
        "model": config,
        "dtype": str(next(model.parameters()).dtype),
        "operator": None,
    }
    if isinstance(obj, Operator):
        card.update(
            operator={"kind": obj.kind, "options": obj.options()},
            system=obj.system,
            system_params=obj.system_params,
            training=obj.training_info,
        )
    return card


def save(obj: nn.Module, path: str | os.PathLike) -> Path:
    """Write an operator or a bare model to ``path`` atomically.

    The file is written next to ``path`` under a temporary name and renamed
    into place, so a reader never sees half a checkpoint.

    Args:
        obj: a :class:`~learners.OneStep`, :class:`~learners.NeuralODE` or a
            model from :func:`~learners.make_model`.
        path: destination (conventionally ``.pt``); overwritten if it exists.

    Returns:
        The path written.

    Raises:
        TypeError: ``obj`` is not something :func:`load` can rebuild.
    """
    path = Path(path)
    meta = json.dumps(_card(obj))
    state = {k: v.detach().clone() for k, v in obj.state_dict().items()}
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "meta": meta,
        "state": state,
        "sha256": _digest(meta, state),
    }
    atomic_write(path, lambda fh: torch.save(payload, fh))
    return path


def _digest(meta: str, state: dict) -> str:
    """SHA-256 of the card and every tensor's name, dtype, shape and bytes.

    torch's zip container has no check on tensor data, so a flipped bit in a
    weight would otherwise load silently.
    """
    h = hashlib.sha256(meta.encode())
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(state[name].shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _is_trajectory(path: Path) -> bool:
    """Whether ``path`` is a zip archive with the arrays of a trajectory file."""
    try:
        with zipfile.ZipFile(path) as zf:
            return {"states.npy", "card.npy"} <= set(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _read(path: Path) -> tuple[dict, dict]:
    """Load and check the payload; returns ``(card, state)``."""
    if path.is_dir():
        raise IsADirectoryError(
            f"checkpoint {str(path)!r} is a directory; give a .pt file"
        )
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for foreign/corrupt files
        if _is_trajectory(path):
            raise ValueError(
                f"{str(path)!r} is a dynsys trajectory (.npz), not a learner "
                "checkpoint (.pt)"
            ) from None
        raise ValueError(
            f"{str(path)!r} is not a readable dynsys learner checkpoint "
            "(truncated, corrupt, or not written by learners.save)"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a dynsys learner checkpoint "
            f"(no format tag {FORMAT!r})"
        )
    if payload.get("version") != VERSION:
        raise ValueError(
            f"{str(path)!r} has checkpoint version "
            f"{payload.get('version')!r}; this dynsys reads {VERSION}"
        )
    try:
        card = json.loads(payload["meta"])
        state = dict(payload["state"])
        digest = _digest(payload["meta"], state) if "sha256" in payload else None
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise ValueError(f"{str(path)!r} has a damaged card ({exc})") from None
    if digest is not None and digest != payload["sha256"]:
        raise ValueError(
            f"{str(path)!r} is corrupted: its tensors do not match the stored "
            "SHA-256 checksum"
        )
    return card, state


def load(path: str | os.PathLike) -> nn.Module:
    """Rebuild the operator (or model) saved at ``path``.

    Args:
        path: a file written by :func:`save`.

    Returns:
        The operator or model, in eval mode, with the saved parameters,
        normalisation, dt, system name and parameters and training info.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: ``path`` is a directory.
        ValueError: the file is corrupted, foreign, or does not fit its card.
    """
    path = Path(path)
    card, state = _read(path)
    try:
        obj = _rebuild(card)
        obj.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise ValueError(f"{str(path)!r} does not match its own card: {text}") from None
    return obj.eval()


def _rebuild(card: dict) -> nn.Module:
    config = dict(card["model"])
    model = make_model(config.pop("arch"), **config).to(_DTYPES[card["dtype"]])
    spec = card["operator"]
    if spec is None:
        return model
    op = OPERATORS[spec["kind"]](model, **spec["options"])
    op.system, op.system_params = card.get("system"), card.get("system_params") or {}
    op.training_info = card.get("training") or {}
    return op
