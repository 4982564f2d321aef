"""Time to evaluate MaxBoxAccV2 on 1,000 score maps at 224 px with a CAM
curve interval of 0.01 (100 thresholds), as in Choe et al.'s protocol.

    python bench/wsol_metrics.py [--maps 1000] [--size 224]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from fam.metrics import max_box_acc  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--maps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:args.size, 0:args.size]
    maps, gts = [], []
    for _ in range(args.maps):
        cy, cx = rng.uniform(0.2, 0.8, 2) * args.size
        sigma = rng.uniform(0.05, 0.2) * args.size
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
        # A second, weaker blob: CAM-like maps with more than one contour.
        dy, dx = rng.uniform(0.1, 0.9, 2) * args.size
        blob = np.maximum(blob, 0.6 * np.exp(-((yy - dy) ** 2 + (xx - dx) ** 2)
                                             / (2 * (sigma / 2) ** 2)))
        maps.append(blob)
        r = 1.5 * sigma
        gts.append(np.array([[cx - r, cy - r, cx + r, cy + r]]).clip(0, args.size - 1))
    start = time.perf_counter()
    result = max_box_acc(maps, gts, cam_curve_interval=0.01)
    seconds = time.perf_counter() - start
    print(f"maps={args.maps} size={args.size} thresholds=100")
    print(f"MaxBoxAccV2 {result['max_box_acc_v2']:.2f}: {seconds:.2f} s "
          f"({1000 * seconds / args.maps:.2f} ms per map)")


if __name__ == "__main__":
    main()
