"""``python -m distraction.train``: Grad-CAM-guided occlusion training.

With --data the paper's settings: ResNet50, 224 px, batch 16, Adam (lr 5e-5,
beta1 0.9, beta2 0.999, epsilon 7e-7), horizontal flip, rotation +-40,
channel shift +-30, brightness 0.5-1.5, p 0.25, threshold 0.85, 0-occlusion.
--p 0 trains the fine-tuned baseline (FT-ResNet50) with everything else equal.
metrics.json holds the clean test metrics and, under "erased", the same on
the test set with random erasing (seeded: both arms see the same images).
"""

from common.training.cli import Flag, TrainCommand
from common.training.entry import main
from common.training.guide_groups import HNC, OCCLUSION

FLAGS = {
    "oversample": Flag(str, "repeat the training images of this class until it is as "
                            "frequent as the largest class"),
}
METHOD_DEFAULTS = {"p": 0.25, "threshold": 0.85, "occlusion_mode": "zero", "oversample": None,
                   "optimizer": "adam", "epsilon": 7e-7}
COMMAND = TrainCommand(
    method="distraction", description=__doc__, trainer="distraction.trainer:DistractionTrainer",
    demo_data="demo:digits", flags=FLAGS, shared=(OCCLUSION, HNC),
    demo_defaults={**METHOD_DEFAULTS, "epochs": 5, "batch_size": 32, "image_size": 32,
                   "backbone": "tiny", "lr": 1e-3, "rotation": 10.0},
    paper_defaults={**METHOD_DEFAULTS, "epochs": 30, "batch_size": 16, "image_size": 224,
                    "backbone": "resnet50", "lr": 5e-5, "flip": "horizontal",
                    "rotation": 40.0, "channel_shift": 30.0, "brightness": "0.5,1.5"})


def run(argv=None):
    """The console script ``distraction-train``."""
    return main(COMMAND, argv)


if __name__ == "__main__":
    run()
