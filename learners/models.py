"""Models: residual stacks of blocks, the architecture registry, size matching.

A model of depth ``D`` is ``D`` blocks of one family. The residual stream is
the input itself (width ``d_in``): blocks ``1 .. D-1`` map ``d_in -> d_in``
and are added to the stream (``h <- h + block(h)``, He et al., "Deep Residual
Learning for Image Recognition", 2016, eq. 1); the last block maps
``d_in -> d_out`` and is not added. Depth 1 is therefore exactly one block,
e.g. the pure bilinear form ``P((W x + b) * (V x + c))`` with no extra input
or output maps, which keeps ``W, V, P`` readable for structure analysis.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from contextlib import nullcontext

import torch
from torch import nn

from learners._base import Block
from learners.bilinear import BilinearBlock
from learners.gated import GatedBlock
from learners.pointwise import MLPBlock

#: Architecture name -> (block class, default block keywords).
_ARCHS: dict[str, tuple[type[Block], dict]] = {
    "bilinear": (BilinearBlock, {"bias": True}),
    "bilinear-nobias": (BilinearBlock, {"bias": False}),
    "swiglu": (GatedBlock, {"act": "silu", "bias": True}),
    "geglu": (GatedBlock, {"act": "gelu", "bias": True}),
    "reglu": (GatedBlock, {"act": "relu", "bias": True}),
    "relu": (MLPBlock, {"act": "relu", "bias": True}),
    "tanh": (MLPBlock, {"act": "tanh", "bias": True}),
    "sigmoid": (MLPBlock, {"act": "sigmoid", "bias": True}),
    "gelu": (MLPBlock, {"act": "gelu", "bias": True}),
}

#: Block keywords a caller may override through ``make_model(**kw)``.
_USER_KW = ("bias",)


def available() -> list[str]:
    """Names of the registered architectures, in registration order."""
    return list(_ARCHS)


def register_architecture(name: str, block: type[Block], **defaults) -> None:
    """Register a block family under ``name`` (``defaults`` go to the block).

    Raises:
        ValueError: ``name`` is taken or ``block`` is not a :class:`Block`.
    """
    if name in _ARCHS:
        raise ValueError(f"architecture {name!r} is already registered")
    if not (isinstance(block, type) and issubclass(block, Block)):
        raise ValueError(f"block must be a learners Block subclass, got {block!r}")
    _ARCHS[name] = (block, dict(defaults))


class ResidualStack(nn.Module):
    """``depth`` blocks on a residual stream of width ``d_in`` (module docstring).

    Attributes:
        arch: architecture name; config: keywords that rebuild the model via
            :func:`make_model`; blocks: the ``ModuleList`` of blocks.
    """

    def __init__(
        self, arch: str, d_in: int, d_out: int, hidden: int, depth: int, block_kw: dict
    ) -> None:
        super().__init__()
        block_cls = _ARCHS[arch][0]
        sizes = [(d_in, d_in)] * (depth - 1) + [(d_in, d_out)]
        self.blocks = nn.ModuleList(
            block_cls(i, o, hidden, **block_kw) for i, o in sizes
        )
        self.arch = arch
        user_kw = {k: v for k, v in block_kw.items() if k in _USER_KW}
        self.config = {
            "arch": arch,
            "d_in": d_in,
            "d_out": d_out,
            "hidden": hidden,
            "depth": depth,
            **user_kw,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(*b, d_in) -> (*b, d_out)``."""
        for block in self.blocks[:-1]:
            x = x + block(x)
        return self.blocks[-1](x)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items())


def _check_size(name: str, value) -> int:
    """``value`` as a Python int >= 1 (numpy integers accepted), else ValueError."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)  # keeps the config JSON-serialisable
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _block_kw(arch: str, kw: dict) -> dict:
    unknown = sorted(set(kw) - set(_USER_KW))
    if unknown:
        raise ValueError(
            f"unknown model option(s) {unknown}; allowed: {list(_USER_KW)}"
        )
    return {**_ARCHS[arch][1], **kw}


def _check_arch(arch) -> str:
    if arch not in _ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(_ARCHS)}")
    return arch


def make_model(
    arch: str,
    d_in: int,
    d_out: int,
    hidden: int = 64,
    depth: int = 1,
    *,
    match_params: int | None = None,
    seed: int | None = None,
    **kw,
) -> ResidualStack:
    """Build a model ``(*b, d_in) -> (*b, d_out)`` of a registered architecture.

    Args:
        arch: one of :func:`available`.
        d_in, d_out: input and output sizes.
        hidden: hidden width of every block (ignored with ``match_params``).
        depth: number of blocks (residual stacking, see the module docstring).
        match_params: if given, choose ``hidden`` with :func:`matched_hidden`
            so that the model has this many parameters within 5%.
        seed: seed for the parameter initialisation (default: torch's global
            generator).
        **kw: block options; ``bias`` (bool) overrides the family default.

    Returns:
        A :class:`ResidualStack` with ``arch`` and ``config``;
        ``make_model(**model.config)`` rebuilds it.

    Raises:
        ValueError: unknown architecture or option, a size below 1, or a
            seed outside ``[0, 2**63)``.
    """
    _check_arch(arch)
    d_in, d_out = _check_size("d_in", d_in), _check_size("d_out", d_out)
    depth = _check_size("depth", depth)
    if match_params is not None:
        hidden = matched_hidden(arch, d_in, d_out, match_params, depth, **kw)
    hidden = _check_size("hidden", hidden)
    if seed is not None and not (
        isinstance(seed, numbers.Integral)
        and not isinstance(seed, bool)
        and 0 <= seed < 2**63
    ):
        raise ValueError(f"seed must be None or an integer in [0, 2**63), got {seed!r}")
    block_kw = _block_kw(arch, kw)
    ctx = torch.random.fork_rng(devices=[]) if seed is not None else nullcontext()
    with ctx:
        if seed is not None:
            torch.manual_seed(int(seed))
        return ResidualStack(arch, d_in, d_out, hidden, depth, block_kw)


def count_params(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _param_line(
    arch: str, d_in: int, d_out: int, depth: int, kw: dict
) -> Callable[[int], int]:
    """Parameter count as a function of hidden width (it is affine in ``hidden``)."""
    block_kw = _block_kw(arch, kw)
    with torch.device("meta"):
        n1, n2 = (
            count_params(ResidualStack(arch, d_in, d_out, h, depth, block_kw))
            for h in (1, 2)
        )
    return lambda h: n1 + (n2 - n1) * (h - 1)


def matched_hidden(
    arch: str, d_in: int, d_out: int, target_params: int, depth: int = 1, **kw
) -> int:
    """Hidden width that gives ``arch`` about ``target_params`` parameters.

    Every block has the same hidden width, so the count is affine in it; the
    width is the rounded solution, and the result is checked to lie within 5%
    of the target.

    Args:
        arch, d_in, d_out, depth, **kw: as for :func:`make_model`.
        target_params: the parameter count to match, e.g.
            ``count_params(make_model("bilinear", d, d, 64))``.

    Returns:
        The hidden width (>= 1).

    Raises:
        ValueError: unknown architecture, or no width comes within 5% (the
            target is smaller than the narrowest model).
    """
    _check_arch(arch)
    _check_size("target_params", target_params)
    count = _param_line(arch, d_in, d_out, _check_size("depth", depth), kw)
    slope = count(2) - count(1)
    hidden = max(1, round((target_params - count(0)) / slope))
    got = count(hidden)
    if abs(got - target_params) > 0.05 * target_params:
        raise ValueError(
            f"cannot match target_params={target_params} within 5% for {arch!r} "
            f"(d_in={d_in}, d_out={d_out}, depth={depth}); the narrowest model "
            f"has {count(1)} parameters"
        )
    return hidden
