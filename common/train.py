"""``python -m common.train``: the plain CAM classifier every method compares
against (backbone -> global average pooling -> Dense softmax, cross-entropy),
or your own network (--network), trained with any combination of guides:
--masks (Forced Spatial Attention), --p (Grad-CAM occlusion), --hnc-weight
(homogeneous negative CAM loss), --box-energy (boxes of the data),
--input-gradient, --gradcam-penalty and --counterexamples (the data's
ignore masks), and any installed guide by name: --guide NAME with
--guide-arg NAME.key=value (common.guide_registry)."""

from common.training.cli import Flag, TrainCommand
from common.training.entry import main
from common.training.guide_groups import (BOX_ENERGY, BY_NAME, COUNTEREXAMPLES, FSA,
                                          GRADCAM_PENALTY, HINT, HNC, INPUT_GRADIENT, OCCLUSION)

FLAGS = {
    "network": Flag(str, "your own classifier instead of --backbone -> GAP -> Dense: "
                         "'package.module:function' (called with input_shape and "
                         "num_classes) or a .keras file; it takes [0, 1] images at "
                         "--image-size and returns probabilities or logits; code is "
                         "imported only when named on the command line", code=True),
    "network_input": Flag(str, "the range the network expects: 0-1, or 0-255 for "
                               "keras.applications models with built-in preprocessing "
                               "(EfficientNetV2, MobileNetV3, ConvNeXt)", ("0-1", "0-255")),
}
# The guides in the order they act on a step (a batch change first).
GUIDE_GROUPS = (COUNTEREXAMPLES, FSA, OCCLUSION, BOX_ENERGY, HINT, INPUT_GRADIENT,
                GRADCAM_PENALTY, BY_NAME, HNC)
DEFAULTS = {"network": None, "network_input": "0-1"}
COMMAND = TrainCommand(
    method="common", description=__doc__, trainer="common.training.trainer:OwnNetworkTrainer",
    demo_data="demo:digits", flags=FLAGS, shared=GUIDE_GROUPS,
    settle="common.guide_registry:settle",
    demo_defaults={**DEFAULTS, "epochs": 5, "batch_size": 32, "image_size": 32,
                   "backbone": "tiny", "lr": 1e-3, "fsa_weight": 1.0, "fsa_reg": 0.05},
    paper_defaults={**DEFAULTS, "epochs": 50, "batch_size": 32, "image_size": 224,
                    "backbone": "resnet50", "lr": 1e-3, "flip": "horizontal",
                    "fsa_weight": 10.0, "fsa_reg": 0.2})


def run(argv=None):
    """The console script ``attention-train``."""
    return main(COMMAND, argv)


if __name__ == "__main__":
    run()
