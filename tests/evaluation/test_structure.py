"""Operator extraction, spectral measures and the modular-addition task."""

import math

import pytest
import torch
from torch import nn

from dynsys.systems.modular import ModularAddition, cyclic_convolution
from evaluation import structure as st

F64 = torch.float64


class _Block(nn.Module):
    """A hand-built ``P((W x + b) * (V x + c))`` (a stand-in for learners' block)."""

    def __init__(self, W, V, P, b=None, c=None, d=None, act=None):
        super().__init__()
        self.W, self.V, self.P = (
            self._linear(M, bias) for M, bias in ((W, b), (V, c), (P, d))
        )
        if act is not None:
            self.act = act

    @staticmethod
    def _linear(M, bias):
        M = torch.as_tensor(M, dtype=F64)
        layer = nn.Linear(M.shape[1], M.shape[0], bias=bias is not None).to(F64)
        with torch.no_grad():
            layer.weight.copy_(M)
            if bias is not None:
                layer.bias.copy_(torch.as_tensor(bias, dtype=F64))
        return layer

    def forward(self, x):
        gate = self.act(self.W(x)) if hasattr(self, "act") else self.W(x)
        return self.P(gate * self.V(x))


def test_bilinear_tensor_of_hand_built_block():
    # y = (x1 + 1)(x2 + 2) + 3 (x2)(x1 - 1) - 1 with W = I, V = swap:
    # unit 0: (x1 + 1)(x2 + 2); unit 1: (x2)(x1 - 1), weighted 1 and 3.
    block = _Block(
        W=[[1, 0], [0, 1]], V=[[0, 1], [1, 0]], P=[[1, 3]], b=[1, 0], c=[2, -1], d=[-1]
    )
    it = st.bilinear_tensor(block)
    # x1 x2 (1 + 3) = 4 x1 x2 -> symmetric B = [[0, 2], [2, 0]].
    assert torch.equal(
        it.quadratic, torch.tensor([[[0.0, 2.0], [2.0, 0.0]]], dtype=F64)
    )
    # linear: 2 x1 + x2 from unit 0, -3 x2 from unit 1.
    assert torch.equal(it.linear, torch.tensor([[2.0, -2.0]], dtype=F64))
    # constant: 1 * 2 - 1 = 1.
    assert torch.equal(it.constant, torch.tensor([1.0], dtype=F64))
    x = torch.randn(7, 2, dtype=F64)
    torch.testing.assert_close(it(x), block(x), rtol=0, atol=1e-13)


def test_bilinear_tensor_matches_learners_block():
    import learners

    model = learners.make_model("bilinear", 5, 3, hidden=8, seed=1).to(F64)
    it = st.bilinear_tensor(model.blocks[0])
    x = torch.randn(11, 5, dtype=F64)
    torch.testing.assert_close(it(x), model(x).detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(it.quadratic, it.quadratic.transpose(1, 2))


def test_gated_block_is_refused_and_local_tensor_matches_analytic_hessian():
    torch.manual_seed(3)
    W, V, P = torch.randn(4, 3), torch.randn(4, 3), torch.randn(2, 4)
    block = _Block(W, V, P, act=nn.SiLU())
    with pytest.raises(ValueError, match="gated"):
        st.bilinear_tensor(block)
    x0 = torch.randn(3, dtype=F64)
    W, V, P = (m.to(F64) for m in (W, V, P))
    z, v = W @ x0, V @ x0
    s = torch.sigmoid(z)
    # silu'(z) = s (1 + z (1 - s)); silu''(z) = s (1 - s) (2 + z (1 - 2 s)).
    d1, d2 = s * (1 + z * (1 - s)), s * (1 - s) * (2 + z * (1 - 2 * s))
    H = (
        torch.einsum("kh,h,hi,hj->kij", P, d2 * v, W, W)
        + torch.einsum("kh,h,hi,hj->kij", P, d1, W, V)
        + torch.einsum("kh,h,hi,hj->kij", P, d1, V, W)
    )
    torch.testing.assert_close(st.local_interaction_tensor(block, x0), 0.5 * H)


def test_local_tensor_of_bilinear_block_is_constant_and_exact():
    block = _Block(
        torch.randn(6, 4),
        torch.randn(6, 4),
        torch.randn(3, 6),
        b=torch.randn(6),
        c=torch.randn(6),
    )
    B = st.bilinear_tensor(block).quadratic
    for x0 in torch.randn(3, 4, dtype=F64):
        torch.testing.assert_close(st.local_interaction_tensor(block, x0), B)


def test_jacobians_and_hessians_of_known_maps():
    A = torch.randn(3, 4, dtype=F64)
    x = torch.randn(5, 4, dtype=F64)
    J = st.jacobians(lambda z: z @ A.T, x)
    torch.testing.assert_close(J, A.expand(5, 3, 4))
    # f(x) = sum x_i^3 has Hessian diag(6 x).
    H = st.hessians(lambda z: (z**3).sum(-1, keepdim=True), x)
    torch.testing.assert_close(H[:, 0], torch.diag_embed(6 * x))


def test_interaction_spectrum_eigenvalues_and_output_modes():
    B = torch.zeros(2, 3, 3, dtype=F64)
    B[0, 0, 1] = B[0, 1, 0] = 1.0  # eigenvalues -1, 0, 1
    B[1] = torch.diag(torch.tensor([3.0, 0.0, -2.0], dtype=F64))
    spec = st.interaction_spectrum(B)
    torch.testing.assert_close(
        spec["eigvals"][0], torch.tensor([-1.0, 0.0, 1.0], dtype=F64)
    )
    torch.testing.assert_close(
        spec["eigvals"][1], torch.tensor([-2.0, 0.0, 3.0], dtype=F64)
    )
    # The two outputs are orthogonal matrices of norms sqrt(13) and sqrt(2).
    torch.testing.assert_close(
        spec["output_sv"], torch.tensor([13**0.5, 2**0.5], dtype=F64)
    )
    rebuilt = torch.einsum(
        "kr,r,rij->kij", spec["output_dirs"], spec["output_sv"], spec["output_mats"]
    )
    torch.testing.assert_close(rebuilt, B)


def test_effective_rank_known_values():
    assert st.effective_rank(torch.eye(5, dtype=F64)) == pytest.approx(5.0)
    assert st.effective_rank(torch.ones(4, 6, dtype=F64)) == pytest.approx(1.0)
    # p = (1/4, 1/4, 1/2): H = 1.5 log 2, so erank = 2^1.5.
    s = torch.tensor([1.0, 1.0, 2.0], dtype=F64)
    assert st.effective_rank(s, from_singular_values=True) == pytest.approx(2**1.5)
    assert st.effective_rank(torch.zeros(3, 3)) == 0.0


@pytest.mark.parametrize("theta", [0.7, 1e-9, math.pi / 2])
def test_principal_angle_between_two_lines(theta):
    A = torch.tensor([[1.0], [0.0], [0.0]], dtype=F64)
    B = torch.tensor([[math.cos(theta)], [math.sin(theta)], [0.0]], dtype=F64)
    angle = st.principal_angles(A, B)
    assert angle.shape == (1,)
    assert float(angle[0]) == pytest.approx(theta, rel=1e-9, abs=1e-15)


def test_principal_angles_mixed_dimensions_and_bad_shapes():
    A = torch.eye(4, dtype=F64)[:, :2]  # span(e1, e2)
    B = torch.eye(4, dtype=F64)[:, 1:4]  # span(e2, e3, e4)
    torch.testing.assert_close(
        st.principal_angles(A, B), torch.tensor([0.0, math.pi / 2], dtype=F64)
    )
    with pytest.raises(ValueError, match="same number of rows"):
        st.principal_angles(A, torch.eye(3))


def test_alignment_is_one_for_the_true_operator_and_low_for_random():
    gen = torch.Generator().manual_seed(0)
    T = torch.randn(20, 20, generator=gen, dtype=F64)
    assert st.operator_alignment(2.5 * T, T) == pytest.approx(1.0)
    assert st.operator_alignment(-T, T) == pytest.approx(-1.0)
    R = torch.randn(20, 20, generator=gen, dtype=F64)
    assert abs(st.operator_alignment(R, T)) < 0.15  # ~ N(0, 1/400)
    Tl = T[:, :3] @ torch.randn(3, 20, generator=gen, dtype=F64)  # rank 3
    # Right factors keep the column space; left factors rotate it.
    assert st.subspace_alignment(Tl @ R, Tl) == pytest.approx(1.0)
    assert st.subspace_alignment(R @ Tl, Tl) < 0.9
    assert st.subspace_alignment(Tl, Tl) == pytest.approx(1.0)
    assert st.subspace_alignment(R, Tl) < 0.5  # E = 3 / 20 for random subspaces
    with pytest.raises(ValueError, match="same shape"):
        st.operator_alignment(T, T[:3])


def test_mode_energy_commuting_partial_and_random():
    T = torch.roll(torch.eye(6, dtype=F64), 1, 0)  # normal, distinct eigenvalues
    assert st.mode_energy(T @ T + 3 * T, T) == pytest.approx(1.0)
    # T = diag(1, 2): of L = [[1, 1], [0, 1]] the diagonal holds 2 of 3 units.
    L = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=F64)
    assert st.mode_energy(
        L, torch.diag(torch.tensor([1.0, 2.0], dtype=F64))
    ) == pytest.approx(2 / 3)
    # Degenerate eigenvalues: blocks, not single entries (so(3) generator).
    K = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=F64)
    rot = torch.linalg.matrix_exp(0.3 * K)
    assert st.mode_energy(rot, K) == pytest.approx(1.0)
    gen = torch.Generator().manual_seed(1)
    R = torch.randn(6, 6, generator=gen, dtype=F64)
    assert st.mode_energy(R, T) < 0.5  # ~ 1 / 6 on average


def test_fourier_operator_of_a_shift_is_diagonal():
    n, k = 9, 2
    S = torch.roll(torch.eye(n, dtype=F64), k, 0)  # e_x -> e_{x + k}
    out = st.fourier_operator(S)
    assert out["diag_energy"] == pytest.approx(1.0)
    torch.testing.assert_close(out["spectrum"], torch.ones(n, dtype=F64))
    # The eigenvalue of frequency f is exp(-2 pi i f k / n).
    f = torch.arange(n, dtype=F64)
    torch.testing.assert_close(
        out["matrix"].diagonal(), torch.exp(-2j * math.pi * f * k / n)
    )
    gen = torch.Generator().manual_seed(0)
    assert st.fourier_operator(torch.randn(n, n, generator=gen))["diag_energy"] < 0.4


def test_addition_fourier_recovers_planted_frequency():
    p, f0 = 13, 4
    a = torch.arange(p, dtype=F64)
    phase = a[:, None, None] + a[None, :, None] - a[None, None, :]
    gen = torch.Generator().manual_seed(0)
    table = torch.cos(2 * math.pi * f0 * phase / p)
    table = table + 0.05 * torch.randn(p, p, p, generator=gen, dtype=F64)
    spec = st.addition_fourier(table)["spectrum"]
    top = set(torch.topk(spec, 2).indices.tolist())
    assert top == {f0, p - f0}
    truth = st.addition_fourier(ModularAddition(p=p).table())
    assert truth["diag_energy"] == pytest.approx(1.0)
    torch.testing.assert_close(truth["spectrum"], torch.full((p,), float(p), dtype=F64))
    noise = st.addition_fourier(torch.randn(p, p, p, generator=gen, dtype=F64))
    assert noise["diag_energy"] < 5.0 / p**2


def test_modular_addition_task_and_map():
    task = ModularAddition(p=11)
    X, Y = task.inputs(), task.targets()
    assert X.shape == (121, 22) and Y.shape == (121, 11)
    a, b = task.pairs()
    assert torch.equal(Y.argmax(-1), (a + b) % 11)
    x = task.embed(torch.tensor([3, 10]), torch.tensor([9, 4]))
    a1, b1 = task.decode(task.step_map(x))
    assert a1.tolist() == [9, 4] and b1.tolist() == [1, 3]
    # Fibonacci mod 11 from (0, 1): 0 1 1 2 3 5 8 2 10 1 0 1 -> period 10.
    x0 = task.embed(torch.tensor([0]), torch.tensor([1]))
    ex = task.exact_solution(x0, torch.tensor([7.0, 10.0]))
    assert [int(task.decode(e)[0]) for e in ex] == [2, 0]
    assert [int(task.decode(e)[1]) for e in ex] == [10, 1]
    tr, te = task.split(seed=0)
    assert (
        len(tr) == round(0.5 * 121) and len(set(tr.tolist()) | set(te.tolist())) == 121
    )


def test_cyclic_convolution_and_bad_parameters():
    x, y = torch.randn(2, 7, dtype=F64), torch.randn(2, 7, dtype=F64)
    direct = torch.stack(
        [sum(x[:, a] * y[:, (k - a) % 7] for a in range(7)) for k in range(7)], -1
    )
    torch.testing.assert_close(cyclic_convolution(x, y), direct)
    with pytest.raises(ValueError, match="p must be an integer >= 2"):
        ModularAddition(p=1)
    with pytest.raises(ValueError, match="train_fraction"):
        ModularAddition(train_fraction=0.0)
    with pytest.raises(ValueError, match=r"\(p, p, p\)"):
        st.addition_fourier(torch.zeros(3, 4, 3))


def test_structure_suite_tiny_run_resumes_and_refuses_foreign_dirs(tmp_path):
    from evaluation import structure_suite as suite

    config = {
        "archs": ["bilinear", "relu"],
        "seeds": 1,
        "p": 5,
        "train_fraction": 0.8,
        "modular_hidden": 8,
        "modular_epochs": 3,
        "modular_batch": 8,
        "systems": [{"name": "cyclic-shift", "params": {"n": 4, "k": 1}}],
        "reference_hidden": 4,
        "n_traj": 4,
        "steps": 4,
        "epochs": 2,
        "n_probe": 4,
        "flow_modes": [1.0, 0.5],
        "flow_dim": 4,
        "flow_hidden": 4,
        "flow_t_max": 1.0,
        "flow_lr": 0.1,
    }
    out = suite.run(tmp_path / "run", config=config)
    rows = (out / "results.csv").read_text().splitlines()
    # modular 2 + cyclic-shift 2 + exact flows 2 + networks 2 x 2 = 10 cells.
    assert len(rows) == 1 + 10
    report = (out / "report.md").read_text()
    assert (
        "## Modular addition, p = 5" in report and "## cyclic-shift(k=1,n=4)" in report
    )
    assert {p.name for p in (out / "plots").iterdir()} >= {
        "alignment.png",
        "gradient_flow.png",
        "modular_fourier.png",
    }
    # A rerun with the same settings reuses every cell file.
    stamps = {p: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    suite.run(out, config=config)
    assert stamps == {p: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    with pytest.raises(ValueError, match="other settings"):
        suite.run(out, config=config | {"epochs": 3})
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        suite.run(tmp_path / "foreign", config=config)
    with pytest.raises(ValueError, match="unknown structure setting"):
        suite.settings(config={"epoch": 3})
    with pytest.raises(ValueError, match="archs must be a non-empty list.*'mlp'"):
        suite.settings(config={"archs": ["mlp"]})


@pytest.mark.parametrize(
    "bad, needle",
    [
        ({"archs": "relu"}, "archs must be a non-empty list"),
        ({"systems": 3}, "systems must be a list"),
        ({"flow_modes": [1.0, -1.0]}, "flow_modes"),
        ({"flow_modes": [1.0] * 5, "flow_dim": 8}, "flow_modes, flow_dim"),
        ({"flow_hidden": 2}, "flow_hidden must be >= the number of flow_modes 4"),
        ({"lr": True}, "lr must be a positive number"),
    ],
)
def test_structure_settings_checked_before_any_work(tmp_path, bad, needle):
    from evaluation import structure_suite as suite

    with pytest.raises(ValueError, match=needle):
        suite.run(tmp_path / "out", quick=True, config=bad)
    assert not (tmp_path / "out").exists()


@pytest.mark.xfail(
    reason="mode_energy measures energy in T's eigenbasis, which is "
    "not orthonormal when T is not normal",
    strict=True,
)
def test_mode_energy_is_a_frobenius_share_for_non_normal_operators():
    T = torch.tensor([[1.0, 5.0], [0.0, 2.0]], dtype=F64)
    L = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=F64)
    # Distinct eigenvalues: the commutant of T is span{I, T}; project L onto it.
    basis = torch.stack([torch.eye(2, dtype=F64).flatten(), T.flatten()], 1)
    coef = torch.linalg.lstsq(basis, L.flatten()[:, None]).solution
    share = float((basis @ coef).norm() ** 2 / L.norm() ** 2)
    assert st.mode_energy(L, T) == pytest.approx(share)
