"""``python -m fam.train``: Foreground Activation Maps for weakly supervised
object localisation, trained with image-level labels only.

With --data, the paper's settings: VGG16 (any --backbone), 224 px, horizontal
flip and random zoom (a stand-in for resize 256 -> random crop 224),
lambda_spa 0.04, lambda_div 0.01, N = 3 templates, K = 5 parts. Without
--data: demo:wsol. The test images need boxes (CSV columns x0,y0,x1,y1);
metrics.json adds Top-1 Cls, GT-known Loc, Top-1 Loc (map threshold 0.5) and
MaxBoxAccV2. --baseline trains the plain CAM classifier with the same budget
and evaluates the true class's CAM as its map.
"""

from common.training.cli import Flag, TrainCommand
from common.training.entry import main
from common.training.guide_groups import HNC

FLAGS = {
    "num_templates": Flag(int, "memory templates N", low=1),
    "num_parts": Flag(int, "parts K", low=1),
    "lambda_spa": Flag(float, "weight of the sparsity loss (0: ablation without it)", low=0.0),
    "lambda_div": Flag(float, "weight of the diversity loss (0: ablation without it)",
                       low=0.0),
    "no_memory": Flag("switch", "ablation: a plain 1x1 conv instead of the memory"),
    "no_importance": Flag("switch", "ablation: average the parts instead of weighting them"),
    "baseline": Flag("switch", "train the plain CAM classifier instead (same budget)"),
    "class_balanced": Flag("switch", "weight the cross-entropy by inverse class frequency"),
}
METHOD_DEFAULTS = {"num_templates": 3, "num_parts": 5, "lambda_spa": 0.04, "lambda_div": 0.01,
                   "no_memory": False, "no_importance": False, "baseline": False,
                   "class_balanced": False}
COMMAND = TrainCommand(
    method="fam", description=__doc__, trainer="fam.trainer:FamTrainer",
    demo_data="demo:wsol", flags=FLAGS, shared=(HNC,),
    demo_defaults={**METHOD_DEFAULTS, "epochs": 8, "batch_size": 32, "image_size": 64,
                   "backbone": "tiny", "lr": 1e-3},
    paper_defaults={**METHOD_DEFAULTS, "epochs": 50, "batch_size": 32, "image_size": 224,
                    "backbone": "vgg16", "lr": 1e-3, "flip": "horizontal", "zoom": 0.125})


def run(argv=None):
    """The console script ``fam-train``."""
    return main(COMMAND, argv)


if __name__ == "__main__":
    run()
