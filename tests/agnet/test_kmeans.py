"""agnet.kmeans against scikit-learn's KMeans itself: the same labels."""

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from agnet.kmeans import kmeans_labels


def _point_sets(count=60, seed=0):
    """Uniform, rounded, clustered and integer-grid points (the last full of
    exact distance ties), 8 to 600 of them (more than one 256-point chunk)."""
    rng = np.random.default_rng(seed)
    for trial in range(count):
        n = int(rng.integers(8, 600))
        kind = trial % 4
        if kind == 0:
            points = rng.uniform(0, 224, (n, 2))
        elif kind == 1:
            points = np.round(rng.normal(100, 30, (n, 2)), 1)
        elif kind == 2:
            points = np.concatenate([rng.normal(c, 5, (n // 4 + 1, 2))
                                     for c in rng.uniform(0, 224, (4, 2))])
        else:
            points = np.unique(np.round(rng.uniform(0, 20, (n, 2))), axis=0)
        yield points


@pytest.mark.parametrize("k", [8, 3])
def test_labels_equal_scikit_learns_kmeans(k):
    """One thread, as the region workers run (scikit-learn's Lloyd step sums
    each thread's share of the points separately: with several threads its
    centres round differently)."""
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct clusters than k
        for points in _point_sets():
            for seed in (0, 3):
                expected = KMeans(k, n_init=1, random_state=seed).fit(points).labels_
                np.testing.assert_array_equal(kmeans_labels(points, k, seed), expected)


def test_exact_ties_go_the_way_scikit_learn_breaks_them():
    """Keypoints of a real crop (8 points for k = 8) where two far points are
    each other's nearest: either as the second centre leaves the same
    potential, and only the rounding of the same BLAS products as
    scikit-learn's picks its first candidate."""
    points = np.array([[3.2359158992767334, 37.1925048828125],
                       [66.7142562866211, 188.9205322265625],
                       [168.6283721923828, 4.4760637283325195],
                       [185.8363494873047, 14.625187873840332],
                       [199.2554168701172, 18.456714630126953],
                       [204.36090087890625, 16.971311569213867],
                       [208.60987854003906, 18.34341812133789],
                       [219.7148895263672, 27.21201515197754]])
    with threadpool_limits(1):
        expected = KMeans(8, n_init=1, random_state=0).fit(points).labels_
    np.testing.assert_array_equal(kmeans_labels(points, 8, 0), expected)


def test_fewer_distinct_points_than_clusters_leave_clusters_empty_as_scikit_learn_does():
    """5 distinct points, each 3 times, k = 8: k-means++ runs out of
    potential and repeats centres, Lloyd's step leaves those clusters empty
    (nothing to relocate: every point sits on its centre)."""
    points = np.repeat(np.array([[0.0, 0.0], [4.0, 1.0], [9.0, 7.0], [2.0, 8.0], [5.5, 5.0]]),
                       3, axis=0)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct clusters than k
        for seed in range(4):
            expected = KMeans(8, n_init=1, random_state=seed).fit(points).labels_
            assert len(set(expected)) == 5
            np.testing.assert_array_equal(kmeans_labels(points, 8, seed), expected)


def test_exactly_k_points_each_get_their_own_cluster_and_too_few_are_refused():
    points = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert sorted(kmeans_labels(points, 3, seed=1)) == [0, 1, 2]
    with pytest.raises(ValueError, match="at least 4 points"):
        kmeans_labels(points, 4)


def test_the_first_compilation_is_announced_before_the_progress_bar(monkeypatch, capsys):
    """A cold numba cache means 10 to 25 s of compiling before the first
    region: one line says so (verbose), nothing when cached or quiet."""
    import agnet.gmm as gmm
    gmm.warm_up(verbose=0)  # compiles here on a clean checkout: quiet
    assert gmm._cached()  # cache=True wrote the index files
    gmm.warm_up(verbose=1)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(gmm, "_cached", lambda: False)
    gmm.warm_up(verbose=0)
    assert capsys.readouterr().err == ""
    gmm.warm_up(verbose=1)
    assert capsys.readouterr().err == \
        "SIFT + GMM: compiling the mixture fit (10 to 25 s, once where numba can cache it)\n"
