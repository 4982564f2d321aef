"""Does the model rely on a region it should ignore? Maps that avoid a region
do not show it: the check changes the region and watches the predictions.

Each image's ``ignore`` region is replaced by the pixels another image of
the set has there (its donor: the image before it; the first image's is
the second), and the model predicts again. A model that ignores the region
keeps its predictions; one that reads a shortcut there changes them. The
counts are sums, so a table streams through in batches (``Reliance``) and
memory does not grow with it; ``reliance`` is the same on arrays.
"""

import numpy as np


def swap_regions(images, ignore, donors):
    """``images`` (B, H, W, 3) with their ``ignore`` (B, H, W) regions taken
    from ``donors`` (B, H, W, 3), blended by the mask's value."""
    mask = np.asarray(ignore, np.float32)[..., None]
    return np.asarray(images, np.float32) * (1 - mask) + np.asarray(donors, np.float32) * mask


class Reliance:
    """Accumulates, batch by batch in the table's order, the share of
    predictions that change when each image's ``ignore`` region comes from
    its donor, the accuracy on the swapped images, and per map source the
    share of the maps' mass inside ``ignore``."""

    def __init__(self):
        self.images = self.changed = self.correct = self.swapped_correct = 0
        self.inside, self.mass = {}, {}
        self.previous = None  # the last image of the batch before

    def donors(self, images):
        """Each image's donor: the image before it (across batches); the
        very first image's is the second."""
        images = np.asarray(images, np.float32)
        before = images[:-1] if self.previous is None else np.concatenate(
            [self.previous[None], images[:-1]])
        if self.previous is None:
            if len(images) < 2:
                raise ValueError("the reliance check needs at least two images in the first "
                                 "batch (each image's region comes from another image)")
            before = np.concatenate([images[1:2], before])
        self.previous = images[-1]
        return before

    def update(self, predict, images, ignore, labels, predicted=None):
        """``predict``: images -> class indices. ``predicted``: the
        predictions on ``images`` when already made."""
        images = np.asarray(images, np.float32)
        predicted = predict(images) if predicted is None else np.asarray(predicted)
        swapped = predict(swap_regions(images, ignore, self.donors(images)))
        labels = np.asarray(labels)
        self.images += len(images)
        self.changed += int((swapped != predicted).sum())
        self.correct += int((predicted == labels).sum())
        self.swapped_correct += int((swapped == labels).sum())
        return swapped

    def update_maps(self, name, maps, ignore):
        """Adds the mass of ``maps`` (B, H, W, >= 0) inside ``ignore``."""
        maps = np.maximum(np.asarray(maps, np.float64), 0.0)
        self.inside[name] = self.inside.get(name, 0.0) + float((maps * ignore).sum())
        self.mass[name] = self.mass.get(name, 0.0) + float(maps.sum())

    def result(self):
        count = max(self.images, 1)
        out = {"images": self.images, "changed_pct": 100.0 * self.changed / count,
               "accuracy": self.correct / count, "swapped_accuracy":
               self.swapped_correct / count}
        if self.mass:
            out["map_share_inside_pct"] = {name: 100.0 * self.inside[name] / self.mass[name]
                                           if self.mass[name] else 0.0 for name in self.mass}
        return out


def reliance(model, images, ignore, labels, batch_size=64):
    """``Reliance`` of a Keras classifier on arrays: images (N, H, W, 3) in
    [0, 1], ignore (N, H, W) in [0, 1], labels (N,) class indices."""
    check = Reliance()

    def predict(batch):
        return np.asarray(model.predict(batch, verbose=0)).argmax(-1)
    for start in range(0, len(images), batch_size):
        part = slice(start, start + batch_size)
        check.update(predict, images[part], ignore[part], labels[part])
    return check.result()
