"""The Gaussian-mixture fit of the regions, written for its one case: 2-D
points, full covariances, k-means initialisation. It follows
``sklearn.mixture.GaussianMixture(covariance_type="full", init_params=
"kmeans", n_init=1)`` step by step (the same k-means start, E and M steps,
``reg_covar``, stopping rule and final labels), with the 2x2 Cholesky
factors in closed form over all components at once instead of a Python loop
per component: several times faster, the same fit up to rounding
(``tests/agnet/test_regions.py`` compares the regions with scikit-learn's)."""

import numpy as np
from sklearn.cluster import KMeans

LOG_2PI = np.log(2 * np.pi)


def _parameters(points, resp, reg_covar):
    """weights (k,), means (k, 2), covariances (k, 2, 2), as sklearn's
    ``_estimate_gaussian_parameters`` (``nk`` floored at 10 eps)."""
    nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
    means = resp.T @ points / nk[:, None]
    weights = resp.T / nk[:, None]  # (k, n)
    dx = points[None, :, 0] - means[:, 0, None]
    dy = points[None, :, 1] - means[:, 1, None]
    covariances = np.empty((len(nk), 2, 2))
    covariances[:, 0, 0] = (weights * dx * dx).sum(axis=1) + reg_covar
    covariances[:, 1, 0] = covariances[:, 0, 1] = (weights * dx * dy).sum(axis=1)
    covariances[:, 1, 1] = (weights * dy * dy).sum(axis=1) + reg_covar
    return nk / len(points), means, covariances


def _precision_cholesky(covariances):
    """inv(cholesky(cov)).T of each 2x2 covariance, in closed form: the
    upper-triangular ``P`` with ``P P^T = cov^-1``."""
    a, b, c = covariances[:, 0, 0], covariances[:, 1, 0], covariances[:, 1, 1]
    if np.any(a <= 0):
        raise np.linalg.LinAlgError("ill-defined empirical covariance")
    l11 = np.sqrt(a)
    l21 = b / l11
    rest = c - l21 ** 2
    if np.any(rest <= 0):
        raise np.linalg.LinAlgError("ill-defined empirical covariance")
    l22 = np.sqrt(rest)
    chol = np.zeros_like(covariances)
    chol[:, 0, 0], chol[:, 0, 1], chol[:, 1, 1] = 1 / l11, -l21 / (l11 * l22), 1 / l22
    return chol


def _weighted_log_prob(points, weights, means, prec_chol):
    """(n, k) log N(x | mean_k, cov_k) + log w_k."""
    log_det = np.log(prec_chol[:, 0, 0]) + np.log(prec_chol[:, 1, 1])
    dx = points[None, :, 0] - means[:, 0, None]  # (k, n)
    dy = points[None, :, 1] - means[:, 1, None]
    y0 = dx * prec_chol[:, 0, 0, None]
    y1 = dx * prec_chol[:, 0, 1, None] + dy * prec_chol[:, 1, 1, None]
    log_prob = -0.5 * (2 * LOG_2PI + y0 ** 2 + y1 ** 2) + log_det[:, None]
    return log_prob.T + np.log(weights)


def _log_normaliser(weighted):
    peak = weighted.max(axis=1, keepdims=True)
    return (peak + np.log(np.exp(weighted - peak).sum(axis=1, keepdims=True)))[:, 0]


def fit_predict(points, num_components, seed=0, reg_covar=1e-6, max_iter=100, tol=1e-3):
    """Component labels (n,) of 2-D ``points`` after the EM fit that
    ``GaussianMixture(num_components, covariance_type="full", reg_covar,
    max_iter, tol, init_params="kmeans", random_state=seed).fit(points)
    .predict(points)`` performs."""
    points = np.asarray(points, np.float64)
    labels = KMeans(num_components, n_init=1, random_state=seed).fit(points).labels_
    resp = np.zeros((len(points), num_components))
    resp[np.arange(len(points)), labels] = 1
    weights, means, covariances = _parameters(points, resp, reg_covar)
    prec_chol = _precision_cholesky(covariances)
    lower_bound = -np.inf
    for _ in range(max_iter):
        previous = lower_bound
        weighted = _weighted_log_prob(points, weights, means, prec_chol)
        norm = _log_normaliser(weighted)
        weights, means, covariances = _parameters(points, np.exp(weighted - norm[:, None]),
                                                  reg_covar)
        prec_chol = _precision_cholesky(covariances)
        lower_bound = norm.mean()
        if abs(lower_bound - previous) < tol:
            break
    return _weighted_log_prob(points, weights, means, prec_chol).argmax(axis=1)
