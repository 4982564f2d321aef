"""``python -m fsa.train``: SqueezeNet v1.1 with Forced Spatial Attention.

--variant reproduces the rows of the paper's Table 2: ce (cross-entropy
only), mse (CE + the first term with the stage-1 target), stage1, stage2,
fsa (stage 1 for --stage1-epochs, then stage 2 for --stage2-epochs). Any
variant with the FSA loss can start with --warmup-epochs of cross-entropy
only. The masks are averaged onto the CAM grid around each cell's
receptive-field centre and rescaled to peak 1 (--mask-peak raw keeps the
values); the fit term is binary cross-entropy on the CAM logits (--fit-loss
mse: the paper's MSE on the sigmoid, whose gradient vanishes once a CAM is
far below 0, so a CAM pushed there stays dead). history.csv has cam_alive,
the fraction of positive true-class CAM logits; a run that ends with dead
CAMs says so and exits with status 1.

With --data, the paper's settings: ImageNet-pretrained SqueezeNet v1.1
(torchvision's file; --weights FILE.pth, or none), 224 px, batch 64, SGD lr
5e-4, momentum 0.9, weight decay 5e-4, 15 + 15 epochs, lambda_fsa 10,
lambda_reg 0.2; --masks is then required. Without --data: demo:where and its
mask set, trained from scratch with AdamW lr 3e-4, 6 + 6 epochs.
"""

from common.training.cli import Flag, TrainCommand
from common.training.entry import main
from common.training.guide_flags import HNC

VARIANTS = ("ce", "mse", "stage1", "stage2", "fsa")
FITS = ("bce", "mse")  # fsa.losses.FITS
MASK_PEAKS = ("one", "raw")  # fsa.masks.MASK_PEAKS
FLAGS = {
    "variant": Flag(str, "loss of the paper's Table 2", VARIANTS),
    "masks": Flag(str, "mask set (.npz or .json, see fsa.masks); default: the demo's"),
    "stage1_epochs": Flag(int, "epochs of stage 1 (variant fsa)", low=0),
    "stage2_epochs": Flag(int, "epochs of stage 2 (variant fsa)", low=0),
    "warmup_epochs": Flag(int, "epochs of cross-entropy only before the FSA loss starts",
                          low=0),
    "lambda_fsa": Flag(float, "weight of the FSA loss", low=0.0),
    "lambda_reg": Flag(float, "weight of the overlap term inside the FSA loss", low=0.0),
    "fit_loss": Flag(str, "first term of the FSA loss: bce on the CAM logits, or the paper's "
                          "mse on their sigmoid", FITS),
    "mask_peak": Flag(str, "grid masks rescaled to peak 1 (one) or kept as averaged (raw)",
                      MASK_PEAKS),
}
METHOD_DEFAULTS = {"variant": "fsa", "masks": None, "momentum": 0.9, "weight_decay": 5e-4,
                   "backbone": "squeezenet1_1", "warmup_epochs": 0, "fit_loss": "bce",
                   "mask_peak": "one"}
COMMAND = TrainCommand(
    method="fsa", description=__doc__, trainer="fsa.trainer:FsaTrainer",
    demo_data="demo:where", flags=FLAGS, shared=(HNC,),
    demo_defaults={**METHOD_DEFAULTS, "batch_size": 32, "image_size": 96,
                   "optimizer": "adam", "lr": 3e-4, "lambda_fsa": 1.0, "lambda_reg": 0.05,
                   "stage1_epochs": 6, "stage2_epochs": 6},
    paper_defaults={**METHOD_DEFAULTS, "weights": "imagenet", "batch_size": 64,
                    "image_size": 224,
                    "optimizer": "sgd", "lr": 5e-4, "lambda_fsa": 10.0, "lambda_reg": 0.2,
                    "stage1_epochs": 15, "stage2_epochs": 15})


def run(argv=None):
    """The console script ``fsa-train``."""
    return main(COMMAND, argv)


if __name__ == "__main__":
    run()
