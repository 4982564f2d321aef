"""``python -m common.train``: the plain CAM classifier every method compares
against (backbone -> global average pooling -> Dense softmax, cross-entropy),
optionally with the homogeneous negative CAM loss (--hnc-weight)."""

from common.training.cli import TrainCommand
from common.training.entry import main

COMMAND = TrainCommand(
    method="common", description=__doc__, trainer="common.training.trainer:Trainer",
    demo_data="demo:digits",
    demo_defaults={"epochs": 5, "batch_size": 32, "image_size": 32, "backbone": "tiny",
                   "lr": 1e-3},
    paper_defaults={"epochs": 50, "batch_size": 32, "image_size": 224,
                    "backbone": "resnet50", "lr": 1e-3, "flip": "horizontal"})


def run(argv=None):
    """The console script ``attention-train``."""
    return main(COMMAND, argv)


if __name__ == "__main__":
    run()
