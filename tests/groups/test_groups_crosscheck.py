"""SO(3), SE(2), SE(3) against geomstats, and SO(3) against scipy's Rotation.

Random inputs and edge cases (angle 0, 1e-9, near pi). geomstats configures the
root logger and raises an ImportWarning at import; the fixture imports it with
warnings silenced and restores the logging configuration afterwards.
"""

from __future__ import annotations

import logging
import math
import os
import warnings

import numpy as np
import pytest
import torch

from dynsys.groups import SE2, SE3, SO3

EDGE_ANGLES = [0.0, 1e-9, 1e-6, 0.3, 2.0, math.pi - 1e-6, math.pi - 1e-9]
AXES = np.array([[0.48, 0.6, -0.64], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@pytest.fixture(scope="module")
def gs_groups():
    os.environ.setdefault("GEOMSTATS_BACKEND", "numpy")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            se_mod = pytest.importorskip("geomstats.geometry.special_euclidean")
            so_mod = pytest.importorskip("geomstats.geometry.special_orthogonal")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return {
        "so3": so_mod.SpecialOrthogonal(3, point_type="vector"),
        "se3": se_mod.SpecialEuclidean(3, point_type="vector"),
        "se2": se_mod.SpecialEuclidean(2),
    }


def _edge_rotvecs() -> np.ndarray:
    return np.array([t * a for t in EDGE_ANGLES for a in AXES])


def _random_rotvecs(n: int = 20) -> np.ndarray:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(n, 3))
    return w / np.linalg.norm(w, axis=1, keepdims=True) * rng.uniform(0, 3.1, (n, 1))


@pytest.mark.parametrize("kind", ["random", "edge"])
def test_so3_matches_geomstats(gs_groups, kind):
    so3 = gs_groups["so3"]
    w = _random_rotvecs() if kind == "random" else _edge_rotvecs()
    ours = SO3().exp(torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(ours, so3.matrix_from_rotation_vector(w), atol=1e-14)
    back = SO3().log(torch.from_numpy(ours)).numpy()
    np.testing.assert_allclose(back, w, atol=1e-14)
    # Within 1e-5 of pi geomstats takes the axis sign from the symmetric part
    # alone, so it may return -w (a rotation 2e-6 rad away); there we compare
    # up to sign, elsewhere exactly.
    theirs = so3.rotation_vector_from_matrix(ours)
    near_pi = np.linalg.norm(w, axis=1) > math.pi - 1e-5
    np.testing.assert_allclose(back[~near_pi], theirs[~near_pi], atol=1e-12)
    np.testing.assert_allclose(
        np.abs(back[near_pi]), np.abs(theirs[near_pi]), atol=1e-12
    )


def test_so3_matches_scipy_rotation():
    from scipy.spatial.transform import Rotation

    w = np.concatenate([_random_rotvecs(), _edge_rotvecs()])
    ours = SO3().exp(torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(ours, Rotation.from_rotvec(w).as_matrix(), atol=1e-15)
    back = SO3().log(torch.from_numpy(ours)).numpy()
    np.testing.assert_allclose(back, Rotation.from_matrix(ours).as_rotvec(), atol=1e-9)
    # Haar samples: scipy recovers our log's rotation.
    R = SO3().sample(50, generator=torch.Generator().manual_seed(3))
    logs = SO3().log(R).numpy()
    np.testing.assert_allclose(
        Rotation.from_rotvec(logs).as_matrix(), R.numpy(), atol=1e-14
    )
    # exactly pi: both are valid logs; they agree up to the sign of the axis.
    Rpi = np.diag([1.0, -1.0, -1.0])
    ref = Rotation.from_matrix(Rpi).as_rotvec()
    got = SO3().log(torch.from_numpy(Rpi)).numpy()
    assert np.allclose(got, ref) or np.allclose(got, -ref)


@pytest.mark.parametrize("kind", ["random", "edge"])
def test_se3_matches_geomstats(gs_groups, kind):
    se3 = gs_groups["se3"]
    w = _random_rotvecs() if kind == "random" else _edge_rotvecs()
    rho = np.random.default_rng(2).normal(size=w.shape)
    xi = np.concatenate([rho, w], axis=1)  # ours: translation first
    ours = SE3().exp(torch.from_numpy(xi)).numpy()
    theirs_vec = se3.exp_from_identity(np.concatenate([w, rho], axis=1))
    np.testing.assert_allclose(ours, se3.matrix_from_vector(theirs_vec), atol=1e-12)
    back = SE3().log(torch.from_numpy(ours)).numpy()
    np.testing.assert_allclose(back, xi, atol=1e-12)
    point = np.concatenate([w, ours[:, :3, 3]], axis=1)
    log_gs = se3.log_from_identity(point)
    # geomstats' translation part cancels catastrophically for 0 < angle < 1e-2
    # (error 1e-4 at angle 1e-6, measured); compare where it is accurate.
    angle = np.linalg.norm(w, axis=1)
    ok = (angle == 0.0) | (angle >= 1e-2)
    np.testing.assert_allclose(back[ok, 3:], log_gs[ok, :3], atol=1e-12)
    np.testing.assert_allclose(back[ok, :3], log_gs[ok, 3:], atol=1e-10)


@pytest.mark.parametrize("kind", ["random", "edge"])
def test_se2_matches_geomstats_matrix_exp_log(gs_groups, kind):
    se2 = gs_groups["se2"]
    rng = np.random.default_rng(4)
    if kind == "random":
        omega = rng.uniform(-3.0, 3.0, 20)
    else:
        omega = np.array([0.0, 1e-9, -1e-9, 1e-6, 2.0, math.pi - 1e-6])
    xi = np.concatenate([rng.normal(size=(omega.size, 2)), omega[:, None]], axis=1)
    X = SE2().hat(torch.from_numpy(xi)).numpy()
    ours = SE2().exp(torch.from_numpy(xi)).numpy()
    np.testing.assert_allclose(ours, se2.exp(X), atol=1e-13)
    back = SE2().log(torch.from_numpy(ours)).numpy()
    np.testing.assert_allclose(back, xi, atol=1e-13)
    # geomstats' matrix log (scipy.linalg.logm) warns about a discarded
    # imaginary round-off part near angle pi.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        theirs = se2.log(ours)
    np.testing.assert_allclose(
        SE2().hat(torch.from_numpy(back)).numpy(), theirs, atol=1e-7
    )
