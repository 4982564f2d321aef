"""Central differences: the gradient a test compares autodiff against."""

import numpy as np


def central_differences(function, point, eps=1e-4):
    """d function / d point (an array of float64), one element at a time."""
    gradient = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        up, down = point.copy(), point.copy()
        up[index] += eps
        down[index] -= eps
        gradient[index] = (function(up) - function(down)) / (2 * eps)
    return gradient
