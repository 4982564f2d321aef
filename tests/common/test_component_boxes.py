"""common.component_boxes against OpenCV's contours, the operation the WSOL
protocol uses: at every level the same boxes (as multisets), on maps made
to have nested holes, edges, diagonal-only contacts and noise."""

import collections

import cv2
import numpy as np
import pytest

from common.component_boxes import component_boxes


def contour_boxes(image, level):
    """The protocol's boxes at one level: findContours(RETR_TREE) +
    boundingRect, right and bottom ``x + w`` clipped to width - 1."""
    height, width = image.shape
    binary = cv2.threshold(image, int(level), 255, cv2.THRESH_BINARY)[1]
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append((x, y, min(x + w, width - 1), min(y + h, height - 1)))
    return collections.Counter(boxes)


def assert_same_boxes(image, levels):
    tiles, boxes = component_boxes(image, levels)
    for k, level in enumerate(levels):
        got = collections.Counter(map(tuple, boxes[tiles == k].tolist()))
        assert got == contour_boxes(image, level), f"level {level}"


def target():
    """Rings in rings (a hole holding an object holding a hole), a hole
    open to the edge, blobs touching the edges, pixels meeting only at a
    corner (one 8-connected object around a one-pixel hole)."""
    image = np.zeros((40, 52), np.uint8)
    cv2.circle(image, (20, 20), 15, 200, -1)
    cv2.circle(image, (20, 20), 11, 60, -1)
    cv2.circle(image, (20, 20), 6, 250, -1)
    cv2.circle(image, (20, 20), 2, 0, -1)
    image[0:6, 40:52] = 120  # touches the top and right edges
    image[30:40, 44:48] = 90  # a U open to the bottom edge: no hole
    image[30:37, 40:52] = 90
    image[33:40, 43:49] = 0
    image[10, 45] = image[11, 46] = image[12, 45] = image[11, 44] = 180  # a diamond
    return image


def test_boxes_equal_opencv_contours_on_nested_rings_edges_and_corners():
    image = target()
    assert_same_boxes(image, np.arange(0, 256, 5))
    tiles, boxes = component_boxes(image, [100])
    # at 100: the outer ring (5..35) with its hole (the level-60 ring, 9..31,
    # whose border one pixel out is 8..32), the disk inside it with its
    # hole, the top-right block, the diamond and the 1-pixel hole it holds
    assert sorted(map(tuple, boxes.tolist())) == sorted([
        (5, 5, 36, 36), (8, 8, 33, 33), (14, 14, 27, 27), (17, 17, 24, 24),
        (40, 0, 51, 6), (44, 10, 47, 13), (44, 10, 47, 13)])


@pytest.mark.parametrize("shape,sigma", [((64, 64), 1.5), ((37, 90), 3.0), ((96, 50), 0.0)])
def test_boxes_equal_opencv_contours_on_noise(shape, sigma):
    rng = np.random.default_rng(sum(shape))
    noise = rng.random(shape).astype(np.float32)
    if sigma:
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    image = (255 * (noise - noise.min()) / (noise.max() - noise.min())).astype(np.uint8)
    levels = (np.arange(0, 1, 0.05) * image.max()).astype(np.int64)
    assert_same_boxes(image, levels)


def test_levels_in_any_order_and_maps_without_contours():
    image = target()
    levels = [200, 0, 100, 100]
    tiles, boxes = component_boxes(image, levels)
    for k, level in enumerate(levels):
        assert collections.Counter(map(tuple, boxes[tiles == k].tolist())) == \
            contour_boxes(image, level)
    for flat in (np.zeros((8, 9), np.uint8), np.full((8, 9), 255, np.uint8)):
        tiles, boxes = component_boxes(flat, [0, 254, 255])
        expected = [(0, 0, 8, 7)] * 2 if flat.max() else []
        assert list(map(tuple, boxes.tolist())) == expected  # 255 > 255 never holds
    with pytest.raises(ValueError, match="0..255"):
        component_boxes(image, [256])
