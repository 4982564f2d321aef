"""AG-Net regions and input pipeline.

    python bench/agnet_regions.py [--images 400] [--image-size 64]

Prints regions per second cold (SIFT + GMM on all cores, empty cache) and
warm (read from the cache), and the input pipeline's images per second
(decode + cached regions + box-aware augmentation, batched) over the
training step's images per second on the demo configuration. Target: the
ratio stays above 1, so the pipeline never starves training.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from agnet.augment import RegionAugmentation  # noqa: E402
from agnet.cache import compute_regions  # noqa: E402
from agnet.model import build_agnet  # noqa: E402
from bench.distraction import step_time  # noqa: E402
from common.backbones import build_backbone  # noqa: E402
from common.data import make_dataset, read_table, split_table  # noqa: E402
from common.data.demo import demo_csv  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--backbone", default="tiny")
    args = parser.parse_args()

    table, classes = read_table(demo_csv("wsol"))
    train = split_table(table)[0].iloc[:args.images]
    paths = list(train["path"])
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        regions = compute_regions(paths, args.image_size, cache_dir=cache)
        cold = len(paths) / (time.perf_counter() - start)
        start = time.perf_counter()
        compute_regions(paths, args.image_size, cache_dir=cache)
        warm = len(paths) / (time.perf_counter() - start)

    data = make_dataset(train, classes, args.image_size, args.batch, training=True,
                        augment=RegionAugmentation(flip=True, seed=0),
                        extra_inputs={"regions": regions}, cache=False)
    for _ in data.take(2):
        pass
    start, seen = time.perf_counter(), 0
    for inputs, _ in data:
        seen += len(inputs["image"])
    pipeline = seen / (time.perf_counter() - start)

    keras.utils.set_random_seed(0)
    shape = (args.image_size, args.image_size, 3)
    model = build_agnet(build_backbone(args.backbone, shape), len(classes))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    step = step_time(model, data.repeat(), steps=8)
    training = args.batch / step

    print(f"images={len(paths)} size={args.image_size} backbone={args.backbone} "
          f"cores={os.cpu_count()}")
    print(f"regions per second: cold {cold:.0f}   warm (cache) {warm:.0f}   "
          f"warm / cold {warm / cold:.1f}")
    print(f"input pipeline {pipeline:.0f} images/s   training step {training:.0f} images/s")
    print(f"ratio pipeline / training: {pipeline / training:.2f}  (target > 1)")


if __name__ == "__main__":
    main()
