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
from common.training.guide_flags import HNC

FLAGS = {
    "network": Flag(str, "your own classifier instead of --backbone -> GAP -> Dense: "
                         "'package.module:function' (called with input_shape and "
                         "num_classes) or a .keras file; it takes [0, 1] images at "
                         "--image-size and returns probabilities or logits; code is "
                         "imported only when named on the command line", code=True),
    "network_input": Flag(str, "the range the network expects: 0-1, or 0-255 for "
                               "keras.applications models with built-in preprocessing "
                               "(EfficientNetV2, MobileNetV3, ConvNeXt)", ("0-1", "0-255")),
    "masks": Flag(str, "Forced Spatial Attention guide: a mask set (.npz or .json, see "
                       "docs/fsa.md) for the data's classes, or 'attend': each image's attend mask "
                       "(default: off)"),
    "fsa_weight": Flag(float, "weight of the FSA loss (the paper's lambda_fsa)", low=0.0),
    "fsa_reg": Flag(float, "overlap term inside the FSA loss (the paper's lambda_reg)",
                    low=0.0),
    "p": Flag(float, "Grad-CAM occlusion guide: probability that a batch is occluded "
                     "(0: off)", low=0.0, high=1.0),
    "threshold": Flag(float, "occlude pixels whose normalised Grad-CAM exceeds this",
                      low=0.0, high=1.0, open_high=True),
    "occlusion": Flag(str, "value of occluded pixels", ("zero", "one", "random")),
    "box_energy": Flag(float, "box energy guide (Rao et al. 2023): weight of minus the "
                              "share of the true class's CAM energy inside the data's "
                              "boxes (0: off)", low=0.0),
    "box_energy_region": Flag(str, "where --box-energy wants the energy: the data's boxes or "
                                   "its 'attend' masks", ("boxes", "attend")),
    "hint": Flag(float, "HINT guide (Selvaraju et al. 2019): weight of the ranking loss "
                        "between the true class's gradient importance and the data's "
                        "'attend' masks (0: off)", low=0.0),
    "input_gradient": Flag(float, "input-gradient guide (Right for the Right Reasons, Ross "
                                  "et al. 2017): weight of the squared input gradient inside "
                                  "the data's 'ignore' masks (a CSV column; 0: off; the "
                                  "paper's 1000)", low=0.0),
    "gradcam_penalty": Flag(float, "Grad-CAM guide (RRR-G, Schramowski et al. 2020): weight of "
                                   "the true class's squared Grad-CAM inside the data's "
                                   "'ignore' masks (0: off)", low=0.0),
    "counterexamples": Flag(float, "counterexamples guide (Teso and Kersting 2019): share of "
                                   "each batch whose 'ignore' region is replaced by noise "
                                   "before the step (0: off)", low=0.0, high=1.0),
    "guide": Flag(str, "a guide by its registered name (entry-point group "
                       "attention_guided.guides: the toolkit's, listed in docs/guides.md, and "
                       "any installed package's); repeat it to compose guides", repeat=True),
    "guide_arg": Flag(str, "NAME.key=value: an argument of --guide NAME's constructor, the "
                           "value a YAML scalar (number, true/false, null, string); "
                           "repeatable", repeat=True),
}
GUIDE_DEFAULTS = {"network": None, "network_input": "0-1", "masks": None, "p": 0.0,
                  "threshold": 0.85, "occlusion": "zero", "box_energy": 0.0,
                  "box_energy_region": "boxes", "hint": 0.0, "input_gradient": 0.0,
                  "gradcam_penalty": 0.0, "counterexamples": 0.0, "guide": [], "guide_arg": []}
COMMAND = TrainCommand(
    method="common", description=__doc__, trainer="common.training.trainer:Trainer",
    demo_data="demo:digits", flags=FLAGS, shared=(HNC,),
    settle="common.guide_registry:settle",
    demo_defaults={**GUIDE_DEFAULTS, "epochs": 5, "batch_size": 32, "image_size": 32,
                   "backbone": "tiny", "lr": 1e-3, "fsa_weight": 1.0, "fsa_reg": 0.05},
    paper_defaults={**GUIDE_DEFAULTS, "epochs": 50, "batch_size": 32, "image_size": 224,
                    "backbone": "resnet50", "lr": 1e-3, "flip": "horizontal",
                    "fsa_weight": 10.0, "fsa_reg": 0.2})


def run(argv=None):
    """The console script ``attention-train``."""
    return main(COMMAND, argv)


if __name__ == "__main__":
    run()
