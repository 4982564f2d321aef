"""The Gaussian-mixture fit of the regions, written for its one case: 2-D
points, full covariances, k-means initialisation. It follows
``sklearn.mixture.GaussianMixture(covariance_type="full", init_params=
"kmeans", n_init=1)`` step by step (the same k-means start, E and M steps,
``reg_covar``, stopping rule and final labels), with the 2x2 Cholesky
factors in closed form, compiled with numba (no GIL held, so the region
workers run in parallel): the same fit up to rounding, many times faster
(``tests/agnet/test_regions.py`` compares the regions with scikit-learn's)."""

import sys

import numpy as np

from agnet import kmeans
from common.compiled import compiled, is_cached

LOG_2PI = np.log(2 * np.pi)
EPS = np.finfo(np.float64).eps


@compiled
def _parameters(points, resp, reg_covar, weights, means, covariances):
    """weights (k,), means (k, 2), covariances (k, 3: xx, xy, yy), as
    sklearn's ``_estimate_gaussian_parameters`` (``nk`` floored at 10 eps)."""
    n, k = resp.shape
    for j in range(k):
        nk, sx, sy = 10 * EPS, 0.0, 0.0
        for i in range(n):
            nk += resp[i, j]
            sx += resp[i, j] * points[i, 0]
            sy += resp[i, j] * points[i, 1]
        mx, my = sx / nk, sy / nk
        xx, xy, yy = 0.0, 0.0, 0.0
        for i in range(n):
            w, dx, dy = resp[i, j] / nk, points[i, 0] - mx, points[i, 1] - my
            xx += w * dx * dx
            xy += w * dx * dy
            yy += w * dy * dy
        weights[j], means[j, 0], means[j, 1] = nk / n, mx, my
        covariances[j, 0], covariances[j, 1], covariances[j, 2] = xx + reg_covar, xy, yy + reg_covar


@compiled
def _weighted_log_prob(points, weights, means, covariances, out):
    """(n, k) log N(x | mean_k, cov_k) + log w_k into ``out``, from the
    closed-form upper-triangular ``P`` with ``P P^T = cov^-1``; False when a
    covariance is not positive definite (sklearn raises then)."""
    for j in range(len(weights)):
        a, b, c = covariances[j, 0], covariances[j, 1], covariances[j, 2]
        if a <= 0:
            return False
        l11 = np.sqrt(a)
        l21 = b / l11
        rest = c - l21 ** 2
        if rest <= 0:
            return False
        l22 = np.sqrt(rest)
        p00, p01, p11 = 1 / l11, -l21 / (l11 * l22), 1 / l22
        log_det = np.log(p00) + np.log(p11)
        log_weight = np.log(weights[j])
        for i in range(len(points)):
            dx, dy = points[i, 0] - means[j, 0], points[i, 1] - means[j, 1]
            y0, y1 = dx * p00, dx * p01 + dy * p11
            out[i, j] = -0.5 * (2 * LOG_2PI + y0 ** 2 + y1 ** 2) + log_det + log_weight
    return True


@compiled
def _em(points, labels, k, reg_covar, max_iter, tol):
    """(component labels, True) after EM from the k-means labels, or (_, False)
    where a covariance is not positive definite."""
    n = len(points)
    out = np.zeros(n, np.int64)
    resp = np.zeros((n, k))
    for i in range(n):
        resp[i, labels[i]] = 1.0
    weights, means, covariances = np.empty(k), np.empty((k, 2)), np.empty((k, 3))
    weighted = np.empty((n, k))
    _parameters(points, resp, reg_covar, weights, means, covariances)
    lower_bound = -np.inf
    for _ in range(max_iter):
        previous = lower_bound
        if not _weighted_log_prob(points, weights, means, covariances, weighted):
            return out, False
        total = 0.0
        for i in range(n):
            peak = weighted[i].max()
            norm = peak + np.log(np.exp(weighted[i] - peak).sum())
            resp[i] = np.exp(weighted[i] - norm)
            total += norm
        _parameters(points, resp, reg_covar, weights, means, covariances)
        lower_bound = total / n
        if abs(lower_bound - previous) < tol:
            break
    if not _weighted_log_prob(points, weights, means, covariances, weighted):
        return out, False
    for i in range(n):
        out[i] = np.argmax(weighted[i])
    return out, True


def fit_predict(points, num_components, seed=0, reg_covar=1e-6, max_iter=100, tol=1e-3):
    """Component labels (n,) of 2-D ``points`` after the EM fit that
    ``GaussianMixture(num_components, covariance_type="full", reg_covar,
    max_iter, tol, init_params="kmeans", random_state=seed).fit(points)
    .predict(points)`` performs."""
    points = np.asarray(points, np.float64)
    start = kmeans.kmeans_labels(points, num_components, seed)
    labels, fitted = _em(points, start, num_components, reg_covar, max_iter, tol)
    if not fitted:
        raise np.linalg.LinAlgError("ill-defined empirical covariance")
    return labels


def _cached():
    """Whether numba's cache holds the fit's compiled functions."""
    return all(is_cached(f) for f in (_em, kmeans._kmeans_plusplus, kmeans._lloyd))


def warm_up(verbose=1):
    """Compiles the fit, or loads it from numba's cache, before a progress
    bar starts; the first use on a machine (or every process, where numba
    has no cache folder) compiles for 10 to 25 s and, when ``verbose``, says
    so in one line on stderr."""
    if verbose and not _cached():
        print("SIFT + GMM: compiling the mixture fit (10 to 25 s, once where numba can "
              "cache it)", file=sys.stderr, flush=True)
    fit_predict(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 2)
