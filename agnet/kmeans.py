"""The k-means start of the regions' Gaussian mixture, written for its one
case: a few hundred 2-D keypoints, one run. It follows ``sklearn.cluster.
KMeans(k, n_init=1, random_state=seed)`` step by step (k-means++ with the
same random draws and 2 + log(k) local trials, then Lloyd's iterations with
the same tolerance, empty-cluster relocation and stopping rule), compiled
with numba: scikit-learn's checks and dispatch cost about 6 ms a fit, a
fifth of a photo's regions, and held the GIL that the region workers share.
The labels are scikit-learn's up to rounding (``tests/agnet/test_kmeans.py``)."""

import numpy as np

from common.compiled import compiled

_DRAWS = {}  # (seed, k) -> the uniform draws of KMeans's RandomState(seed)


def _draws(seed, k):
    """The random numbers k-means++ takes from ``RandomState(seed)``: one for
    the first centre (``choice`` with uniform weights), then ``2 + log(k)``
    per further centre. They do not depend on the points: made once per seed."""
    key = (int(seed), int(k))
    if key not in _DRAWS:
        trials = 2 + int(np.log(k))
        _DRAWS[key] = np.random.RandomState(seed).random_sample(1 + (k - 1) * trials)
    return _DRAWS[key]


@compiled
def _squared_distances(rows, points, norms):
    """(r, n) |c - x|^2 as scikit-learn computes it: -2 c.x + |c|^2 + |x|^2,
    >= 0, the products in the same BLAS call as NumPy's ``rows @ points.T``
    (another kernel rounds differently, and exact ties, common in k-means++,
    then go the other way)."""
    out = np.dot(rows, points.T)
    for r in range(out.shape[0]):
        row_norm = rows[r, 0] * rows[r, 0] + rows[r, 1] * rows[r, 1]
        for i in range(out.shape[1]):
            out[r, i] = max(-2.0 * out[r, i] + row_norm + norms[i], 0.0)
    return out


@compiled
def _kmeans_plusplus(points, k, norms, first, draws):
    n, trials = len(points), len(draws) // max(k - 1, 1)
    weight = np.ones((n, 1))
    centers = np.empty((k, 2))
    cdf = np.cumsum(np.full(n, 1.0 / n))
    cdf /= cdf[-1]
    index = np.searchsorted(cdf, first, side="right")
    centers[0] = points[index]
    closest = _squared_distances(points[index:index + 1], points, norms)[0]
    potential = np.dot(closest.reshape(1, -1), weight)[0, 0]  # rounds as (1, n) @ (n,)
    candidates = np.empty(trials, np.int64)
    for c in range(1, k):
        cumulative = np.cumsum(closest)
        for t in range(trials):
            candidates[t] = min(np.searchsorted(cumulative,
                                                draws[(c - 1) * trials + t] * potential), n - 1)
        distances = _squared_distances(points[candidates], points, norms)
        for t in range(trials):
            for i in range(n):
                distances[t, i] = min(closest[i], distances[t, i])
        potentials = np.dot(distances, weight)
        best = 0  # the first of equal potentials
        for t in range(1, trials):
            if potentials[t, 0] < potentials[best, 0]:
                best = t
        potential, closest = potentials[best, 0], distances[best].copy()
        centers[c] = points[candidates[best]]
    return centers


@compiled
def _assign(points, centers, labels):
    """Nearest centre by |c|^2 - 2 x.c, the products by BLAS as in
    scikit-learn's Lloyd step (equal distances then round alike), first on ties."""
    products = np.dot(points, centers.T)
    for i in range(len(points)):
        best, label = np.inf, 0
        for j in range(len(centers)):
            value = -2.0 * products[i, j] + (centers[j, 0] * centers[j, 0]
                                             + centers[j, 1] * centers[j, 1])
            if value < best:
                best, label = value, j
        labels[i] = label


@compiled
def _new_centers(points, labels, old):
    """Cluster means; an empty cluster takes the point farthest from its
    centre, the farthest first (scikit-learn's _relocate_empty_clusters_dense
    and _average_centers)."""
    k, n = len(old), len(points)
    sums, weight = np.zeros((k, 2)), np.zeros(k)
    for i in range(n):
        sums[labels[i], 0] += points[i, 0]
        sums[labels[i], 1] += points[i, 1]
        weight[labels[i]] += 1.0
    distances = np.empty(n)
    for i in range(n):
        distances[i] = ((points[i, 0] - old[labels[i], 0]) ** 2
                        + (points[i, 1] - old[labels[i], 1]) ** 2)
    empty = weight == 0  # before any move: a cluster a move empties stays so
    spread = distances.max() > 0  # all points on their centres: nothing to move
    for cluster in range(k):
        if not empty[cluster] or not spread:
            continue
        far = np.argmax(distances)
        distances[far] = -1.0  # taken
        sums[labels[far]] -= points[far]
        sums[cluster] = points[far]
        weight[labels[far]] -= 1.0
        weight[cluster] = 1.0
    largest = np.argmax(weight)
    for cluster in range(k):  # in order: an empty one copies the largest as it is then
        if weight[cluster] > 0:
            sums[cluster] *= 1.0 / weight[cluster]
        else:
            sums[cluster] = sums[largest]
    return sums


@compiled
def _lloyd(points, centers, max_iter, tolerance):
    labels = np.empty(len(points), np.int32)
    previous = np.full(len(points), -1, np.int32)
    for _ in range(max_iter):
        _assign(points, centers, labels)
        updated = _new_centers(points, labels, centers)
        shift = 0.0
        for j in range(len(centers)):
            step = np.sqrt((updated[j, 0] - centers[j, 0]) ** 2
                           + (updated[j, 1] - centers[j, 1]) ** 2)
            shift += step * step
        centers = updated
        if np.array_equal(labels, previous):
            return labels
        if shift <= tolerance:
            break
        previous[:] = labels
    _assign(points, centers, labels)
    return labels


def kmeans_labels(points, k, seed=0, max_iter=300, tol=1e-4):
    """int32 (n,) cluster labels of ``points`` (n, 2), n >= k: those of
    ``KMeans(k, n_init=1, random_state=seed).fit(points).labels_``."""
    points = np.array(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < k:
        raise ValueError(f"expected at least {k} points of shape (n, 2), got {points.shape}")
    tolerance = np.mean(np.var(points, axis=0)) * tol
    points -= points.mean(axis=0)
    norms = np.einsum("ij,ij->i", points, points)
    draws = _draws(seed, k)
    centers = _kmeans_plusplus(points, k, norms, draws[0], draws[1:])
    return _lloyd(points, centers, max_iter, tolerance)
