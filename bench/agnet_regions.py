"""AG-Net regions: how fast, cold, and does the input pipeline keep up.

    python bench/agnet_regions.py [--rounds 5] [--photos-per-image 30]

1. Regions per second, cold (SIFT + mixture fit on every core), on real
   photos at 224 px (scikit-image's samples and random crops of them) and
   on the 64 px demo images: the toolkit (agnet.regions.batch_regions: the
   compiled fit, one BLAS / OpenCV thread per worker) against scikit-learn's
   GaussianMixture (same threads), alternating rounds; the regions must be
   identical (scikit-learn's fit in one thread). Goal at 224 px: >= 100/s.
2. Cold regions from files: scikit-image's sample photos at their own sizes
   (PNG and JPEG, 303x384 to 1411x1411 px), hashed, decoded, resized to 224
   px and regions computed by ``compute_regions`` on 2 workers into an empty
   cache; the toolkit's loader (JPEGs decoded reduced in the DCT) against a
   full decode, alternating rounds, and next to them the ceiling: hashing,
   decoding and OpenCV SIFT alone on the same 2 workers, without the
   mixture fit. Goal: >= 100 images/s.
3. The input pipeline (decode + regions + augmentation, batched) in images
   per second next to the training step's, with cached regions and with
   --regions on-the-fly, on the demo configuration (tiny backbone, 64 px).
"""

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import agnet.regions as regions_module  # noqa: E402
from bench.timing import alternate  # noqa: E402


def photo_crops(size, per_photo, seed=0):
    """Real photos: scikit-image's samples and random crops of them."""
    from skimage import data as samples
    rng = np.random.default_rng(seed)
    crops = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry",
                 "hubble_deep_field", "retina", "coins", "camera"):
        image = getattr(samples, name)()
        image = np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]
        h, w = image.shape[:2]
        for _ in range(per_photo):
            scale = rng.uniform(0.5, 1.0)
            ch, cw = int(h * scale), int(w * scale)
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            crops.append(cv2.resize(image[y:y + ch, x:x + cw], (size, size),
                                    interpolation=cv2.INTER_AREA))
    return crops


def sklearn_fit_predict(points, k, seed=0, reg_covar=1e-6, max_iter=100, tol=1e-3):
    from sklearn.mixture import GaussianMixture
    mixture = GaussianMixture(k, covariance_type="full", reg_covar=reg_covar,
                              max_iter=max_iter, tol=tol, init_params="kmeans",
                              random_state=seed)
    return mixture.fit(points).predict(points)


def rates(images, rounds):
    """images/s of each side per round, and whether the regions agree."""
    toolkit_fit = regions_module.fit_predict

    def run(fit):
        def measure():
            regions_module.fit_predict = fit
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    start = time.perf_counter()
                    regions_module.batch_regions(images)
                    return time.perf_counter() - start
            finally:
                regions_module.fit_predict = toolkit_fit
        return measure
    times = alternate({"toolkit": run(toolkit_fit),
                       "scikit-learn": run(sklearn_fit_predict)}, rounds=rounds)
    per_second = {k: len(images) / np.asarray(v) for k, v in times.items()}
    return per_second, same_regions(images)


def same_regions(images):
    """Whether the toolkit's regions equal those from scikit-learn's fit run
    in one thread. In the pool's threads scikit-learn's k-means runs its
    OpenMP loop on every core whatever threadpoolctl set in the main thread
    (the limit is per calling thread), and its centres of more than 256
    points, summed per thread, then round differently."""
    toolkit_fit = regions_module.fit_predict
    with regions_module.one_thread_each(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [regions_module.semantic_regions(image) for image in images]
        regions_module.fit_predict = sklearn_fit_predict
        try:
            theirs = [regions_module.semantic_regions(image) for image in images]
        finally:
            regions_module.fit_predict = toolkit_fit
    return all(np.array_equal(a, b) for a, b in zip(ours, theirs))


SAMPLE_FILES = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "coins.png",
                "camera.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "motorcycle_left.png")


def full_decode(path, image_size):
    """The loader before reduced JPEG decoding, for the comparison."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def file_rates(rounds, copies=6):
    """images/s of cold compute_regions on the sample files, per loader."""
    import shutil
    import tempfile

    import skimage

    import agnet.cache as cache
    folder = tempfile.mkdtemp(prefix="regions-files-")
    paths = []
    for name in SAMPLE_FILES:
        source = os.path.join(os.path.dirname(skimage.__file__), "data", name)
        for copy in range(copies):
            paths.append(os.path.join(folder, f"{copy}-{name}"))
            shutil.copy(source, paths[-1])
    toolkit_loader = cache.load_rgb

    def ceiling():
        def keypoints_of(path):
            cache.cache_key(path, 224, 8, 0)
            return regions_module.keypoints(toolkit_loader(path, 224))
        start = time.perf_counter()
        regions_module.map_images(keypoints_of, paths, workers=2)
        return time.perf_counter() - start

    def run(loader):
        def measure():
            cache.load_rgb = loader
            target = tempfile.mkdtemp(dir=folder)
            try:
                start = time.perf_counter()
                cache.compute_regions(paths, 224, cache_dir=target, workers=2, verbose=0)
                return time.perf_counter() - start
            finally:
                cache.load_rgb = toolkit_loader
                shutil.rmtree(target)
        return measure
    times = alternate({"toolkit": run(toolkit_loader), "full decode": run(full_decode),
                       "decode + SIFT only": ceiling}, rounds=rounds)
    shutil.rmtree(folder)
    return {k: len(paths) / np.asarray(v) for k, v in times.items()}, len(paths)


def pipeline_rates(args):
    import keras

    from agnet.augment import OnTheFlyRegions, RegionAugmentation
    from agnet.cache import compute_regions
    from agnet.model import build_agnet
    from bench.timing import train_step_seconds
    from common.backbones import build_backbone
    from common.data import make_dataset, read_table, split_table
    from common.data.demo import demo_csv
    table, classes = read_table(demo_csv("wsol"))
    train = split_table(table)[0].iloc[:256]
    size = 64
    cached = compute_regions(list(train["path"]), size, cache_dir=args.cache)
    result = {}
    for name, augment in (("cached", RegionAugmentation(flip=True, seed=0)),
                          ("on-the-fly", OnTheFlyRegions(8, 0, flip=True))):
        data = make_dataset(train, classes, size, 32, training=True, augment=augment,
                            extra_inputs={"regions": cached}, cache=False)
        for _ in data.take(1):
            pass
        start, seen = time.perf_counter(), 0
        for inputs, _ in data:
            seen += len(inputs["image"])
        result[name] = seen / (time.perf_counter() - start)
    keras.utils.set_random_seed(0)
    model = build_agnet(build_backbone("tiny", (size, size, 3)), len(classes))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    data = make_dataset(train, classes, size, 32, training=True,
                        extra_inputs={"regions": cached}, cache=True).repeat()
    step = train_step_seconds(model, data, steps=5)()
    result["training step"] = 32 / step
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--photos-per-image", type=int, default=20)
    parser.add_argument("--cache", default=None, help="region cache of the pipeline part")
    parser.add_argument("--files-only", action="store_true",
                        help="only the cold regions from files (part 2)")
    args = parser.parse_args()
    import tempfile
    print(f"cores={os.cpu_count()}")
    sets = () if args.files_only else (
        ("real photos 224 px", photo_crops(224, args.photos_per_image)),
        ("real photos 64 px", photo_crops(64, args.photos_per_image)))
    for label, images in sets:
        per_second, same = rates(images, args.rounds)
        ratio = per_second["toolkit"] / per_second["scikit-learn"]
        print(f"{label}, {len(images)} images: toolkit median "
              f"{np.median(per_second['toolkit']):.0f}/s (min "
              f"{per_second['toolkit'].min():.0f}, max {per_second['toolkit'].max():.0f}); "
              f"scikit-learn path {np.median(per_second['scikit-learn']):.0f}/s; speed-up "
              f"median {np.median(ratio):.2f} (min {ratio.min():.2f}, max {ratio.max():.2f}) "
              f"over {args.rounds} rounds; regions identical: {same}")
    per_second, count = file_rates(args.rounds)
    ratio = per_second["toolkit"] / per_second["full decode"]
    print(f"cold regions from {count} sample files at their own sizes, 224 px, 2 workers: "
          f"toolkit median {np.median(per_second['toolkit']):.0f}/s (min "
          f"{per_second['toolkit'].min():.0f}, max {per_second['toolkit'].max():.0f}; goal "
          f">= 100); full decode {np.median(per_second['full decode']):.0f}/s; speed-up "
          f"median {np.median(ratio):.2f} (min {ratio.min():.2f}, max {ratio.max():.2f}); "
          f"ceiling (hashing, decoding and SIFT alone, no mixture fit) median "
          f"{np.median(per_second['decode + SIFT only']):.0f}/s (min "
          f"{per_second['decode + SIFT only'].min():.0f}, max "
          f"{per_second['decode + SIFT only'].max():.0f})")
    if args.files_only:
        return
    with tempfile.TemporaryDirectory() as cache:
        args.cache = args.cache or cache
        result = pipeline_rates(args)
    print("input pipeline (demo: tiny backbone, 64 px, batch 32): " + ", ".join(
        f"{k} {v:.0f} images/s" for k, v in result.items()))


if __name__ == "__main__":
    main()
