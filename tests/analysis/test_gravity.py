"""Tests for strukturbild.analysis.gravity: gravity-type spatial interaction models.

The reference values are spint 1.0.7's results on Dennett's (2012) Austrian migration
flows; they are read at test time from the shared data folder (never copied here).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import sys
import tracemalloc
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.special import xlogy

from strukturbild.analysis.gravity import Decay, GravityFit, Model, fit_gravity, gravity_flows
from strukturbild.errors import ConfigError, InvalidValueError, UnknownCodeError

from ..conftest import FLOWS, shared_missing

AUSTRIA = FLOWS / "austria"
REFERENCE_KEYS: dict[str, str] = {
    "unconstrained": "gravity_unconstrained_exp",
    "production": "production_constrained_exp",
    "attraction": "attraction_constrained_exp",
    "doubly": "doubly_constrained_exp",
}
MODELS: tuple[Model, ...] = get_args(Model)
DECAYS: tuple[Decay, ...] = get_args(Decay)

# coefficients: |ours - spint| <= 1e-4 * max(1, |spint|), i.e. absolute 1e-4 for
# |estimate| <= 1 and relative 1e-4 for larger ones (the constants, up to ~8 here)
PARAM_TOL = 1e-4
# fit statistics: relative 1e-4
STAT_TOL = 1e-4
STAT_FIELDS: dict[str, str] = {
    "AIC": "aic",
    "deviance": "deviance",
    "llf": "llf",
    "pseudoR2": "pseudo_r2",
    "adj_pseudoR2": "adj_pseudo_r2",
    "SSI": "ssi",
    "SRMSE": "srmse",
}

FloatArray = NDArray[np.float64]
# the module itself, wherever it lives (for its private settings)
GRAVITY = sys.modules[fit_gravity.__module__]


# --------------------------------------------------------------------------- #
# reference data
# --------------------------------------------------------------------------- #
def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def austria() -> dict[str, Any]:
    if not (AUSTRIA / "flows.csv").is_file():
        shared_missing(f"shared Austrian flow data not found at {AUSTRIA} (spint reference tests)")
    rows = _read_csv(AUSTRIA / "flows.csv")
    return {
        "origin": np.array([r["origin"] for r in rows]),
        "destination": np.array([r["destination"] for r in rows]),
        "flow": np.array([float(r["flow"]) for r in rows]),
        "dij": np.array([float(r["dij"]) for r in rows]),
        "o_var": np.array([float(r["o_var"]) for r in rows]),
        "d_var": np.array([float(r["d_var"]) for r in rows]),
    }


@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    ref = AUSTRIA / "reference"
    if not (ref / "spint_params.csv").is_file() or not (ref / "spint_fit.csv").is_file():
        shared_missing(f"spint reference results not found in {ref}")
    params: dict[str, dict[str, float]] = {}
    for r in _read_csv(ref / "spint_params.csv"):
        params.setdefault(r["model"], {})[r["term"]] = float(r["estimate"])
    fits = {
        r["model"]: {key: float(value) for key, value in r.items() if key != "model"}
        for r in _read_csv(ref / "spint_fit.csv")
    }
    return params, fits


def _fit_austria(data: dict[str, Any], model: Model, decay: Decay = "exponential") -> GravityFit:
    return fit_gravity(
        data["flow"],
        data["dij"],
        origin=data["origin"],
        destination=data["destination"],
        o_var=data["o_var"],
        d_var=data["d_var"],
        model=model,
        decay=decay,
    )


# --------------------------------------------------------------------------- #
# agreement with spint 1.0.7
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("model", MODELS)
def test_coefficients_match_spint(
    austria: dict[str, Any],
    reference: tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]],
    model: Model,
) -> None:
    expected = reference[0][REFERENCE_KEYS[model]]
    fit = _fit_austria(austria, model)
    assert list(fit.params) == list(expected)  # same terms, same (design) order
    for term, value in expected.items():
        assert abs(fit.params[term] - value) <= PARAM_TOL * max(1.0, abs(value)), term


@pytest.mark.parametrize("model", MODELS)
def test_fit_statistics_match_spint(
    austria: dict[str, Any],
    reference: tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]],
    model: Model,
) -> None:
    expected = reference[1][REFERENCE_KEYS[model]]
    assert set(expected) == set(STAT_FIELDS)
    fit = _fit_austria(austria, model)
    for column, attr in STAT_FIELDS.items():
        assert getattr(fit, attr) == pytest.approx(expected[column], rel=STAT_TOL), column


# --------------------------------------------------------------------------- #
# properties of the Poisson GLM on real data
# --------------------------------------------------------------------------- #
def _sums(labels: NDArray[Any], values: FloatArray) -> dict[Any, float]:
    out: dict[Any, float] = {}
    for label, value in zip(labels.tolist(), values.tolist(), strict=True):
        out[label] = out.get(label, 0.0) + value
    return out


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("model", ["production", "doubly"])
def test_constrained_outflows_equal_observed(
    austria: dict[str, Any], model: Model, decay: Decay
) -> None:
    fit = _fit_austria(austria, model, decay)
    observed = _sums(austria["origin"], austria["flow"])
    modelled = _sums(austria["origin"], fit.fitted)
    assert modelled.keys() == observed.keys()
    for label, total in observed.items():
        assert modelled[label] == pytest.approx(total, rel=1e-8), label


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("model", ["attraction", "doubly"])
def test_constrained_inflows_equal_observed(
    austria: dict[str, Any], model: Model, decay: Decay
) -> None:
    fit = _fit_austria(austria, model, decay)
    observed = _sums(austria["destination"], austria["flow"])
    modelled = _sums(austria["destination"], fit.fitted)
    for label, total in observed.items():
        assert modelled[label] == pytest.approx(total, rel=1e-8), label


@pytest.mark.parametrize("model", MODELS)
def test_power_decay_fit_is_sane(austria: dict[str, Any], model: Model) -> None:
    fit = _fit_austria(austria, model, "power")
    exp_fit = _fit_austria(austria, model, "exponential")
    assert "log_dij" in fit.params and "dij" not in fit.params
    assert list(fit.params)[:-1] == list(exp_fit.params)[:-1]
    assert fit.params["log_dij"] < 0.0  # flows fall with distance
    assert np.all(fit.fitted > 0.0) and fit.fitted.shape == austria["flow"].shape
    # a model with an intercept reproduces the total flow
    assert fit.fitted.sum() == pytest.approx(austria["flow"].sum(), rel=1e-9)
    assert 0.0 < fit.adj_pseudo_r2 < fit.pseudo_r2 < 1.0
    assert 0.0 < fit.ssi <= 1.0 and fit.srmse > 0.0
    assert fit.llf < 0.0 and fit.deviance > 0.0
    assert fit.aic == pytest.approx(-2.0 * fit.llf + 2.0 * len(fit.params))


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("model", MODELS)
def test_predict_reproduces_fitted(austria: dict[str, Any], model: Model, decay: Decay) -> None:
    fit = _fit_austria(austria, model, decay)
    pred = fit.predict(
        austria["origin"],
        austria["destination"],
        austria["dij"],
        austria["o_var"],
        austria["d_var"],
    )
    np.testing.assert_allclose(pred, fit.fitted, rtol=1e-12)


def test_fit_result_is_frozen(austria: dict[str, Any]) -> None:
    fit = _fit_austria(austria, "doubly")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.aic = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        fit.fitted[0] = 1.0


# --------------------------------------------------------------------------- #
# exact recovery of known power-decay parameters
# --------------------------------------------------------------------------- #
def _synthetic_table(n_zones: int = 6) -> dict[str, Any]:
    rng = np.random.default_rng(20240611)
    xy = rng.uniform(0.0, 100.0, size=(n_zones, 2))
    mass = rng.uniform(50.0, 5000.0, size=n_zones)
    names = np.array([f"z{i}" for i in range(n_zones)])
    oi, dj = (a.ravel() for a in np.meshgrid(np.arange(n_zones), np.arange(n_zones), indexing="ij"))
    keep = oi != dj
    oi, dj = oi[keep], dj[keep]
    return {
        "oi": oi,
        "dj": dj,
        "origin": names[oi],
        "destination": names[dj],
        "dij": np.hypot(*(xy[oi] - xy[dj]).T) + 1.0,
        "o_var": mass[oi],
        "d_var": mass[dj],
    }


@pytest.mark.parametrize("model", MODELS)
def test_power_decay_recovers_known_parameters(model: Model) -> None:
    t = _synthetic_table()
    n_zones = int(t["oi"].max()) + 1
    origin_fe = np.linspace(0.0, 1.5, n_zones)  # first level = 0 (dropped dummy)
    dest_fe = np.linspace(0.0, -0.8, n_zones)
    true = {"const": -2.0, "log_o_var": 0.7, "log_d_var": 1.1, "log_dij": -1.6}
    eta = true["const"] + true["log_dij"] * np.log(t["dij"])
    if model in ("production", "doubly"):
        eta = eta + origin_fe[t["oi"]]
        true |= {f"origin_z{i}": origin_fe[i] for i in range(1, n_zones)}
    if model in ("attraction", "doubly"):
        eta = eta + dest_fe[t["dj"]]
        true |= {f"dest_z{i}": dest_fe[i] for i in range(1, n_zones)}
    if model in ("unconstrained", "attraction"):
        eta = eta + true["log_o_var"] * np.log(t["o_var"])
    else:
        del true["log_o_var"]
    if model in ("unconstrained", "production"):
        eta = eta + true["log_d_var"] * np.log(t["d_var"])
    else:
        del true["log_d_var"]
    flow = np.exp(eta)
    fit = fit_gravity(
        flow,
        t["dij"],
        origin=t["origin"],
        destination=t["destination"],
        o_var=t["o_var"],
        d_var=t["d_var"],
        model=model,
        decay="power",
    )
    assert set(fit.params) == set(true)
    for term, value in true.items():
        assert fit.params[term] == pytest.approx(value, abs=1e-6), term
    np.testing.assert_allclose(fit.fitted, flow, rtol=1e-6)
    assert fit.ssi == pytest.approx(1.0, abs=1e-6)
    assert fit.deviance == pytest.approx(0.0, abs=1e-6)


def test_fit_recovers_gravity_flows_exponential() -> None:
    t = _synthetic_table(5)
    flow = gravity_flows(
        t["dij"], t["o_var"], t["d_var"], beta=0.03, decay="exponential", k=2.5, alpha=0.9
    )
    fit = fit_gravity(flow, t["dij"], o_var=t["o_var"], d_var=t["d_var"], decay="exponential")
    expected = {"const": math.log(2.5), "log_o_var": 0.9, "log_d_var": 1.0, "dij": -0.03}
    assert fit.params == pytest.approx(expected, abs=1e-8)


# --------------------------------------------------------------------------- #
# gravity_flows, checked by hand on a 3 x 3 toy
# --------------------------------------------------------------------------- #
# zones a, b, c; all nine pairs (intra-zonal distance 1)
TOY_ORIGIN = np.repeat(np.array(["a", "b", "c"]), 3)
TOY_DIST = np.array([1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0])
TOY_O = np.repeat(np.array([10.0, 20.0, 40.0]), 3)
TOY_D = np.tile(np.array([5.0, 10.0, 20.0]), 3)


def test_gravity_flows_power_by_hand() -> None:
    # T_ij = 0.1 * O_i * D_j / d_ij^2
    got = gravity_flows(TOY_DIST, TOY_O, TOY_D, beta=2.0, k=0.1)
    expected = [5.0, 2.5, 1.25, 2.5, 20.0, 10.0, 1.25, 10.0, 80.0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_gravity_flows_exponential_by_hand() -> None:
    # beta = ln 2: f(d) = 2^-d; O^0.5 = 2, 4, 8 for O = 4, 16, 64; gamma = 2 on D = 1, 2, 3
    o = np.repeat(np.array([4.0, 16.0, 64.0]), 3)
    d = np.tile(np.array([1.0, 2.0, 3.0]), 3)
    got = gravity_flows(
        TOY_DIST, o, d, beta=math.log(2.0), decay="exponential", alpha=0.5, gamma=2.0
    )
    # row a: 2*1/2, 2*4/4, 2*9/16; row b: 4*1/4, 4*4/2, 4*9/4; row c: 8*1/16, 8*4/4, 8*9/2
    expected = [1.0, 2.0, 1.125, 1.0, 8.0, 9.0, 0.5, 8.0, 36.0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_gravity_flows_production_constrained_by_hand() -> None:
    # weights D_j / d_ij^2: a (5, 2.5, 1.25), b (1.25, 10, 5), c (0.3125, 2.5, 20)
    production = {"a": 100.0, "b": 65.0, "c": 73.0}
    got = gravity_flows(TOY_DIST, TOY_O, TOY_D, beta=2.0, origin=TOY_ORIGIN, production=production)
    expected = [400 / 7, 200 / 7, 100 / 7, 5.0, 40.0, 20.0, 1.0, 8.0, 64.0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # the same with one production value per row; k and alpha cancel
    per_row = np.repeat(np.array([100.0, 65.0, 73.0]), 3)
    again = gravity_flows(
        TOY_DIST, TOY_O, TOY_D, beta=2.0, k=7.0, alpha=3.0, origin=TOY_ORIGIN, production=per_row
    )
    np.testing.assert_allclose(again, expected, rtol=1e-12)


def test_gravity_flows_production_survives_underflow() -> None:
    # exp(-5 * 300) underflows to 0 without the per-origin log-space normalisation
    got = gravity_flows(
        [300.0, 301.0],
        [1.0, 1.0],
        [1.0, 1.0],
        beta=5.0,
        decay="exponential",
        origin=["a", "a"],
        production={"a": 1.0},
    )
    np.testing.assert_allclose(got, [1 / (1 + math.exp(-5)), 1 / (1 + math.exp(5))])


@settings(max_examples=40, deadline=None)
@given(
    n_zones=st.integers(3, 6),
    seed=st.integers(0, 2**32 - 1),
    beta=st.floats(0.0, 3.0),
    decay=st.sampled_from(DECAYS),
)
def test_gravity_flows_production_totals(
    n_zones: int, seed: int, beta: float, decay: Decay
) -> None:
    t = _synthetic_table(n_zones)
    rng = np.random.default_rng(seed)
    production = {f"z{i}": float(p) for i, p in enumerate(rng.uniform(0.0, 1e4, n_zones))}
    got = gravity_flows(
        t["dij"] / 10.0,
        t["o_var"],
        t["d_var"],
        beta=beta,
        decay=decay,
        origin=t["origin"],
        production=production,
    )
    totals = _sums(t["origin"], got)
    for label, total in production.items():
        assert totals[label] == pytest.approx(total, rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    n_zones=st.integers(3, 6),
    seed=st.integers(0, 2**32 - 1),
    decay=st.sampled_from(DECAYS),
)
def test_production_fit_preserves_outflows(n_zones: int, seed: int, decay: Decay) -> None:
    t = _synthetic_table(n_zones)
    rng = np.random.default_rng(seed)
    flow = rng.poisson(50.0, size=t["dij"].shape).astype(float) + 1.0
    fit = fit_gravity(
        flow, t["dij"], origin=t["origin"], d_var=t["d_var"], model="production", decay=decay
    )
    observed = _sums(t["origin"], flow)
    modelled = _sums(t["origin"], fit.fitted)
    for label, total in observed.items():
        assert modelled[label] == pytest.approx(total, rel=1e-8)


# --------------------------------------------------------------------------- #
# the absorbed fixed effects against an explicit dummy design
# --------------------------------------------------------------------------- #
def _dense_design(t: dict[str, Any], model: Model, decay: Decay) -> tuple[FloatArray, list[str]]:
    """spint's design with explicit dummy columns (the first label dropped)."""
    columns: list[FloatArray] = [np.ones(t["dij"].shape[0])]
    names = ["const"]
    for key, prefix, used in (
        ("origin", "origin_", model in ("production", "doubly")),
        ("destination", "dest_", model in ("attraction", "doubly")),
    ):
        if used:
            levels, codes = np.unique(t[key], return_inverse=True)
            for i, level in enumerate(levels.tolist()[1:], start=1):
                columns.append((codes == i).astype(float))
                names.append(f"{prefix}{level}")
    if model in ("unconstrained", "attraction"):
        columns.append(np.log(t["o_var"]))
        names.append("log_o_var")
    if model in ("unconstrained", "production"):
        columns.append(np.log(t["d_var"]))
        names.append("log_d_var")
    columns.append(np.log(t["dij"]) if decay == "power" else t["dij"])
    names.append("log_dij" if decay == "power" else "dij")
    return np.column_stack(columns), names


def _dense_poisson(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Newton-Raphson with step halving for the Poisson log-link GLM, explicit design."""

    def deviance(beta: FloatArray) -> float:
        with np.errstate(over="ignore"):
            mu = np.exp(x @ beta)
        return float(2.0 * np.sum(xlogy(y, y / mu) - (y - mu))) if np.all(mu > 0) else math.inf

    mu = (y + y.mean()) / 2.0
    beta = np.linalg.lstsq(x, np.log(mu), rcond=None)[0]
    dev = deviance(beta)
    for _ in range(500):
        mu = np.exp(x @ beta)
        root = np.sqrt(mu)
        step = np.linalg.lstsq(x * root[:, None], (y - mu) / root, rcond=None)[0]
        for _halving in range(50):
            if (new := deviance(beta + step)) <= dev * (1.0 + 1e-14):
                break
            step /= 2.0
        else:
            break  # no further descent (as when no finite estimate exists)
        beta, dev = beta + step, new
        if np.max(np.abs(step)) < 1e-12 * (1.0 + np.max(np.abs(beta))):
            break
    return beta, np.exp(x @ beta)


def _random_table(rng: np.random.Generator, n_o: int, n_d: int, n_rows: int) -> dict[str, Any]:
    """Flows on random pairs: some pairs missing, some repeated, some zero."""
    base = np.arange(max(n_o, n_d))  # every label at least once
    oi = np.r_[base % n_o, rng.integers(0, n_o, max(n_rows - base.shape[0], 0))]
    dj = np.r_[rng.permutation(base % n_d), rng.integers(0, n_d, max(n_rows - base.shape[0], 0))]
    dij = rng.uniform(1.0, 60.0, oi.shape[0])
    o_mass = rng.uniform(10.0, 1000.0, n_o)
    d_mass = rng.uniform(10.0, 1000.0, n_d)
    mean = np.exp(0.5 + 0.4 * np.log(d_mass[dj]) - 0.04 * dij)
    return {
        "flow": rng.poisson(mean).astype(float),
        "dij": dij,
        "origin": np.array([f"o{i:02d}" for i in oi]),
        "destination": np.array([f"d{j:02d}" for j in dj]),
        "o_var": o_mass[oi],
        "d_var": d_mass[dj],
    }


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_o=st.integers(2, 15),
    n_d=st.integers(2, 15),
    fill=st.sampled_from([0.2, 0.15, 0.4, 0.7, 1.0, 1.5]),
    model=st.sampled_from(["production", "attraction", "doubly"]),
    decay=st.sampled_from(DECAYS),
)
def test_absorbed_effects_equal_dummy_design(
    seed: int, n_o: int, n_d: int, fill: float, model: Model, decay: Decay
) -> None:
    # square and oblong, full and sparse (more cells than rows), repeated pairs, zeros
    rng = np.random.default_rng(seed)
    t = _random_table(rng, n_o, n_d, int(fill * n_o * n_d) + 6)
    for key, labels in (("origin", t["origin"]), ("destination", t["destination"])):
        totals = _sums(labels, t["flow"])
        if min(totals.values()) <= 0.0 and model in (
            ("production", "doubly") if key == "origin" else ("attraction", "doubly")
        ):
            event("zero margin")
            return  # an error, tested elsewhere
    x, names = _dense_design(t, model, decay)
    rank = int(np.linalg.matrix_rank(x))
    kwargs: dict[str, Any] = {key: t[key] for key in ("origin", "destination", "o_var", "d_var")}
    if x.shape[0] <= x.shape[1]:
        with pytest.raises(InvalidValueError, match="too few"):
            fit_gravity(t["flow"], t["dij"], model=model, decay=decay, **kwargs)
        event("too few flows")
        return
    if rank < x.shape[1]:  # origins and destinations in separate groups
        with pytest.raises(InvalidValueError, match=rf"rank {rank} < {x.shape[1]} terms"):
            fit_gravity(t["flow"], t["dij"], model=model, decay=decay, **kwargs)
        event("rank-deficient")
        return
    beta, mu = _dense_poisson(x, t["flow"])
    if mu.min() < 1e-6:
        # zero flows separate the table: no finite maximum-likelihood estimate, the
        # coefficients of both fits run off to infinity and stop anywhere
        event("no finite estimate")
        return
    event(f"{model}, {'sparse' if 4 * x.shape[0] < n_o * n_d else 'dense'} table")
    fit = fit_gravity(t["flow"], t["dij"], model=model, decay=decay, **kwargs)
    assert list(fit.params) == names
    np.testing.assert_allclose(list(fit.params.values()), beta, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(fit.fitted, mu, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(("n_o", "n_d"), [(7, 4), (4, 7)])
def test_doubly_recovers_known_parameters_on_oblong_table(n_o: int, n_d: int) -> None:
    # the larger side is absorbed, the smaller kept: both must give spint's
    # normalisation (const = first origin + first destination effect)
    oi, dj = np.divmod(np.arange(n_o * n_d), n_d)
    rng = np.random.default_rng(7)
    dij = rng.uniform(1.0, 30.0, oi.shape[0])
    origin_fe = np.linspace(0.0, 1.2, n_o)
    dest_fe = np.linspace(0.0, -0.9, n_d)
    flow = np.exp(1.5 + origin_fe[oi] + dest_fe[dj] - 0.07 * dij)
    fit = fit_gravity(
        flow,
        dij,
        origin=np.array([f"o{i}" for i in oi]),
        destination=np.array([f"d{j}" for j in dj]),
        model="doubly",
        decay="exponential",
    )
    true = {"const": 1.5}
    true |= {f"origin_o{i}": origin_fe[i] for i in range(1, n_o)}
    true |= {f"dest_d{j}": dest_fe[j] for j in range(1, n_d)}
    true |= {"dij": -0.07}
    assert list(fit.params) == list(true)
    for term, value in true.items():
        assert fit.params[term] == pytest.approx(value, abs=1e-9), term
    np.testing.assert_allclose(fit.fitted, flow, rtol=1e-9)


@pytest.mark.parametrize(("seed", "n_o", "n_d", "n_rows"), [(11, 30, 30, 120), (12, 40, 25, 150)])
def test_sparse_doubly_table_equals_dummy_design(
    seed: int, n_o: int, n_d: int, n_rows: int
) -> None:
    # many labels but few pairs: the cells are held as a sparse matrix
    t = _random_table(np.random.default_rng(seed), n_o, n_d, n_rows)
    x, names = _dense_design(t, "doubly", "power")
    beta, mu = _dense_poisson(x, t["flow"])
    fit = fit_gravity(
        t["flow"],
        t["dij"],
        origin=t["origin"],
        destination=t["destination"],
        model="doubly",
    )
    assert list(fit.params) == names
    np.testing.assert_allclose(list(fit.params.values()), beta, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(fit.fitted, mu, rtol=1e-7, atol=1e-9)


def _full_table(n: int, seed: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, 40.0 * math.sqrt(n), size=(n, 2))
    mass = np.exp(rng.normal(8.0, 1.0, n))
    oi, dj = np.divmod(np.arange(n * n), n)
    dij = np.hypot(*(xy[oi] - xy[dj]).T) + 5.0
    names = np.array([f"k{i:03d}" for i in range(n)])
    mean = np.exp(-6.0 + 0.8 * np.log(mass[oi]) + 0.9 * np.log(mass[dj]) - 0.02 * dij)
    return {
        "flow": rng.poisson(mean).astype(float) + (oi == dj),
        "dij": dij,
        "origin": names[oi],
        "destination": names[dj],
        "d_var": mass[dj],
    }


@pytest.mark.parametrize("model", ["production", "doubly"])
def test_full_kommun_size_table_needs_no_dense_dummies(model: Model) -> None:
    # 290 x 290 = 84,100 pairs: the dummy design alone would be 84,100 x 290 doubles
    # (186 MiB; the old fit peaked at ~560 MiB); the absorbed fit stays near O(N)
    t = _full_table(290)
    tracemalloc.start()
    try:
        fit = fit_gravity(
            t["flow"],
            t["dij"],
            origin=t["origin"],
            destination=t["destination"],
            d_var=t["d_var"],
            model=model,
            decay="exponential",
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20
    assert fit.params["dij"] == pytest.approx(-0.02, abs=2e-3)
    observed = _sums(t["origin"], t["flow"])
    modelled = _sums(t["origin"], fit.fitted)
    for label, total in observed.items():
        assert modelled[label] == pytest.approx(total, rel=1e-8), label


@pytest.mark.parametrize("model", ["production", "doubly"])
def test_non_convergence_warns(model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GRAVITY, "_MAX_ITER", 2)
    with pytest.warns(GRAVITY.StrukturbildWarning, match="did not converge in 2 iterations"):
        fit = _call_fit(GOOD | {"flow": GOOD["flow"] * 1000.0}, model=model)
    assert np.all(np.isfinite(fit.fitted))


# --------------------------------------------------------------------------- #
# bad inputs
# --------------------------------------------------------------------------- #
GOOD: dict[str, Any] = {
    "flow": np.array([5.0, 3.0, 8.0, 1.0, 4.0, 6.0, 2.0]),
    "distance": np.array([1.0, 2.0, 3.0, 1.5, 2.5, 3.5, 4.0]),
    "origin": np.array(["a", "a", "b", "b", "c", "c", "c"]),
    "destination": np.array(["b", "c", "a", "c", "a", "b", "b"]),
    "o_var": np.array([10.0, 10.0, 20.0, 20.0, 30.0, 30.0, 30.0]),
    "d_var": np.array([20.0, 30.0, 10.0, 30.0, 10.0, 20.0, 20.0]),
}


def _with(name: str, row: int, value: Any) -> dict[str, Any]:
    kwargs = {key: value.copy() for key, value in GOOD.items()}
    arr = kwargs[name].astype(object) if value is None or isinstance(value, str) else kwargs[name]
    arr[row] = value
    kwargs[name] = arr
    return kwargs


def _call_fit(kwargs: dict[str, Any], **extra: Any) -> GravityFit:
    kw = dict(kwargs)
    return fit_gravity(kw.pop("flow"), kw.pop("distance"), **kw, **extra)


@pytest.mark.parametrize(
    ("name", "row", "value", "pattern"),
    [
        ("flow", 3, -1.0, r"flow must be >= 0.*array index 3"),
        ("flow", 2, np.nan, r"flow must be finite.*array index 2"),
        ("flow", 5, np.inf, r"flow must be finite.*array index 5"),
        ("distance", 4, 0.0, r"distance must be > 0.*array index 4"),
        ("distance", 1, -np.inf, r"distance must be finite.*array index 1"),
        ("o_var", 6, 0.0, r"o_var must be > 0.*array index 6"),
        ("d_var", 0, -2.0, r"d_var must be > 0.*array index 0"),
        ("flow", 4, "many", r"flow must be numeric.*'many'.*array index 4"),
    ],
)
def test_bad_values_name_argument_and_row(name: str, row: int, value: Any, pattern: str) -> None:
    with pytest.raises(InvalidValueError, match=pattern) as info:
        _call_fit(_with(name, row, value))
    assert info.value.column == name and info.value.row == row + 1
    assert isinstance(info.value, ValueError)


def test_zero_distance_allowed_for_exponential_only() -> None:
    kwargs = _with("distance", 4, 0.0)
    fit = _call_fit(kwargs, decay="exponential")
    assert np.all(np.isfinite(fit.fitted))
    with pytest.raises(InvalidValueError, match=r"distance must be >= 0.*array index 2"):
        _call_fit(_with("distance", 2, -1.0), decay="exponential")


@pytest.mark.parametrize("name", ["distance", "o_var", "d_var", "origin", "destination"])
def test_unequal_lengths_raise(name: str) -> None:
    kwargs = dict(GOOD)
    kwargs[name] = GOOD[name][:-1]
    with pytest.raises(ValueError, match=rf"{name} has length 6, expected 7"):
        _call_fit(kwargs, model="doubly" if name in ("origin", "destination") else "unconstrained")


def test_missing_arguments_and_choices_raise() -> None:
    with pytest.raises(ValueError, match="origin labels are required for a production model"):
        fit_gravity(GOOD["flow"], GOOD["distance"], d_var=GOOD["d_var"], model="production")
    with pytest.raises(ValueError, match="destination labels are required"):
        fit_gravity(GOOD["flow"], GOOD["distance"], origin=GOOD["origin"], model="doubly")
    with pytest.raises(ConfigError, match="model must be one of"):
        _call_fit(GOOD, model="gravity")
    with pytest.raises(ConfigError, match="decay must be one of"):
        _call_fit(GOOD, decay="exp")
    with pytest.raises(ValueError, match=r"missing label.*array index 1"):
        _call_fit(_with("origin", 1, None), model="production")
    with pytest.raises(ValueError, match="one-dimensional"):
        fit_gravity(np.ones((3, 3)), np.ones(9))


def test_degenerate_data_raise() -> None:
    with pytest.raises(ValueError, match="flow is empty"):
        fit_gravity([], [])
    with pytest.raises(ValueError, match="at least one positive"):
        fit_gravity(np.zeros(7), GOOD["distance"])
    zero_origin = GOOD["flow"].copy()
    zero_origin[:2] = 0.0  # origin "a" sends nothing
    with pytest.raises(ValueError, match="origin 'a' has zero total flow"):
        _call_fit(GOOD | {"flow": zero_origin}, model="production")
    with pytest.raises(ValueError, match="rank-deficient"):
        _call_fit(GOOD | {"o_var": np.full(7, 5.0)})  # log(o_var) collinear with const
    with pytest.raises(ValueError, match="too few"):
        fit_gravity(GOOD["flow"][:3], GOOD["distance"][:3], o_var=GOOD["o_var"][:3])


def _rank(t: dict[str, Any], model: Model, decay: Decay = "exponential") -> int:
    return int(np.linalg.matrix_rank(_dense_design(t, model, decay)[0]))


def test_rank_deficient_constrained_models_raise() -> None:
    t = _synthetic_table(6)  # all 30 pairs of 6 zones, no intra-zonal flows
    t["flow"] = np.exp(2.0 - 0.02 * t["dij"])
    oi, dj = t["oi"], t["dj"]
    cases: list[tuple[Model, Decay, dict[str, Any], str]] = [
        # log(d_var) constant: collinear with the constant
        ("production", "exponential", {"d_var": np.full(30, 5.0)}, "constant within each origin"),
        # log(d_var) constant within each origin: collinear with the origin effects
        ("production", "exponential", {"d_var": t["o_var"]}, "constant within each origin"),
        ("attraction", "exponential", {"o_var": t["d_var"]}, "within each destination"),
        # log(d_var) = 2 log(dij): collinear with the power-decay term
        ("production", "power", {"d_var": t["dij"] ** 2}, "collinear o_var/d_var/distance"),
        # a cost that is an origin part plus a destination part
        ("doubly", "exponential", {"dij": 10.0 + 3.0 * oi + 5.0 * dj}, "sum of an origin and"),
        ("doubly", "power", {"dij": (1.0 + oi) * (2.0 + dj)}, "sum of an origin and"),
    ]
    for model, decay, change, hint in cases:
        bad = t | change
        k = len(_dense_design(bad, model, decay)[1])
        expected = rf"rank-deficient \(rank {_rank(bad, model, decay)} < {k} terms\)"
        with pytest.raises(InvalidValueError, match=expected) as info:
            fit_gravity(
                bad["flow"],
                bad["dij"],
                origin=bad["origin"],
                destination=bad["destination"],
                o_var=bad["o_var"],
                d_var=bad["d_var"],
                model=model,
                decay=decay,
            )
        assert hint in str(info.value), (model, decay)


def test_doubly_on_separate_groups_raises() -> None:
    # origins a-c only send to A-C, d-e only to D-E: the two groups' effects are
    # identified only up to a constant each
    pairs = [(o, d) for group in ("abc", "de") for o in group for d in group.upper()]
    t = {
        "origin": np.array([o for o, _ in pairs]),
        "destination": np.array([d for _, d in pairs]),
        "dij": np.linspace(1.0, 9.0, len(pairs)),
    }
    t["flow"] = np.round(50.0 * np.exp(-0.2 * t["dij"])) + 1.0
    k = len(_dense_design(t, "doubly", "power")[1])
    assert _rank(t, "doubly", "power") == k - 1
    with pytest.raises(InvalidValueError, match=rf"rank {k - 1} < {k} terms.*fall into 2 groups"):
        fit_gravity(
            t["flow"], t["dij"], origin=t["origin"], destination=t["destination"], model="doubly"
        )
    # one group is fine
    fit_gravity(
        t["flow"][:9],
        t["dij"][:9],
        origin=t["origin"][:9],
        destination=t["destination"][:9],
        model="doubly",
    )


@pytest.mark.parametrize("model", ["attraction", "doubly"])
def test_zero_inflow_destination_raises(model: Model) -> None:
    flow = GOOD["flow"].copy()
    flow[GOOD["destination"] == "c"] = 0.0
    with pytest.raises(ValueError, match="destination 'c' has zero total flow"):
        _call_fit(GOOD | {"flow": flow}, model=model)


def test_predict_rejects_unseen_and_missing() -> None:
    fit = _call_fit(GOOD, model="production")
    with pytest.raises(UnknownCodeError, match=r"origin 'z' was not seen.*array index 1") as info:
        fit.predict(["a", "z"], ["b", "b"], [1.0, 2.0], None, [20.0, 20.0])
    assert isinstance(info.value, ValueError) and info.value.row == 2
    # destinations are free in a production model; o_var is not needed
    new = fit.predict(["a", "c"], ["q", "r"], [1.0, 2.0], None, [20.0, 25.0])
    assert new.shape == (2,) and np.all(new > 0.0)
    with pytest.raises(ValueError, match="origin labels are required"):
        fit.predict(None, None, [1.0], None, [20.0])
    with pytest.raises(ValueError, match="d_var is required"):
        fit.predict(["a"], ["b"], [1.0])
    with pytest.raises(ValueError, match="distance must be > 0"):
        fit.predict(["a"], ["b"], [0.0], None, [20.0])


def test_gravity_flows_bad_inputs() -> None:
    d, o, dv = GOOD["distance"], GOOD["o_var"], GOOD["d_var"]
    with pytest.raises(ValueError, match=r"d_var has length 6, expected 7"):
        gravity_flows(d, o, dv[:-1], beta=1.0)
    with pytest.raises(ValueError, match=r"o_var must be > 0.*array index 2"):
        gravity_flows(d, np.where(np.arange(7) == 2, 0.0, o), dv, beta=1.0)
    with pytest.raises(ValueError, match=r"distance must be > 0.*array index 0"):
        gravity_flows(np.r_[0.0, d[1:]], o, dv, beta=1.0)
    with pytest.raises(ConfigError, match="beta must be finite"):
        gravity_flows(d, o, dv, beta=math.nan)
    with pytest.raises(ConfigError, match="k must be > 0"):
        gravity_flows(d, o, dv, beta=1.0, k=0.0)
    with pytest.raises(ValueError, match="given together"):
        gravity_flows(d, o, dv, beta=1.0, origin=GOOD["origin"])
    with pytest.raises(ValueError, match=r"production has no entry for origin 'c'.*index 4"):
        gravity_flows(d, o, dv, beta=1.0, origin=GOOD["origin"], production={"a": 1, "b": 2})
    with pytest.raises(ValueError, match=r"production must be >= 0.*array index 2"):
        gravity_flows(
            d, o, dv, beta=1.0, origin=GOOD["origin"], production={"a": 1, "b": -2, "c": 1}
        )
    inconsistent = np.array([5.0, 5.0, 7.0, 7.0, 9.0, 9.0, 8.0])
    with pytest.raises(ValueError, match=r"same for all rows of an origin.*array index 6"):
        gravity_flows(d, o, dv, beta=1.0, origin=GOOD["origin"], production=inconsistent)
