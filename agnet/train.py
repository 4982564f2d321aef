"""``python -m agnet.train``: the Attend and Guide Network.

With --data, the paper's settings: ResNet50 (any --backbone of the registry),
224 px, batch 8, 50 epochs, SGD momentum 0.99, lr 1e-5 divided by 10 every
25 epochs, categorical cross-entropy, 8 primary regions (36 boxes), and the
paper's geometric augmentation (rotation +-15 degrees, scale 0.85-1.15,
translation +-15 %) applied to the image and its cached regions together.
Without --data: demo:fashion (Fashion-MNIST, when common.data.fashion_mnist
finds it: `make fashion-mnist`; else demo:digits, whose upscaled 8x8
digits have too few SIFT keypoints and mostly get the grid regions), a tiny
backbone at 64 px. metrics.json adds top-1, top-5 and mAP.
"""

from common.data.fashion_mnist import locate as locate_fashion_mnist
from common.training.cli import Flag, TrainCommand
from common.training.entry import main
from common.training.guide_groups import HNC

POOLINGS = ("gap_gmp", "gap", "gmp")  # agnet.model.POOLINGS
INTER_ATTENTION = ("softmax", "sum")  # agnet.layers.NORMALIZATIONS
FLAGS = {
    "num_primary": Flag(int, "primary regions k (R = k + k(k-1)/2 boxes)", low=1),
    "regions": Flag(str, "cached: SIFT once, boxes moved with the augmentation; on-the-fly: "
                         "SIFT + GMM again on every augmented image (the paper's generator)",
                    ("cached", "on-the-fly")),
    "region_cache": Flag(str, "folder of the region cache (default ~/.cache/attention-guided/"
                              "agnet-regions or $AGNET_REGION_CACHE)"),
    "no_regions": Flag("switch", "ablation: pool the whole image only, no semantic regions"),
    "no_self_attention": Flag("switch", "ablation: drop the self-attention layer"),
    "no_se_blocks": Flag("switch", "ablation: drop the per-region SE-residual blocks"),
    "no_inter_attention": Flag("switch", "ablation: drop the inter-region attention"),
    "inter_attention": Flag(str, "inter-region attention weights: softmax (the authors' "
                                 "layer: each row of sigmoid scores softmax-normalised, a "
                                 "weighted mean of the regions) or sum (eq. 2 read literally; "
                                 "ablation)", INTER_ATTENTION),
    "pooling": Flag(str, "final pooling (ablation: gap or gmp alone)", POOLINGS),
    "lr_step": Flag(int, "divide the learning rate by 10 every this many epochs", low=1),
}
METHOD_DEFAULTS = {"num_primary": 8, "regions": "cached", "region_cache": None,
                   "no_regions": False, "no_self_attention": False, "no_se_blocks": False,
                   "no_inter_attention": False,
                   "inter_attention": "softmax",
                   "pooling": "gap_gmp", "momentum": 0.99, "lr_step": 25,
                   # the paper's geometric augmentation (agnet.augment)
                   "rotation": 15.0, "zoom": 0.15, "translation": 0.15}
COMMAND = TrainCommand(
    method="agnet", description=__doc__, trainer="agnet.trainer:AgnetTrainer",
    demo_data="demo:fashion" if locate_fashion_mnist() else "demo:digits",
    flags=FLAGS, former=tuple(HNC.defaults),  # runs before HNC left the base flags
    demo_defaults={**METHOD_DEFAULTS, "epochs": 8, "batch_size": 32, "image_size": 64,
                   "backbone": "tiny", "optimizer": "adam", "lr": 1e-3},
    paper_defaults={**METHOD_DEFAULTS, "epochs": 50, "batch_size": 8, "image_size": 224,
                    "backbone": "resnet50", "optimizer": "sgd", "lr": 1e-5})


def run(argv=None):
    """The console script ``agnet-train``."""
    return main(COMMAND, argv)


if __name__ == "__main__":
    run()
