"""Semantic regions on real images and hard cases; cache; box augmentation."""

import numpy as np
import pytest
import tensorflow as tf
from skimage import data as samples

from agnet.augment import warp
from agnet.cache import compute_regions
from agnet.regions import grid_boxes, keypoints, num_regions, semantic_regions


def _valid(boxes, count):
    assert boxes.shape == (count, 4) and boxes.dtype == np.float32
    assert np.all((boxes >= 0) & (boxes <= 1))
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_real_photos_give_36_valid_deterministic_boxes(name):
    image = getattr(samples, name)()
    boxes = semantic_regions(image)
    _valid(boxes, 36)
    np.testing.assert_array_equal(boxes, semantic_regions(image))
    assert not np.array_equal(boxes[:8], grid_boxes(8))  # real keypoint clusters
    # Each primary box encloses its keypoints: together they cover all of them.
    points = keypoints(image) / (np.array(image.shape[1::-1]) - 1)
    inside = np.zeros(len(points), bool)
    for y1, x1, y2, x2 in boxes[:8]:
        inside |= ((points[:, 0] >= x1 - 1e-6) & (points[:, 0] <= x2 + 1e-6)
                   & (points[:, 1] >= y1 - 1e-6) & (points[:, 1] <= y2 + 1e-6))
    assert inside.all()


def test_unions_follow_the_fixed_pair_order():
    boxes = semantic_regions(samples.astronaut(), num_primary=4)
    _valid(boxes, num_regions(4))
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for row, (i, j) in enumerate(pairs):
        expected = np.concatenate([np.minimum(boxes[i, :2], boxes[j, :2]),
                                   np.maximum(boxes[i, 2:], boxes[j, 2:])])
        np.testing.assert_allclose(boxes[4 + row], expected)


@pytest.mark.parametrize("image", [np.zeros((64, 64, 3), np.uint8),
                                   np.full((40, 30, 3), 0.5, np.float32),
                                   np.random.default_rng(0).integers(0, 255, (6, 6, 3),
                                                                     np.uint8)])
def test_hard_cases_fall_back_to_the_grid(image):
    boxes = semantic_regions(image)
    _valid(boxes, 36)
    np.testing.assert_array_equal(boxes[:8], grid_boxes(8))


def test_single_keypoint_components_are_grown():
    image = np.zeros((100, 100, 3), np.uint8)
    rng = np.random.default_rng(1)
    for y, x in rng.integers(10, 90, (12, 2)):  # isolated dots: tiny clusters
        image[y - 2:y + 3, x - 2:x + 3] = 255
    boxes = semantic_regions(image)
    _valid(boxes, 36)
    assert np.all(boxes[:8, 2] - boxes[:8, 0] >= 0.1 - 1e-6)
    assert np.all(boxes[:8, 3] - boxes[:8, 1] >= 0.1 - 1e-6)


def test_cache_computes_once_and_reads_back(tmp_path):
    import cv2
    paths = []
    for i, name in enumerate(["astronaut", "coffee", "chelsea"]):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(getattr(samples, name)(), cv2.COLOR_RGB2BGR))
        paths.append(str(path))
    first = compute_regions(paths, 96, cache_dir=str(tmp_path / "cache"), workers=2)
    assert first.shape == (3, 36, 4) and len(list((tmp_path / "cache").iterdir())) == 3
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()}
    again = compute_regions(paths, 96, cache_dir=str(tmp_path / "cache"))
    np.testing.assert_array_equal(first, again)
    assert stamp == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()}
    other = compute_regions(paths[:1], 96, num_primary=4, cache_dir=str(tmp_path / "cache"))
    assert other.shape == (1, 10, 4)  # other parameters, other key


def test_warp_moves_a_box_exactly_with_its_pixels():
    image = np.zeros((1, 64, 64, 3), np.float32)
    image[0, 10:20, 30:40] = 1.0  # a white square, rows 10-19, columns 30-39
    box = np.array([[[10 / 63, 30 / 63, 19 / 63, 39 / 63]]], np.float32)
    rotate = np.array([[[0.0, -1.0], [1.0, 0.0]]], np.float32)  # 90 degrees
    warped, moved = warp(tf.constant(image), tf.constant(box), tf.constant(rotate),
                         tf.constant([[0.125, 0.0]]))  # +8 pixels in x
    ys, xs = np.nonzero(warped.numpy()[0, ..., 0] > 0.5)
    np.testing.assert_allclose(moved.numpy()[0, 0] * 63,
                               [ys.min(), xs.min(), ys.max(), xs.max()], atol=1e-3)


def _blobs():
    """Two separated textured blobs on black: two keypoint clusters."""
    image = np.zeros((96, 96, 3), np.uint8)
    rng = np.random.default_rng(3)
    for top, left in ((14, 14), (52, 50)):
        cells = rng.integers(0, 2, (4, 4)) * 255
        image[top:top + 24, left:left + 24] = np.kron(cells, np.ones((6, 6)))[..., None]
    return image


def test_augmented_boxes_follow_regions_recomputed_from_the_augmented_image():
    """Moving cached boxes approximates recomputing SIFT + GMM on the warped
    image: the primary boxes land on the same blobs (centres within 8 % of
    the size)."""
    image = _blobs()
    boxes = semantic_regions(image, num_primary=2)[:2]
    angle = np.deg2rad(10.0)
    a = 1.1 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    warped, moved = warp(tf.constant(image[None] / 255.0, tf.float32),
                         tf.constant(boxes[None]), tf.constant(a[None], tf.float32),
                         tf.constant([[0.05, -0.08]]))
    recomputed = semantic_regions(warped.numpy()[0], num_primary=2)[:2]
    centre = lambda b: np.stack([b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], -1) / 2  # noqa: E731
    moved_c, new_c = centre(moved.numpy()[0]), centre(recomputed)
    distance = min(np.abs(moved_c - new_c).max(), np.abs(moved_c - new_c[::-1]).max())
    assert distance < 0.08, (moved.numpy()[0], recomputed)


def test_on_the_fly_regions_are_recomputed_on_the_augmented_image():
    from agnet.augment import OnTheFlyRegions
    image = _blobs()[None].astype("float32") / 255.0
    augment = OnTheFlyRegions(num_primary=2, seed=0, rotation=10.0)
    out = augment({"image": tf.constant(image), "regions": tf.zeros((1, 3, 4))})
    expected = semantic_regions(out["image"].numpy()[0], num_primary=2)
    np.testing.assert_array_equal(out["regions"].numpy()[0], expected)


def _photo_crops(size=224, per_photo=3):
    """Real photos (scikit-image's samples) and crops of them at ``size`` px."""
    import cv2
    crops = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry",
                 "hubble_deep_field"):
        image = getattr(samples, name)()[..., :3]
        rng = np.random.default_rng(len(name))
        h, w = image.shape[:2]
        for _ in range(per_photo):
            y, x = rng.integers(0, h // 3), rng.integers(0, w // 3)
            crop = image[y:y + 2 * h // 3, x:x + 2 * w // 3]
            crops.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
    return crops


def test_vectorised_mixture_fit_gives_scikit_learns_regions_on_real_photos():
    """agnet.gmm against GaussianMixture(full, kmeans init) itself: the same
    component of every keypoint, on 21 real photo crops at 224 px."""
    import warnings

    from sklearn.mixture import GaussianMixture

    from agnet.gmm import fit_predict
    for k, image in enumerate(_photo_crops()):
        points = keypoints(image)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = GaussianMixture(8, covariance_type="full", reg_covar=1e-6, max_iter=100,
                                       tol=1e-3, init_params="kmeans",
                                       random_state=k % 3).fit(points).predict(points)
        np.testing.assert_array_equal(fit_predict(points, 8, seed=k % 3), expected)


def test_batch_regions_equal_one_image_at_a_time():
    from agnet.regions import batch_regions
    crops = _photo_crops(96, 1)
    np.testing.assert_array_equal(batch_regions(crops, 4, seed=1, workers=2),
                                  np.stack([semantic_regions(c, 4, 1) for c in crops]))


def test_a_large_jpeg_is_decoded_reduced_close_to_the_full_decode(tmp_path):
    """load_rgb decodes a JPEG 4x or 8x larger than the model's size at a
    quarter or eighth in the DCT; the result stays close to decoding it
    whole and resizing (mean absolute difference of a few grey levels)."""
    import cv2
    from skimage import data as samples

    from agnet.cache import load_rgb, reduction
    image = cv2.resize(samples.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    path = str(tmp_path / "large.jpg")
    cv2.imwrite(path, image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert reduction(path, 224) == 4 and reduction(path, 100) == 8
    assert reduction(path, 600) == 1 and reduction(str(tmp_path / "x.png"), 64) == 1
    whole = cv2.cvtColor(cv2.resize(cv2.imread(path), (224, 224), interpolation=cv2.INTER_AREA),
                         cv2.COLOR_BGR2RGB)
    reduced = load_rgb(path, 224)
    assert reduced.shape == (224, 224, 3) and reduced.dtype == np.uint8
    assert np.abs(reduced.astype(int) - whole.astype(int)).mean() < 3.0
