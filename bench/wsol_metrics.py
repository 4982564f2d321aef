"""common.wsol_metrics.max_box_acc against the WSOL protocol's reference algorithm
(bench/wsol_reference.py, a port of Choe et al.'s BoxEvaluator) on a mix of maps
with many contours: smoothed noise, upsampled 7x7 CAMs and Gaussian blobs,
at 224 px with 100 thresholds and all contours (MaxBoxAccV2). The two sides
alternate (A B A B ...); BoxAcc must be identical at every threshold.

    python bench/wsol_metrics.py [--maps 1000] [--size 224] [--rounds 5]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench.timing import alternate, describe  # noqa: E402
from common.wsol_metrics import max_box_acc  # noqa: E402
from bench.wsol_reference import box_accuracy  # noqa: E402


def map_mix(count, size, seed=0):
    """(maps in [0, 1], ground-truth boxes): a third each of smoothed noise,
    bilinearly upsampled 7x7 CAMs and two or three Gaussian blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    maps, gts = [], []
    for index in range(count):
        kind = index % 3
        if kind == 0:
            noise = rng.random((size, size)).astype(np.float32)
            m = cv2.GaussianBlur(noise, (0, 0), rng.uniform(2, 6))
        elif kind == 1:
            m = cv2.resize(rng.random((7, 7)).astype(np.float32) ** 2, (size, size),
                           interpolation=cv2.INTER_LINEAR)
        else:
            m = np.zeros((size, size))
            for _ in range(rng.integers(2, 4)):
                cy, cx = rng.uniform(0.1, 0.9, 2) * size
                sigma = rng.uniform(0.04, 0.2) * size
                m = np.maximum(m, rng.uniform(0.4, 1) * np.exp(
                    -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2)))
        m = (m - m.min()) / max(m.max() - m.min(), 1e-12)
        maps.append(m.astype(np.float32))
        x0, y0 = rng.integers(0, size // 2, 2)
        w, h = rng.integers(size // 8, size // 2, 2)
        gts.append(np.array([[x0, y0, min(x0 + w, size - 1), min(y0 + h, size - 1)]]))
    return maps, gts


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--maps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    maps, gts = map_mix(args.maps, args.size)
    results = {}

    def toolkit():
        results["toolkit"] = max_box_acc(maps, gts, cam_curve_interval=0.01)["box_acc_pct"]

    def toolkit_one_thread():
        results["one"] = max_box_acc(maps, gts, cam_curve_interval=0.01,
                                     workers=1)["box_acc_pct"]

    def reference():
        results["reference"] = box_accuracy(maps, gts, cam_curve_interval=0.01)

    times = alternate({"reference": reference, "toolkit": toolkit,
                       "toolkit_1_thread": toolkit_one_thread}, rounds=args.rounds)
    identical = all(results[k] == results["reference"] for k in ("toolkit", "one"))
    print(f"maps={args.maps} size={args.size} thresholds=100 multi-contour, cores="
          f"{os.cpu_count()}; BoxAcc identical at every threshold: {identical}")
    print("speed-up " + describe(times, "reference", "toolkit"))
    print("speed-up " + describe(times, "reference", "toolkit_1_thread"))
    if not identical:
        sys.exit("BoxAcc differs from the reference")


if __name__ == "__main__":
    main()
