"""What ``GuidedClassifier`` refuses before training, in one line each, so a
mistake in Python is as clear as the same mistake on the command line: a
network with several outputs, clashing guide names, and annotations in the
wrong units (pixel boxes, masks in 0-255, masks of another size)."""

import numpy as np

RESERVED = ("loss",)


def check_network(view, name):
    """Guides train a classifier with one output (a two-output network
    failed later, deep inside ``fit``)."""
    if len(view.outputs) != 1:
        raise ValueError(f"GuidedClassifier: network '{name}' has {len(view.outputs)} outputs; "
                         "guides train a classifier with one output: give "
                         "keras.Model(network.inputs, network.outputs[0])")


def declared_names(guides):
    """(term names, statistic names) of ``guides``; a clash is refused."""
    terms = [n for g in guides for n in g.term_names()]
    stats = [n for g in guides for n in g.statistic_names()]
    seen = set(RESERVED)
    for name in terms + stats:
        if name in seen:
            owners = [type(g).__name__ for g in guides
                      if name in (*g.term_names(), *g.statistic_names())]
            raise ValueError(f"guides {owners} both declare '{name}'; give one another "
                             "name" if len(owners) > 1 else
                             f"guide {owners} declares the reserved name '{name}'")
        seen.add(name)
    return tuple(terms), tuple(stats)


def _array(value):
    """``value`` as a NumPy array when it is one in memory (not a dataset)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "numpy") and hasattr(value, "shape"):  # an eager tensor
        return np.asarray(value)
    return None


def check_annotations(x):
    """Guide inputs given as arrays to ``fit``: boxes normalised, masks
    (N, H, W) in [0, 1] at the image's size (the CLI checks its files)."""
    if not isinstance(x, dict):
        return
    image = _array(x.get("image"))
    boxes = _array(x.get("boxes"))
    if boxes is not None and boxes.size:
        top = float(np.max(boxes))
        if top > 1.0 + 1e-6 or float(np.min(boxes)) < 0:
            raise ValueError(f"boxes: expected normalised [y1, x1, y2, x2] in [0, 1], got values "
                             f"up to {top:g}: pixel boxes? divide by the image's height and "
                             "width")
    for name in ("ignore", "attend"):
        mask = _array(x.get(name))
        if mask is None:
            continue
        if image is not None and mask.shape != image.shape[:3]:
            raise ValueError(f"{name}: expected masks (N, H, W) = {image.shape[:3]} like the "
                             f"images, got {mask.shape}")
        if mask.size and (float(np.max(mask)) > 1.0 or float(np.min(mask)) < 0.0):
            raise ValueError(f"{name}: expected masks in [0, 1], got values up to "
                             f"{float(np.max(mask)):g}: masks in 0-255? divide by 255")
