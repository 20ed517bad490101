"""The learning task ``modular-addition``: ``(a, b) -> a + b (mod p)``.

Inputs are the one-hot codes of ``a`` and ``b`` side by side (``2 p``
entries), the target is the one-hot code of ``a + b mod p``. The true operator
is the addition table ``T[a, b, k] = [a + b = k (mod p)]``; on one-hot
blocks ``x``, ``y`` it is the cyclic convolution ``(x * y)[k] = sum_{a + b = k}
x_a y_b``, bilinear and diagonal in the Fourier basis of ``Z_p`` (the
convolution theorem; the learned algorithm of Nanda et al., "Progress measures
for grokking via mechanistic interpretability", ICLR 2023, sec. 4, works in
that basis). ``p = 97`` as there (Power et al., "Grokking", 2022, use the
same modulus).

So that the task is also a dynamical system of the registry, its state is
the pair ``[onehot(a), onehot(b)]`` and one step is the Fibonacci recurrence
``(a, b) -> (b, a + b) mod p``, extended off the lattice by the convolution:
``[x, y] -> [y, x * y]``.

Limitation: the extension is expansive. Linearised at a lattice state, a
perturbation maps as ``(dx, dy) -> (dy, S dx + S' dy)`` with shifts ``S, S'``,
the Fibonacci matrix ``[[0, 1], [1, 1]]`` up to permutations, so off-lattice
errors grow like the golden ratio ``phi = (1 + sqrt 5)/2`` per step (Lyapunov
exponent ``log phi``), and the bilinear map then blows them up (the mass
``sum(x)`` obeys the Fibonacci recurrence in the exponent). The ground truth
therefore keeps states exactly on the lattice (:func:`cyclic_convolution`
sums directly, exactly); a learned model's lattice error is expected to grow
by up to ``phi`` per step unless it corrects it.
"""

from __future__ import annotations

import torch

from dynsys.systems._base import (
    DiscreteSystem,
    StatePart,
    Tensor,
    check_count,
    int_param,
    make_generator,
    real_param,
)
from dynsys.systems._registry import register_system


def cyclic_convolution(x: Tensor, y: Tensor) -> Tensor:
    """``(x * y)[k] = sum_a x[a] y[k - a mod p]`` over the last axis, summed directly.

    The direct sum (not the FFT of the convolution theorem) is exact on the
    one-hot lattice: every product is 0 or 1 and every partial sum an integer,
    so ``e_a * e_b = e_{a+b}`` holds bit for bit. Through the FFT each step
    adds round-off that the Fibonacci map then amplifies (see
    :class:`ModularAddition`). Cost ``O(p^2)`` per state, memory ``O(p)``.

    Args:
        x: ``(*b, p)``.
        y: ``(*b, p)``.

    Returns:
        ``(*b, p)``, in the promoted dtype of ``x`` and ``y``.
    """
    p = x.shape[-1]
    shape = torch.broadcast_shapes(x.shape, y.shape)
    out = torch.zeros(shape, dtype=torch.result_type(x, y), device=x.device)
    for a in range(p):
        # torch.roll(y, a)[k] = y[k - a mod p].
        out = out + x[..., a : a + 1] * torch.roll(y, a, dims=-1)
    return out


@register_system("modular-addition")
class ModularAddition(DiscreteSystem):
    """Addition mod ``p`` as a learning task and as the Fibonacci map on ``Z_p^2``.

    State ``[x (p), y (p)]``, on the lattice ``x = e_a``, ``y = e_b``. One step:
    ``[x, y] -> [y, x * y]`` (cyclic convolution), i.e. ``(a, b) -> (b, a + b)``.
    Invariants: none on the lattice beyond the constraint (``{}``).
    Constraint ``lattice``: distance to the nearest pair of one-hot codes.
    Exact: ``(a, b)`` advanced by powers of ``[[0, 1], [1, 1]]`` mod ``p``.

    The task: :meth:`inputs` ``(p^2, 2p)`` and :meth:`targets` ``(p^2, p)``
    over all pairs, :meth:`split` into train and test, :meth:`table` the true
    operator ``(p, p, p)``.

    Args:
        p: modulus, >= 2 (97 by default).
        train_fraction: share of the ``p^2`` pairs used for training by
            :meth:`split`, in ``(0, 1]``.
    """

    name = "modular-addition"

    def __init__(self, p: int = 97, train_fraction: float = 0.5) -> None:
        super().__init__()
        self.p = int_param(self.name, "p", p, lo=2)
        self.train_fraction = real_param(
            self.name, "train_fraction", train_fraction, lo=0.0, hi=1.0, lo_open=True
        )
        self._params = {"p": self.p, "train_fraction": self.train_fraction}

    @property
    def state_dim(self) -> int:
        return 2 * self.p

    @property
    def state_layout(self) -> list[StatePart]:
        p = self.p
        return [StatePart("a", 0, p, None), StatePart("b", p, 2 * p, None)]

    def embed(self, a: Tensor, b: Tensor) -> Tensor:
        """States ``(*n, 2p)`` float64 of residue pairs ``a, b`` ``(*n,)``."""
        one_hot = torch.nn.functional.one_hot
        return torch.cat(
            [
                one_hot(torch.remainder(a.long(), self.p), self.p),
                one_hot(torch.remainder(b.long(), self.p), self.p),
            ],
            dim=-1,
        ).to(torch.float64)

    def decode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Nearest residues ``(a, b)``, each ``(*n,)`` int64 (argmax per block)."""
        self.check_state(x)
        return x[..., : self.p].argmax(-1), x[..., self.p :].argmax(-1)

    def step_map(self, x: Tensor) -> Tensor:
        self.check_state(x)
        a, b = x[..., : self.p], x[..., self.p :]
        return torch.cat([b, cyclic_convolution(a, b)], dim=-1)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        ab = torch.randint(
            0, self.p, (check_count(n), 2), generator=make_generator(seed)
        )
        return self.embed(ab[:, 0], ab[:, 1])

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        self.check_state(x)
        return {}

    def constraints(self, x: Tensor) -> dict[str, Tensor]:
        nearest = self.embed(*self.decode(x)).to(x)
        return {"lattice": torch.linalg.vector_norm(x - nearest, dim=-1)}

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        steps = torch.round(t).to(torch.int64)
        if not bool(torch.all((t - steps).abs() <= 1e-9 * (1 + t.abs()))):
            raise ValueError("exact_solution of a map needs whole-number times")
        a, b = self.decode(x0)
        M = torch.stack([self._fibonacci_matrix(int(s)) for s in steps.reshape(-1)])
        M = M.reshape(*t.shape, *([1] * a.ndim), 2, 2)
        a_t = torch.remainder(M[..., 0, 0] * a + M[..., 0, 1] * b, self.p)
        b_t = torch.remainder(M[..., 1, 0] * a + M[..., 1, 1] * b, self.p)
        return self.embed(a_t, b_t).to(x0)

    def _fibonacci_matrix(self, steps: int) -> Tensor:
        """``[[0, 1], [1, 1]]^steps mod p`` by repeated squaring, int64."""
        if steps < 0:
            raise ValueError(f"exact_solution needs times >= 0, got {steps}")
        result, base = torch.eye(2, dtype=torch.int64), torch.tensor([[0, 1], [1, 1]])
        while steps:
            if steps & 1:
                result = torch.remainder(result @ base, self.p)
            base, steps = torch.remainder(base @ base, self.p), steps >> 1
        return result

    # -- the learning task --------------------------------------------------

    def pairs(self) -> tuple[Tensor, Tensor]:
        """All residue pairs, ``a`` and ``b`` each ``(p^2,)`` int64, ``a`` major."""
        a, b = torch.meshgrid(torch.arange(self.p), torch.arange(self.p), indexing="ij")
        return a.reshape(-1), b.reshape(-1)

    def inputs(self) -> Tensor:
        """One-hot inputs ``(p^2, 2p)`` float64, in the order of :meth:`pairs`."""
        return self.embed(*self.pairs())

    def targets(self) -> Tensor:
        """One-hot targets ``(p^2, p)`` float64: the code of ``a + b mod p``."""
        a, b = self.pairs()
        return torch.nn.functional.one_hot((a + b) % self.p, self.p).to(torch.float64)

    def table(self) -> Tensor:
        """The true operator ``T[a, b, k] = [a + b = k mod p]``, ``(p, p, p)``."""
        return self.targets().reshape(self.p, self.p, self.p)

    def split(self, seed: int = 0) -> tuple[Tensor, Tensor]:
        """A random split of the pair indices into train and test.

        Args:
            seed: seed of the permutation.

        Returns:
            ``(train_idx, test_idx)`` int64 index tensors into :meth:`pairs`;
            the train part has ``round(train_fraction p^2)`` entries (>= 1).
        """
        perm = torch.randperm(self.p**2, generator=make_generator(seed))
        n_train = max(1, round(self.train_fraction * self.p**2))
        return perm[:n_train], perm[n_train:]
