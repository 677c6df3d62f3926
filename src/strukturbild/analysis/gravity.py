"""Gravity-type spatial interaction models (Wilson's family), fitted as Poisson GLMs.

The four members of Wilson's (1971) family of spatial interaction models are
calibrated as log-linear Poisson regressions (Flowerdew and Aitkin 1982), exactly as
PySAL's *spint* does (Oshan 2016):

``unconstrained``
    ``T_ij = exp(k) * O_i^mu * D_j^alpha * f(d_ij)``, design ``const, log_o_var,
    log_d_var, <decay term>``.
``production`` (origin-constrained)
    origin fixed effects replace the origin mass: ``const, origin_<label>...,
    log_d_var, <decay term>``.
``attraction`` (destination-constrained)
    destination fixed effects replace the destination mass: ``const,
    dest_<label>..., log_o_var, <decay term>``.
``doubly``
    origin and destination fixed effects: ``const, origin_<label>...,
    dest_<label>..., <decay term>``.

Fixed effects are dummy variables for the sorted unique labels with the first
(smallest) label dropped, as in spint.  The decay term is ``dij`` (the raw cost) for
exponential decay ``f(d) = exp(beta * d)`` and ``log_dij`` for power decay
``f(d) = d^beta``; the fitted coefficient is therefore *negative* for a decaying
model.  The fit statistics follow spint/spglm: ``llf`` is the full Poisson
log-likelihood (including ``-log(y!)``), ``AIC = -2 llf + 2k``, McFadden's
pseudo-R² is ``1 - llf / llnull`` against the intercept-only model, the adjusted
version is ``1 - (llf - k) / llnull``, ``SSI`` is the Sørensen similarity index
``mean(2 min(y, yhat) / (y + yhat))`` and ``SRMSE`` is
``sqrt(mean((y - yhat)^2)) / mean(y)``.

The constrained models are calibrated without forming their dummies: each
iteratively reweighted least-squares (IRLS) step, the same step as on spint's
dummy design, absorbs the fixed effects (Guimarães and Portugal 2010; Correia,
Guimarães and Zylkin 2020).  By the Frisch-Waugh-Lovell theorem the few other
coefficients are the weighted regression of the working response on the other
terms after both are demeaned within origins (the origin dummies' cross-product is
diagonal); for the doubly-constrained model the destination effects are then
eliminated through their ``n_d x n_d`` normal matrix (a Schur complement), for
whichever of origins and destinations are fewer.  The fixed effects follow by
back-substitution; at convergence they are Wilson's (1971) balancing factors, e.g.
``exp(a_i) = O_i / sum_j exp(x_ij' b)`` for the production-constrained model with
``O_i`` the observed outflow.  The coefficients reported are spint's: ``const`` is
the effect of the first label(s), a dummy is a label's effect minus the first
label's.  The work per step is ``O(N)`` for ``N`` pairs (``O(N + n_o n_d
min(n_o, n_d))`` for the doubly-constrained model) instead of ``O(N k^2)`` with
``k`` dummies.

References
----------
Wilson, A. G. (1971). A family of spatial interaction models, and associated
developments. *Environment and Planning A*, 3(1), 1-32.

Flowerdew, R. and Aitkin, M. (1982). A method of fitting the gravity model based on
the Poisson distribution. *Journal of Regional Science*, 22(2), 191-202.

Oshan, T. M. (2016). A primer for working with the Spatial Interaction modeling
(SpInt) module in the python spatial analysis library (PySAL). *REGION*, 3(2),
R11-R23.  (Software: PySAL ``spint``, reproduced here to 1e-4.)

Lovell, M. C. (1963). Seasonal adjustment of economic time series and multiple
regression analysis. *Journal of the American Statistical Association*, 58(304),
993-1010.

Guimarães, P. and Portugal, P. (2010). A simple feasible procedure to fit models
with high-dimensional fixed effects. *The Stata Journal*, 10(4), 628-649.

Correia, S., Guimarães, P. and Zylkin, T. (2020). Fast Poisson estimation with
high-dimensional fixed effects. *The Stata Journal*, 20(1), 95-115.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg, sparse
from scipy.sparse import csgraph
from scipy.special import gammaln, xlogy

from ..errors import (
    ConfigError,
    EmptyInputError,
    InvalidValueError,
    StrukturbildWarning,
    UnknownCodeError,
)

__all__ = ["Decay", "GravityFit", "Model", "fit_gravity", "gravity_flows"]

Model = Literal["unconstrained", "production", "attraction", "doubly"]
Decay = Literal["power", "exponential"]

FloatArray = NDArray[np.float64]

_MODELS: tuple[str, ...] = get_args(Model)
_DECAYS: tuple[str, ...] = get_args(Decay)
_MAX_ITER = 100
_DEV_TOL = 1e-12
# rank test of the terms left after absorbing fixed effects: a term whose residual is
# below this fraction of its weighted norm is taken as collinear
_RANK_TOL = 1e-10


# --------------------------------------------------------------------------- #
# input validation
# --------------------------------------------------------------------------- #
def _bad(name: str, index: int, message: str) -> InvalidValueError:
    """Error naming the argument and the first bad row (1-based, plus the array index)."""
    return InvalidValueError(f"{name} {message} (array index {index})", column=name, row=index + 1)


def _as_1d(name: str, values: ArrayLike) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InvalidValueError(
            f"{name} must be one-dimensional, got shape {arr.shape}", column=name
        )
    return arr


def _check_length(name: str, arr: NDArray[Any], n: int | None) -> None:
    if n is not None and arr.shape[0] != n:
        raise InvalidValueError(
            f"{name} has length {arr.shape[0]}, expected {n} (the length of the first array)",
            column=name,
        )


def _as_float(
    name: str,
    values: ArrayLike,
    n: int | None,
    *,
    lower: float | None = None,
    strict: bool = False,
) -> FloatArray:
    """Convert to a 1-D float array; check length, finiteness and a lower bound."""
    raw = _as_1d(name, values)
    _check_length(name, raw, n)
    try:
        arr = raw.astype(np.float64)
    except (TypeError, ValueError):
        for i, value in enumerate(raw.tolist()):
            try:
                float(value)
            except (TypeError, ValueError):
                raise _bad(name, i, f"must be numeric, got {value!r}") from None
        raise InvalidValueError(f"{name} must be numeric", column=name) from None
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _bad(name, i, f"must be finite, got {arr[i]}")
    if lower is not None:
        bad = arr <= lower if strict else arr < lower
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            op = ">" if strict else ">="
            raise _bad(name, i, f"must be {op} {lower:g}, got {arr[i]:g}")
    return arr


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_labels(name: str, values: ArrayLike, n: int) -> NDArray[Any]:
    arr = _as_1d(name, values)
    _check_length(name, arr, n)
    if arr.dtype.kind == "f":
        bad = np.isnan(arr)
        if bad.any():
            raise _bad(name, int(np.flatnonzero(bad)[0]), "has a missing label")
    elif arr.dtype.kind == "O":
        for i, value in enumerate(arr):
            if _is_missing(value):
                raise _bad(name, i, "has a missing label")
    return arr


def _levels(name: str, labels: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    try:
        levels, codes = np.unique(labels, return_inverse=True)
    except TypeError as exc:
        raise InvalidValueError(
            f"{name} labels must be mutually sortable: {exc}", column=name
        ) from None
    return levels, codes.reshape(-1)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")


def _decay_column(distance: FloatArray, decay: str) -> FloatArray:
    return np.log(distance) if decay == "power" else distance


def _validate_distance(distance: ArrayLike, n: int | None, decay: str) -> FloatArray:
    # power decay needs log(d): d > 0; exponential decay accepts d >= 0
    return _as_float("distance", distance, n, lower=0.0, strict=decay == "power")


# --------------------------------------------------------------------------- #
# Poisson GLM by iteratively reweighted least squares
# --------------------------------------------------------------------------- #
def _deviance(y: FloatArray, mu: FloatArray) -> float:
    return float(2.0 * np.sum(xlogy(y, y / mu) - (y - mu)))


def _loglike(y: FloatArray, mu: FloatArray) -> float:
    return float(np.sum(xlogy(y, mu) - mu - gammaln(y + 1.0)))


_COLLINEAR = "check for constant or collinear o_var/d_var/distance"


def _rank_deficient(rank: int, k: int, reason: str = _COLLINEAR) -> InvalidValueError:
    return InvalidValueError(f"design matrix is rank-deficient (rank {rank} < {k} terms); {reason}")


_Params = TypeVar("_Params")
# one weighted least-squares step: (weights, working response) -> (eta, coefficients)
_Solve = Callable[[FloatArray, FloatArray], tuple[FloatArray, _Params]]


def _irls(y: FloatArray, solve: _Solve[_Params]) -> tuple[_Params, FloatArray]:
    """Maximum-likelihood Poisson regression with log link.

    Iteratively reweighted least squares: each step regresses the working response
    ``z = eta + (y - mu) / mu`` on the design with weights ``mu`` (``solve``).
    Starts like spglm (``mu0 = (y + mean(y)) / 2``) and iterates until the relative
    change in deviance is below ``1e-12`` (or within the rounding noise of the
    deviance sum, for exact fits).  spglm stops earlier, at an absolute change of
    ``1e-6`` in the *smallest* coefficient update; on the Austrian data the two
    differ by less than 1e-7 in any coefficient.
    """
    mu = (y + y.mean()) / 2.0
    eta = np.log(mu)
    dev_old = math.inf
    # rounding noise of the deviance sum: an exact fit has deviance ~0 but cannot
    # change by less than this from one iteration to the next
    noise = 64.0 * np.finfo(np.float64).eps * float(y.sum())
    params: _Params | None = None
    for _ in range(_MAX_ITER):
        eta, params = solve(mu, eta + (y - mu) / mu)
        with np.errstate(over="ignore"):
            mu = np.exp(eta)
        if not np.all(np.isfinite(mu)) or np.any(mu <= 0.0):
            raise InvalidValueError("Poisson IRLS diverged (fitted flows over- or underflowed)")
        dev = _deviance(y, mu)
        if abs(dev - dev_old) <= _DEV_TOL * (abs(dev) + 0.1) + noise:
            break
        dev_old = dev
    else:
        warnings.warn(
            f"Poisson IRLS did not converge in {_MAX_ITER} iterations",
            StrukturbildWarning,
            stacklevel=3,
        )
    assert params is not None  # _MAX_ITER >= 1
    return params, mu


def _dense_step(x: FloatArray) -> _Solve[FloatArray]:
    """Weighted least squares on an explicit design ``x`` (the unconstrained model)."""
    k = x.shape[1]

    def solve(w: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray]:
        sw = np.sqrt(w)
        beta, _res, rank, _sv = np.linalg.lstsq(x * sw[:, None], z * sw, rcond=None)
        if rank < k:
            raise _rank_deficient(int(rank), k)
        return x @ beta, np.asarray(beta, dtype=np.float64)

    return solve


@dataclass(frozen=True)
class _Effect:
    """A set of fixed effects: the level (``0 .. n - 1``) of each row."""

    name: str
    codes: NDArray[np.intp]
    n: int


# effects of the first set, of the second set (empty without one), other coefficients
_Absorbed = tuple[FloatArray, FloatArray, FloatArray]


def _components(first: _Effect, second: _Effect) -> int:
    """Connected components of the bipartite graph of levels joined by rows."""
    n = first.n + second.n
    graph = sparse.coo_matrix(
        (np.ones(first.codes.shape[0], dtype=np.int8), (first.codes, second.codes + first.n)),
        shape=(n, n),
    )
    count, _labels = csgraph.connected_components(graph, directed=False)
    return int(count)


def _dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product of long vectors without BLAS.

    OpenBLAS splits long dot products over threads, and the many small calls of a
    fit then wait for descheduled threads on a busy machine (several times slower).
    """
    return float(np.einsum("i,i->", a, b))


def _weighted_lstsq(v: FloatArray, w: FloatArray, norms: FloatArray) -> tuple[FloatArray, int]:
    """Weighted least squares of ``v[-1]`` on the rows ``v[:-1]``; overwrites ``v``.

    Modified Gram-Schmidt on the rows with the response appended (backward stable
    for least squares, Björck 1967).  A regressor whose residual after the earlier
    ones has weighted norm at most ``_RANK_TOL * norms[i]`` does not count towards
    the rank; the coefficients are only meaningful at full rank.
    """
    p = v.shape[0] - 1
    r = np.zeros((p, p + 1))
    rank = 0
    for i in range(p):
        wv = w * v[i]
        r_ii = math.sqrt(max(_dot(wv, v[i]), 0.0))
        if not r_ii > _RANK_TOL * norms[i]:
            r[i, i] = 1.0
            continue
        rank += 1
        r[i, i] = r_ii
        wv /= r_ii
        v[i] /= r_ii
        for j in range(i + 1, p + 1):
            r[i, j] = _dot(wv, v[j])
            v[j] -= r[i, j] * v[i]
    coef = linalg.solve_triangular(r[:, :p], r[:, p])
    return np.asarray(coef, dtype=np.float64), rank


def _absorbed_step(
    x: FloatArray, first: _Effect, second: _Effect | None, k: int
) -> _Solve[_Absorbed]:
    """Weighted least squares with one or two sets of fixed effects absorbed.

    Solves the regression of ``z`` on ``[first dummies, second dummies, x]`` with
    weights ``w`` without forming the dummies (the Frisch-Waugh-Lovell theorem):
    ``x`` and ``z`` are demeaned within the levels of ``first`` (weighted means: the
    dummies' cross-product is diagonal); with a second set they are then regressed
    on the demeaned ``second`` dummies through their ``n2 x n2`` normal matrix
    ``diag(C) - M' diag(1/R) M`` (the Schur complement of the diagonal block; ``M``
    holds the weight of each first x second cell, ``R`` and ``C`` its margins; the
    effect of the first level is fixed at 0).  ``b`` is the weighted least-squares
    fit of the residual ``z`` on the residual ``x``, and the effects follow by
    back-substitution.  The work per step is ``O(N p^2)``, plus ``O(n1 n2^2)`` for
    the normal matrix with two sets.  ``x`` holds the other terms as rows.
    """
    g1, n1 = first.codes, first.n
    p, nrows = x.shape
    hint = (
        f"{_COLLINEAR} (a term that is constant within each {first.name} is absorbed by "
        f"the {first.name} effects)"
    )
    g2 = np.zeros(0, dtype=np.intp)
    n2 = 0
    cells = np.zeros(0, dtype=np.intp)  # index of each row's first x second cell
    pattern: tuple[NDArray[np.intp], NDArray[np.intp]] | None = None  # sparse cells
    if second is not None:
        g2, n2 = second.codes, second.n
        hint = (
            f"{_COLLINEAR} (a term that is a sum of an origin and a destination part is "
            "absorbed by the fixed effects)"
        )
        parts = _components(first, second)
        if parts > 1:
            raise _rank_deficient(
                k - (parts - 1),
                k,
                f"the origins and destinations fall into {parts} groups with no pair "
                "between groups, so their fixed effects are not identified (fit each group "
                "separately)",
            )
        if n1 * n2 <= 4 * nrows:  # dense enough: an n1 x n2 array of cell weights
            cells = g1 * n2 + g2
        else:  # a sparse n1 x n2 matrix of the cells that occur
            uniq, inverse = np.unique(g1 * n2 + g2, return_inverse=True)
            cells = inverse.reshape(-1)
            row, col = np.divmod(uniq, n2)
            pattern = (col, np.searchsorted(row, np.arange(n1 + 1)))

    def solve(w: FloatArray, z: FloatArray) -> tuple[FloatArray, _Absorbed]:
        v = np.empty((p + 1, nrows))  # the terms and the response, demeaned in place
        v[:p] = x
        v[p] = z
        r = np.bincount(g1, w, n1)
        vbar = np.empty((p + 1, n1))  # weighted means within the first levels
        for j in range(p + 1):
            vbar[j] = np.bincount(g1, w * v[j], n1) / r
            v[j] -= vbar[j][g1]
        gamma = np.zeros((p + 1, n2))  # coefficients on the demeaned second dummies
        m: Any = None
        if second is not None:
            if pattern is None:
                m = np.bincount(cells, w, n1 * n2).reshape(n1, n2)
            else:
                m = sparse.csr_matrix((np.bincount(cells, w), *pattern), shape=(n1, n2))
            if n2 > 1:
                # normal matrix of the demeaned second dummies but the first:
                # diag(C) - M' diag(1/R) M, without the first row and column
                if pattern is None:
                    scaled = m[:, 1:] / np.sqrt(r)[:, None]
                    normal = scaled.T @ scaled
                else:
                    scaled = sparse.diags(1.0 / np.sqrt(r)) @ m[:, 1:]
                    normal = (scaled.T @ scaled).toarray()
                del scaled
                normal *= -1.0
                normal[np.diag_indices(n2 - 1)] += np.bincount(g2, w, n2)[1:]
                rhs = np.stack([np.bincount(g2, w * v[j], n2)[1:] for j in range(p + 1)])
                try:
                    factor = linalg.cho_factor(normal, overwrite_a=True)
                except linalg.LinAlgError:
                    raise _rank_deficient(
                        k - 1,
                        k,
                        "the fitted flows between some groups of origins and destinations "
                        "are numerically zero (check for zero flows that split the table)",
                    ) from None
                del normal
                gamma[:, 1:] = linalg.cho_solve(factor, rhs.T).T
            # residual after the demeaned second dummies
            back = np.asarray(m @ gamma.T).T / r
            for j in range(p + 1):
                v[j] -= gamma[j][g2]
                v[j] += back[j][g1]
        norms = np.array([math.sqrt(_dot(w, xj * xj)) for xj in x])
        b, rank = _weighted_lstsq(v, w, norms)
        if rank < p:
            raise _rank_deficient(k - p + rank, k, hint)
        a = vbar[p] - b @ vbar[:p]
        c = gamma[p] - b @ gamma[:p]
        eta = b[0] * x[0]  # b @ x without a threaded BLAS call
        for bj, xj in zip(b[1:], x[1:], strict=True):
            eta += bj * xj
        if second is not None:
            a -= np.asarray(m @ c) / r
            eta += c[g2]
        eta += a[g1]
        return eta, (a, c, b)

    return solve


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class GravityFit:
    """A calibrated gravity model (the result of :func:`fit_gravity`).

    Attributes
    ----------
    model : {"unconstrained", "production", "attraction", "doubly"}
        Member of Wilson's family that was fitted.
    decay : {"power", "exponential"}
        Distance-decay function.
    params : dict of str to float
        Coefficients in design order: ``const``, ``origin_<label>`` (production and
        doubly), ``dest_<label>`` (attraction and doubly), ``log_o_var``
        (unconstrained and attraction), ``log_d_var`` (unconstrained and
        production), then ``dij`` (exponential) or ``log_dij`` (power).
    fitted : ndarray
        Fitted flows for the calibration rows (read-only).
    aic, deviance, llf, pseudo_r2, adj_pseudo_r2, ssi, srmse : float
        Fit statistics as defined by spint (see the module docstring).
    """

    model: Model
    decay: Decay
    params: dict[str, float]
    fitted: FloatArray
    aic: float
    deviance: float
    llf: float
    pseudo_r2: float
    adj_pseudo_r2: float
    ssi: float
    srmse: float
    _origin_levels: tuple[Hashable, ...] = field(default=(), repr=False)
    _destination_levels: tuple[Hashable, ...] = field(default=(), repr=False)

    def predict(
        self,
        origin: ArrayLike | None,
        destination: ArrayLike | None,
        distance: ArrayLike,
        o_var: ArrayLike | None = None,
        d_var: ArrayLike | None = None,
    ) -> FloatArray:
        """Modelled flows for (possibly new) origin-destination pairs.

        Parameters
        ----------
        origin, destination : array_like or None
            Labels of each pair.  Required when the model has origin (production,
            doubly) or destination (attraction, doubly) fixed effects, and then every
            label must have been seen in calibration; otherwise ignored.
        distance : array_like
            Cost of each pair (``> 0`` for power decay, ``>= 0`` for exponential).
        o_var, d_var : array_like or None
            Origin / destination masses (``> 0``); required when the model has a
            ``log_o_var`` / ``log_d_var`` term, otherwise ignored.

        Returns
        -------
        ndarray
            ``exp(x' b)`` for each pair.  On the calibration rows this equals
            :attr:`fitted`.

        Raises
        ------
        ValueError
            On invalid inputs or a label not seen in calibration.

        Examples
        --------
        >>> import numpy as np
        >>> d = np.array([1.0, 2.0, 1.0, 3.0, 2.0, 3.0])
        >>> o = np.array([10.0, 10.0, 20.0, 20.0, 30.0, 30.0])
        >>> dv = np.array([20.0, 30.0, 10.0, 30.0, 10.0, 20.0])
        >>> t = gravity_flows(d, o, dv, beta=1.5, k=0.5)
        >>> fit = fit_gravity(t, d, o_var=o, d_var=dv)
        >>> bool(np.allclose(fit.predict(None, None, d, o, dv), t))
        True
        """
        dist = _validate_distance(distance, None, self.decay)
        n = dist.shape[0]
        eta = np.full(n, self.params["const"])
        for key, labels, levels, prefix in (
            ("origin", origin, self._origin_levels, "origin_"),
            ("destination", destination, self._destination_levels, "dest_"),
        ):
            if not levels:
                continue
            if labels is None:
                raise InvalidValueError(
                    f"{key} labels are required for a {self.model} model", column=key
                )
            lab = _as_labels(key, labels, n)
            index = {level: i for i, level in enumerate(levels)}
            effects = np.zeros(len(levels))
            for i, level in enumerate(levels[1:], start=1):
                effects[i] = self.params[f"{prefix}{level}"]
            codes = np.empty(n, dtype=np.intp)
            for row, value in enumerate(lab.tolist()):
                code = index.get(value)
                if code is None:
                    raise UnknownCodeError(
                        f"{key} {value!r} was not seen in calibration (array index {row})",
                        column=key,
                        row=row + 1,
                    )
                codes[row] = code
            eta += effects[codes]
        for name, values in (("o_var", o_var), ("d_var", d_var)):
            term = f"log_{name}"
            if term in self.params:
                if values is None:
                    raise InvalidValueError(
                        f"{name} is required: the model has a {term} term", column=name
                    )
                mass = _as_float(name, values, n, lower=0.0, strict=True)
                eta += self.params[term] * np.log(mass)
        decay_term = "log_dij" if self.decay == "power" else "dij"
        eta += self.params[decay_term] * _decay_column(dist, self.decay)
        return np.asarray(np.exp(eta), dtype=np.float64)


# --------------------------------------------------------------------------- #
# calibration
# --------------------------------------------------------------------------- #
def _fixed_effect(
    name: str, prefix: str, labels: NDArray[Any], y: FloatArray
) -> tuple[_Effect, list[str], tuple[Hashable, ...]]:
    """Levels of one set of fixed effects, its dummy names (first level dropped)."""
    levels, codes = _levels(name, labels)
    totals = np.bincount(codes, weights=y, minlength=len(levels))
    if np.any(totals <= 0.0):
        level = levels.tolist()[int(np.flatnonzero(totals <= 0.0)[0])]
        raise InvalidValueError(
            f"{name} {level!r} has zero total flow; its fixed effect has no finite "
            "maximum-likelihood estimate (drop its rows)",
            column=name,
        )
    names = [f"{prefix}{level}" for level in levels.tolist()]
    if len(set(names)) != len(names):
        raise InvalidValueError(f"{name} labels give duplicate term names: {names}", column=name)
    return _Effect(name, codes, len(levels)), names[1:], tuple(levels.tolist())


def fit_gravity(
    flow: ArrayLike,
    distance: ArrayLike,
    *,
    origin: ArrayLike | None = None,
    destination: ArrayLike | None = None,
    o_var: ArrayLike | None = None,
    d_var: ArrayLike | None = None,
    model: Model = "unconstrained",
    decay: Decay = "power",
) -> GravityFit:
    """Calibrate a gravity-type spatial interaction model as a Poisson GLM.

    Reproduces PySAL spint's ``Gravity``, ``Production``, ``Attraction`` and
    ``Doubly`` models (Oshan 2016), Wilson's (1971) family, with ``cost_func='pow'``
    (``decay="power"``) or ``'exp'`` (``decay="exponential"``).

    Parameters
    ----------
    flow : array_like
        Observed flow of each origin-destination pair (``>= 0``, finite; need not be
        integer).
    distance : array_like
        Cost of each pair: ``> 0`` for power decay (it is logged), ``>= 0`` for
        exponential decay.
    origin, destination : array_like, optional
        Labels of each pair.  ``origin`` is required for the production and doubly
        models, ``destination`` for the attraction and doubly models; they are
        ignored by the unconstrained model.
    o_var, d_var : array_like, optional
        Origin / destination mass of each pair (``> 0``), entered as logs.  Used by
        the unconstrained model (``o_var`` and ``d_var``), the production model
        (``d_var``) and the attraction model (``o_var``); a mass that a model's fixed
        effects absorb is ignored.  A used mass that is ``None`` leaves its term out.
    model : {"unconstrained", "production", "attraction", "doubly"}
        Which constraints to impose (via origin/destination fixed effects).
    decay : {"power", "exponential"}
        Distance-decay function, ``d^b`` or ``exp(b d)``.

    Returns
    -------
    GravityFit
        Coefficients, fitted flows and spint's fit statistics.

    Raises
    ------
    ValueError
        On inputs of unequal length, non-finite values, negative flows,
        non-positive masses or (power decay) distances, missing labels, a
        constrained origin/destination with zero total flow, or a rank-deficient
        design.

    Notes
    -----
    With origin fixed effects the Poisson likelihood equations force the fitted
    outflow of every origin to equal its observed outflow (production constraint);
    destination fixed effects do the same for inflows.

    The fixed effects are absorbed in every IRLS step instead of entering as dummy
    columns (see the module docstring; Guimarães and Portugal 2010): the iterations
    are those of the dummy design, but a step costs ``O(N)`` for ``N`` pairs in the
    production- and attraction-constrained models and ``O(N + n_o n_d n)`` in the
    doubly-constrained one (``n_o`` origins, ``n_d`` destinations, ``n`` the smaller
    of the two: ``n^3`` for a full square table), with memory ``O(N + n^2)``.  The
    fixed effects at convergence are the logarithms of Wilson's (1971) balancing
    factors times the margins.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([1.0, 2.0, 1.0, 3.0, 2.0, 3.0])
    >>> orig = np.array(["a", "a", "b", "b", "c", "c"])
    >>> dest = np.array(["b", "c", "a", "c", "a", "b"])
    >>> o = np.array([10.0, 10.0, 20.0, 20.0, 30.0, 30.0])
    >>> dv = np.array([20.0, 30.0, 10.0, 30.0, 10.0, 20.0])
    >>> t = gravity_flows(d, o, dv, beta=1.5, k=0.5, alpha=0.8, gamma=1.2)
    >>> fit = fit_gravity(t, d, o_var=o, d_var=dv)
    >>> {key: round(value, 6) for key, value in fit.params.items()}
    {'const': -0.693147, 'log_o_var': 0.8, 'log_d_var': 1.2, 'log_dij': -1.5}
    >>> prod = fit_gravity(t, d, origin=orig, d_var=dv, model="production")
    >>> list(prod.params)
    ['const', 'origin_b', 'origin_c', 'log_d_var', 'log_dij']

    A doubly-constrained model reproduces both margins:

    >>> zones = np.array(["a", "b", "c", "d"])
    >>> oi, dj = np.divmod(np.arange(16), 4)
    >>> cost = 1.0 + np.abs(oi - dj)
    >>> flow = np.array([90, 31, 12, 5, 40, 120, 38, 14, 10, 35, 80, 30, 6, 11, 41, 150.0])
    >>> dbl = fit_gravity(flow, cost, origin=zones[oi], destination=zones[dj], model="doubly")
    >>> list(dbl.params)
    ['const', 'origin_b', 'origin_c', 'origin_d', 'dest_b', 'dest_c', 'dest_d', 'log_dij']
    >>> round(dbl.params["log_dij"], 4)
    -1.8573
    >>> np.bincount(oi, dbl.fitted).round(6), np.bincount(dj, dbl.fitted).round(6)
    (array([138., 212., 155., 208.]), array([146., 197., 171., 199.]))
    """
    _check_choice("model", model, _MODELS)
    _check_choice("decay", decay, _DECAYS)
    y = _as_float("flow", flow, None, lower=0.0)
    n = y.shape[0]
    if n == 0:
        raise EmptyInputError("flow is empty", column="flow")
    if not y.sum() > 0.0:
        raise InvalidValueError("flow must contain at least one positive value", column="flow")
    dist = _validate_distance(distance, n, decay)

    effects: dict[str, _Effect] = {}
    fe_names: list[str] = []
    origin_levels: tuple[Hashable, ...] = ()
    destination_levels: tuple[Hashable, ...] = ()
    if model in ("production", "doubly"):
        if origin is None:
            raise InvalidValueError(
                f"origin labels are required for a {model} model", column="origin"
            )
        olab = _as_labels("origin", origin, n)
        effects["origin"], cnames, origin_levels = _fixed_effect("origin", "origin_", olab, y)
        fe_names.extend(cnames)
    if model in ("attraction", "doubly"):
        if destination is None:
            raise InvalidValueError(
                f"destination labels are required for a {model} model", column="destination"
            )
        dlab = _as_labels("destination", destination, n)
        effects["destination"], cnames, destination_levels = _fixed_effect(
            "destination", "dest_", dlab, y
        )
        fe_names.extend(cnames)
    columns: list[FloatArray] = []
    names: list[str] = []
    if model in ("unconstrained", "attraction") and o_var is not None:
        columns.append(np.log(_as_float("o_var", o_var, n, lower=0.0, strict=True)))
        names.append("log_o_var")
    if model in ("unconstrained", "production") and d_var is not None:
        columns.append(np.log(_as_float("d_var", d_var, n, lower=0.0, strict=True)))
        names.append("log_d_var")
    columns.append(_decay_column(dist, decay))
    names.append("log_dij" if decay == "power" else "dij")

    names = ["const", *fe_names, *names]
    k = len(names)
    if n <= k:
        raise InvalidValueError(f"{n} flows are too few for {k} coefficients", column="flow")
    if not effects:
        beta, mu = _irls(y, _dense_step(np.column_stack([np.ones(n), *columns])))
    else:
        # absorb the larger set of effects by demeaning, keep the smaller one's
        # normal matrix (doubly); the const and dummies are recovered from the effects
        first, *rest = sorted(effects.values(), key=lambda e: -e.n)
        second = rest[0] if rest else None
        (a, c, b), mu = _irls(y, _absorbed_step(np.stack(columns), first, second, k))
        by_name = {first.name: a} | ({second.name: c} if second else {})
        const = sum(float(e[0]) for e in by_name.values())
        dummies = [
            by_name[key][1:] - by_name[key][0]
            for key in ("origin", "destination")
            if key in by_name
        ]
        beta = np.concatenate([[const], *dummies, b])
    mu.setflags(write=False)

    llf = _loglike(y, mu)
    llnull = _loglike(y, np.full(n, y.mean()))
    return GravityFit(
        model=model,
        decay=decay,
        params={name: float(b) for name, b in zip(names, beta, strict=True)},
        fitted=mu,
        aic=-2.0 * llf + 2.0 * k,
        deviance=_deviance(y, mu),
        llf=llf,
        pseudo_r2=1.0 - llf / llnull,
        adj_pseudo_r2=1.0 - (llf - k) / llnull,
        ssi=float(np.mean(2.0 * np.minimum(y, mu) / (y + mu))),
        srmse=float(np.sqrt(np.mean((y - mu) ** 2)) / y.mean()),
        _origin_levels=origin_levels,
        _destination_levels=destination_levels,
    )


# --------------------------------------------------------------------------- #
# uncalibrated model
# --------------------------------------------------------------------------- #
def _production_per_row(
    production: Mapping[Any, float] | ArrayLike,
    labels: NDArray[Any],
    codes: NDArray[np.intp],
    n_levels: int,
) -> FloatArray:
    n = labels.shape[0]
    if isinstance(production, Mapping):
        out = np.empty(n)
        for row, label in enumerate(labels.tolist()):
            if label not in production:
                raise _bad("production", row, f"has no entry for origin {label!r}")
            out[row] = production[label]
        return _as_float("production", out, n, lower=0.0)
    out = _as_float("production", production, n, lower=0.0)
    first = np.full(n_levels, -1, dtype=np.intp)
    first[codes[::-1]] = np.arange(n)[::-1]
    ref = out[first[codes]]
    bad = ~np.isclose(out, ref, rtol=1e-9, atol=0.0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _bad(
            "production",
            row,
            f"must be the same for all rows of an origin; origin {labels[row]!r} has "
            f"{out[row]:g} here but {ref[row]:g} at array index {int(first[codes[row]])}",
        )
    return out


def gravity_flows(
    distance: ArrayLike,
    o_var: ArrayLike,
    d_var: ArrayLike,
    *,
    beta: float,
    decay: Decay = "power",
    k: float = 1.0,
    alpha: float = 1.0,
    gamma: float = 1.0,
    origin: ArrayLike | None = None,
    production: Mapping[Any, float] | ArrayLike | None = None,
) -> FloatArray:
    """Flows of an uncalibrated gravity model with given parameters.

    ``T_ij = k * O_i^alpha * D_j^gamma * f(d_ij)`` with ``f(d) = d^-beta`` (power) or
    ``exp(-beta d)`` (exponential) (Wilson 1971).  With ``origin`` and
    ``production`` the model is production-constrained:
    ``T_ij = P_i * D_j^gamma f(d_ij) / sum_j' D_j'^gamma f(d_ij')``, the sum running
    over the rows of origin ``i`` (``k`` and ``O_i^alpha`` cancel).

    Parameters
    ----------
    distance : array_like
        Cost of each pair (``> 0`` for power decay, ``>= 0`` for exponential).
    o_var, d_var : array_like
        Origin mass ``O_i`` and destination mass ``D_j`` of each pair (``> 0``).
    beta : float
        Distance-decay parameter (positive for decaying interaction).
    decay : {"power", "exponential"}
        Form of ``f``.
    k : float
        Scaling constant (``> 0``); ignored when production-constrained.
    alpha, gamma : float
        Exponents of the origin and destination masses.
    origin : array_like, optional
        Origin label of each pair; required with ``production``.
    production : mapping or array_like, optional
        Total outflow of each origin, either ``{label: total}`` or one value per row
        (equal within an origin), ``>= 0``.

    Returns
    -------
    ndarray
        Modelled flow of each pair.

    Raises
    ------
    ValueError
        On invalid or inconsistent inputs.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([1.0, 2.0, 4.0])
    >>> gravity_flows(d, [10.0, 10.0, 10.0], [5.0, 5.0, 5.0], beta=1.0)
    array([50. , 25. , 12.5])
    >>> gravity_flows(d, [10.0] * 3, [5.0] * 3, beta=1.0,
    ...               origin=["a", "a", "a"], production={"a": 70.0})
    array([40., 20., 10.])
    """
    _check_choice("decay", decay, _DECAYS)
    for pname, value in (("beta", beta), ("k", k), ("alpha", alpha), ("gamma", gamma)):
        if not math.isfinite(value):
            raise ConfigError(f"{pname} must be finite, got {value}")
    if not k > 0.0:
        raise ConfigError(f"k must be > 0, got {k}")
    dist = _validate_distance(distance, None, decay)
    n = dist.shape[0]
    ov = _as_float("o_var", o_var, n, lower=0.0, strict=True)
    dv = _as_float("d_var", d_var, n, lower=0.0, strict=True)
    log_f = -beta * _decay_column(dist, decay)
    if (origin is None) != (production is None):
        raise InvalidValueError("origin and production must be given together")
    if origin is None or production is None:
        log_t = math.log(k) + alpha * np.log(ov) + gamma * np.log(dv) + log_f
        return np.asarray(np.exp(log_t), dtype=np.float64)

    labels = _as_labels("origin", origin, n)
    levels, codes = _levels("origin", labels)
    prod = _production_per_row(production, labels, codes, len(levels))
    log_w = gamma * np.log(dv) + log_f
    # normalise within each origin in log space (robust to under/overflow)
    shift = np.full(len(levels), -np.inf)
    np.maximum.at(shift, codes, log_w)
    w = np.exp(log_w - shift[codes])
    totals = np.bincount(codes, weights=w, minlength=len(levels))
    return np.asarray(prod * w / totals[codes], dtype=np.float64)
