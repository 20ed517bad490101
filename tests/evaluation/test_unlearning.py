"""Selective unlearning: planted operators, the selectivity score, the suite."""

import csv
import math

import pytest
import torch

import learners
from evaluation import unlearning as U
from evaluation import unlearning_suite as S
from evaluation.structure import bilinear_tensor, subspace_alignment

F64 = torch.float64


def _orthonormal(d: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=F64))[0]


def _planted(s=(1.5, 1.0, 0.5)):
    """A bias-free bilinear block ``sum_k s_k u_k (a_k . x)(b_k . x)``.

    Each component is spread over two hidden units (halves of ``s_k``), with
    ``a_k, b_k`` orthonormal across components (so the input subspaces
    ``span(a_k, b_k)`` are orthogonal) and orthonormal outputs ``u_k``.
    """
    K = len(s)
    A, Uo = _orthonormal(2 * K, 1), _orthonormal(K, 2)
    model = learners.make_model("bilinear-nobias", 2 * K, K, hidden=2 * K).double()
    block = model.blocks[0]
    with torch.no_grad():
        for k in range(K):
            a, b = A[:, 2 * k], A[:, 2 * k + 1]
            for h in (2 * k, 2 * k + 1):
                block.W.weight[h], block.V.weight[h] = a, b
                block.P.weight[:, h] = 0.5 * s[k] * Uo[:, k]
    comps = tuple(
        U.Component(f"c{k}", A[:, 2 * k : 2 * k + 2], Uo[:, k : k + 1])
        for k in range(K)
    )

    def operator(x):
        proj = x @ A
        terms = proj[..., 0::2] * proj[..., 1::2] * torch.as_tensor(s, dtype=F64)
        return terms @ Uo.T

    target = U.EntangledTarget(
        "planted",
        2 * K,
        K,
        operator,
        comps,
        lambda n, seed: torch.randn(
            n, 2 * K, dtype=F64, generator=torch.Generator().manual_seed(seed)
        ),
        forget=1,
    )
    return model, target


def test_planted_block_computes_its_target():
    model, target = _planted()
    x = target.sample(64, 0)
    torch.testing.assert_close(model(x), target.operator(x), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("forget", [0, 1, 2])
def test_surgery_removes_planted_component_exactly(forget):
    model, target = _planted()
    x = target.sample(200, 1)
    basis, evals = U.identify_input_subspace(model, target, x, forget=forget)
    true_in = target.components[forget].input_basis
    assert subspace_alignment(basis, true_in) == pytest.approx(1.0, abs=1e-12)
    assert evals[2:].abs().max() <= 1e-12 * evals[0]  # rank 2 exactly

    edited = U.surgery(model, input_basis=basis)
    xt = target.sample(100, 2)
    y, y_edit = target.operator(xt), edited(xt)
    for k, comp in enumerate(target.components):
        u = comp.output_basis[:, 0]
        if k == forget:
            assert (y_edit @ u).abs().max() < 1e-13
        else:
            torch.testing.assert_close(y_edit @ u, y @ u, rtol=0, atol=1e-13)
    F, R = U.component_errors(edited, target, xt, forget=forget)
    assert F == pytest.approx(1.0, abs=1e-12)
    assert R < 1e-25


def test_surgery_edits_the_interaction_tensor_by_projection():
    model = learners.make_model("bilinear", 5, 3, hidden=7, seed=3).double()
    basis = _orthonormal(5, 4)[:, :2]
    edited = U.surgery(model, input_basis=basis)
    Pi = torch.eye(5, dtype=F64) - basis @ basis.T
    T, T_edit = bilinear_tensor(model.blocks[0]), bilinear_tensor(edited.blocks[0])
    torch.testing.assert_close(T_edit.quadratic, Pi @ T.quadratic @ Pi)
    torch.testing.assert_close(T_edit.linear, T.linear @ Pi)
    torch.testing.assert_close(T_edit.constant, T.constant)
    # the original is untouched
    torch.testing.assert_close(bilinear_tensor(model.blocks[0]).quadratic, T.quadratic)


def test_output_surgery_zeroes_the_output_directions():
    model = learners.make_model("tanh", 4, 4, hidden=9, seed=1).double()
    basis = _orthonormal(4, 5)[:, :1]
    x = torch.randn(30, 4, dtype=F64)
    out = U.surgery(model, output_basis=basis)(x)
    assert (out @ basis).abs().max() < 1e-14
    Pi = torch.eye(4, dtype=F64) - basis @ basis.T
    torch.testing.assert_close(out, model(x) @ Pi)


@pytest.mark.parametrize("arch", ["bilinear", "swiglu", "relu"])
def test_input_surgery_equals_projected_inputs(arch):
    model = learners.make_model(arch, 4, 3, hidden=6, seed=2).double()
    basis = _orthonormal(4, 6)[:, :2]
    x = torch.randn(20, 4, dtype=F64)
    Pi = torch.eye(4, dtype=F64) - basis @ basis.T
    torch.testing.assert_close(U.surgery(model, input_basis=basis)(x), model(x @ Pi))


def test_tensor_identification_matches_jacobian_identification():
    # For a biased bilinear block, G from the interaction tensor (exact) must
    # equal the autograd average of J^T U U^T J.
    model = learners.make_model("bilinear", 6, 6, hidden=5, seed=7).double()
    target = U.linear_modes_target()
    x = target.sample(50, 3)
    Uo = target.component().output_basis
    G_tensor = U._bilinear_gram(model.blocks[0], Uo, x)
    G_autograd = U._jacobian_gram(model, Uo, x)
    torch.testing.assert_close(G_tensor, G_autograd, rtol=1e-10, atol=1e-12)


def test_selectivity_endpoints_and_midpoints():
    assert U.selectivity(0.01, 1.0, 0.02, 0.02) == 1.0  # perfect edit
    assert U.selectivity(0.01, 1.3, 0.02, 0.02) == 1.0  # overshoot counts as gone
    assert U.selectivity(0.01, 1.0, 0.02, 1.0) == 0.0  # destroyed model
    assert U.selectivity(0.01, 1.0, 0.02, 5.0) == 0.0
    assert U.selectivity(0.01, 1.0, 0.02, math.nan) == 0.0  # diverged
    assert U.selectivity(0.01, math.inf, 0.02, math.inf) == 0.0
    assert U.selectivity(0.01, 0.01, 0.02, 0.02) == 0.0  # nothing forgotten
    assert U.selectivity(0.0, 0.5, 0.0, 0.0) == pytest.approx(0.5)
    assert U.selectivity(0.0, 1.0, 0.0, 0.5) == pytest.approx(0.5)
    assert U.selectivity(0.0, 0.5, 0.0, 0.5) == pytest.approx(0.25)
    arr = U.selectivity([0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0])
    assert arr.tolist() == [1.0, 0.0]


def test_component_errors_of_the_truth_and_of_zero():
    target = U.modular_frequencies_target()
    x = target.sample(300, 0)
    assert U.component_errors(target.operator, target, x) == (0.0, 0.0)
    F, R = U.component_errors(
        lambda z: torch.zeros(len(z), target.d_out, dtype=F64), target, x
    )
    assert (F, R) == (pytest.approx(1.0), pytest.approx(1.0))


def test_linear_modes_target_has_its_singular_modes():
    target = U.linear_modes_target(singular_values=(3.0, 2.0, 1.0))
    for s, comp in zip((3.0, 2.0, 1.0), target.components, strict=True):
        v, u = comp.input_basis[:, 0], comp.output_basis[:, 0]
        torch.testing.assert_close(target.operator(v), s * u)


def test_modular_target_components_are_single_frequencies():
    p, fs, ws = 11, (1, 2, 4), (1.0, 0.8, 0.6)
    target = U.modular_frequencies_target(p, fs, ws)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    eye = torch.eye(p, dtype=F64)
    x = torch.cat([eye[a.flatten()], eye[b.flatten()]], dim=1)
    y = target.operator(x)
    k = torch.arange(p, dtype=F64)
    s = (a + b).flatten().to(F64)[:, None]
    for f, w, comp in zip(fs, ws, target.components, strict=True):
        Uo = comp.output_basis
        expected = w * torch.cos(2 * math.pi * f * (s - k) / p)
        torch.testing.assert_close(y @ Uo @ Uo.T, expected, rtol=0, atol=1e-12)
        # the component reads only frequency f of the inputs
        Pi = torch.eye(2 * p, dtype=F64) - comp.input_basis @ comp.input_basis.T
        torch.testing.assert_close(
            (target.operator(x) - target.operator(x @ Pi)) @ Uo @ Uo.T,
            expected,
            rtol=0,
            atol=1e-12,
        )


def test_oscillator_energies_are_kept_by_the_true_field():
    target = U.two_oscillators_target(omega=(1.0, 2.0), dt=0.05)
    x0 = target.sample(4, 0)
    # RK4's energy error on a harmonic oscillator is O((omega dt)^4) per
    # period (Hairer, Lubich & Wanner 2006, sec. I.1): about 1e-6 here.
    assert U.retained_drift(None, target, x0, 400) < 1e-5
    # a field that ignores the damping-free structure drifts: -0.1 x damping
    damped = lambda z: target.operator(z) - 0.1 * z  # noqa: E731
    drift = U.retained_drift(_as_module(damped), target, x0, 400)
    assert drift > 0.5


class _as_module(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=F64))

    def forward(self, x):
        return self.fn(x)


def _exact_linear_bilinear(Q: torch.Tensor) -> torch.nn.Module:
    """A biased bilinear block equal to ``x -> Q x``: ``P((Q x) * (0 x + 1))``."""
    d = Q.shape[0]
    model = learners.make_model("bilinear", d, d, hidden=d).double()
    block = model.blocks[0]
    with torch.no_grad():
        block.W.weight.copy_(Q)
        block.W.bias.zero_()
        block.V.weight.zero_()
        block.V.bias.fill_(1.0)
        block.P.weight.copy_(torch.eye(d, dtype=F64))
        block.P.bias.zero_()
    return model


def test_gradient_unlearning_forgets_more_than_it_damages():
    target = U.linear_modes_target()
    Q = target.operator(torch.eye(6, dtype=F64)).T
    model = _exact_linear_bilinear(Q)
    x, xt = target.sample(256, 0), target.sample(256, 1)
    # At an exact fit the forget error is at its minimum, so its gradient is
    # zero and ascent cannot start: the edit leaves the model as it is.
    still = U.gradient_unlearn(model, target, x, steps=5, lr=1e-2)
    assert U.component_errors(still, target, xt) == (0.0, 0.0)
    with torch.no_grad():  # a near-exact fit, like a trained model
        for prm in model.parameters():
            prm.add_(1e-3 * torch.randn(prm.shape, dtype=F64))
    F0, R0 = U.component_errors(model, target, xt)
    assert F0 < 1e-4 and R0 < 1e-4
    edited = U.gradient_unlearn(model, target, x, steps=60, lr=1e-2)
    F1, R1 = U.component_errors(edited, target, xt)
    assert F1 - F0 > 0.5
    assert F1 - F0 > 10 * (R1 - R0)
    assert U.selectivity(F0, F1, R0, R1) > 0.8
    assert U.component_errors(model, target, xt) == (F0, R0)  # copy edited


@pytest.mark.parametrize(
    "bad",
    [
        dict(singular_values=(1.0, 1.0)),
        dict(singular_values=(1.0, -1.0)),
        dict(singular_values=(1.0,) * 7),
    ],
)
def test_linear_modes_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="singular_values"):
        U.linear_modes_target(**bad)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown unlearning target"):
        U.make_target("nope")
    with pytest.raises(ValueError, match="frequencies"):
        U.modular_frequencies_target(p=11, frequencies=(6,), weights=(1.0,))
    with pytest.raises(ValueError, match="omega"):
        U.two_oscillators_target(omega=(1.0, 1.0))
    target = U.linear_modes_target()
    with pytest.raises(ValueError, match="component index"):
        target.component(9)
    with pytest.raises(ValueError, match="shape"):
        U.component_errors(torch.nn.Identity(), target, torch.zeros(3, 2))
    model = learners.make_model("relu", 6, 6, hidden=4).double()
    with pytest.raises(ValueError, match="input_basis"):
        U.surgery(model, input_basis=torch.zeros(5, 1, dtype=F64))
    with pytest.raises(ValueError, match="not a vector field"):
        U.retained_drift(None, target, target.sample(2, 0), 3)


@pytest.mark.xfail(
    raises=ValueError,
    strict=True,
    reason="surgery edits only depth-1 models: deeper residual "
    "stacks pass the raw input to later blocks",
)
def test_surgery_on_a_deep_residual_model():
    model = learners.make_model("relu", 4, 4, hidden=5, depth=2).double()
    U.surgery(model, input_basis=_orthonormal(4, 0)[:, :1])


TINY = {
    "targets": ["two-oscillators", "modular-frequencies"],
    "archs": ["bilinear", "relu"],
    "seeds": 1,
    "epochs": 2,
    "n_train": 64,
    "n_test": 32,
    "batch_size": 32,
    "unlearn_steps": 3,
    "n_rollout": 2,
    "rollout_steps": 20,
}


def test_suite_writes_report_csv_and_plots(tmp_path):
    ticks = []
    out = S.run(tmp_path / "run", config=TINY, progress=ticks.append)
    assert sum(ticks) == 4
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 2 * 2  # targets x archs x methods
    assert {r["method"] for r in rows} == {"surgery", "gradient"}
    for r in rows:
        assert 0.0 <= float(r["selectivity"]) <= 1.0
        if r["target"] == "two-oscillators":
            assert float(r["drift_true"]) < 1e-6
    text = (out / "report.md").read_text()
    assert "## two-oscillators (forgotten: oscillator-2)" in text
    for name in ("forget_vs_retain", "selectivity", "energy_drift"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000
        assert f"plots/{name}.png" in text
    # A rerun with the same settings reuses every task file (none rewritten)
    # and reads the rows back: the same table.
    stamps = {p: p.stat().st_mtime_ns for p in (out / "tasks").iterdir()}
    assert len(stamps) == 4
    table = (out / "results.csv").read_text()
    ticks.clear()
    S.run(out, config=TINY, progress=ticks.append)
    assert stamps == {p: p.stat().st_mtime_ns for p in (out / "tasks").iterdir()}
    assert sum(ticks) == 4 and (out / "results.csv").read_text() == table
    with pytest.raises(ValueError, match="other settings"):
        S.run(out, config={**TINY, "epochs": 3})
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("x")
    with pytest.raises(FileExistsError, match="--force"):
        S.run(tmp_path / "foreign", config=TINY)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"epochs": 0}, "epochs"),
        ({"archs": ["nope"]}, "archs"),
        ({"targets": []}, "targets"),
        ({"lr": -1.0}, "lr"),
        ({"colour": 1}, "unknown unlearning setting"),
    ],
)
def test_suite_rejects_bad_settings(bad, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        S.run(tmp_path / "x", config={**TINY, **bad})
    assert not (tmp_path / "x").exists()


def test_suite_reads_toml_and_quick_settings(tmp_path):
    path = tmp_path / "u.toml"
    path.write_text('[unlearning]\nseeds = 2\narchs = ["tanh"]\n')
    s = S.settings(quick=True, config=path)
    assert s["seeds"] == 2 and s["archs"] == ["tanh"]
    assert s["epochs"] == S.QUICK["epochs"]
    assert S.settings(quick=True, seeds=5)["seeds"] == 5


def _row(arch, method, fitted=True, drift=0.1, S_=0.9):
    return {
        "target": "two-oscillators",
        "forgotten": "oscillator-2",
        "arch": arch,
        "seed": 0,
        "n_params": 10,
        "method": method,
        "fitted": fitted,
        "forget_untrained": 1.0,
        "forget_before": 1e-3,
        "forget_after": 1.2,
        "retain_before": 1e-3,
        "retain_after": 2e-3,
        "selectivity": S_,
        "drift_true": 1e-7,
        "drift_before": 0.1,
        "drift_after": drift,
    }


def test_report_and_plots_survive_diverged_and_unfitted_rows(tmp_path):
    rows = [
        _row("relu", "surgery"),
        _row("relu", "gradient", drift=math.inf),
        _row("tanh", "surgery", fitted=False, drift=math.nan),
        _row("tanh", "gradient", fitted=False, drift=math.inf),
    ]
    rows += [dict(r, seed=1) for r in rows]
    (tmp_path / "plots").mkdir()
    plots = S.write_plots(tmp_path / "plots", rows)
    assert len(plots) == 3 and all(p.stat().st_size > 1000 for p in plots)
    text = S.report(S.settings(quick=True), rows, plots)
    assert "| relu | 10 | gradient |" in text and "| inf |" in text
    assert "tanh (not fitted)" in text
    assert "left out (trained F or R above 0.1): two-oscillators tanh seed 0" in text
