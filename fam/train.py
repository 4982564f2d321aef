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

from common import cli
from common.harness import Trainer, main
from fam.evaluation import evaluate_localization
from fam.model import FamModel, build_fam_network

FLAGS = {
    "num_templates": (int, "memory templates N", None),
    "num_parts": (int, "parts K", None),
    "lambda_spa": (float, "weight of the sparsity loss (0: ablation without it)", None),
    "lambda_div": (float, "weight of the diversity loss (0: ablation without it)", None),
    "no_memory": ("switch", "ablation: a plain 1x1 conv instead of the memory", None),
    "no_importance": ("switch", "ablation: average the parts instead of weighting them",
                      None),
    "baseline": ("switch", "train the plain CAM classifier instead (same budget)", None),
    "class_balanced": ("switch", "weight the cross-entropy by inverse class frequency", None),
    **cli.HNC_FLAGS,
}
METHOD_DEFAULTS = {"num_templates": 3, "num_parts": 5, "lambda_spa": 0.04, "lambda_div": 0.01,
                   "no_memory": False, "no_importance": False, "baseline": False, "class_balanced": False,
                   **cli.HNC_DEFAULTS}


class FamTrainer(Trainer):
    method = "fam"
    description = __doc__
    demo_data = "demo:wsol"
    demo_defaults = {"epochs": 8, "batch_size": 32, "image_size": 64, "backbone": "tiny",
                     "lr": 1e-3, **METHOD_DEFAULTS}
    paper_defaults = {"epochs": 50, "batch_size": 32, "image_size": 224, "backbone": "vgg16",
                      "lr": 1e-3, "flip": "horizontal", "zoom": 0.125, **METHOD_DEFAULTS}
    extra_flags = FLAGS

    def build_network(self, args, num_classes, multi_label):
        if args.baseline:
            return super().build_network(args, num_classes, multi_label)
        return build_fam_network(self.build_backbone(args), num_classes, args.num_templates,
                                 args.num_parts, memory=not args.no_memory,
                                 importance=not args.no_importance)

    def build_model(self, args, network, data):
        if args.baseline:
            return super().build_model(args, network, data)
        return FamModel(network, lambda_spa=args.lambda_spa, lambda_div=args.lambda_div,
                        hnc_weight=args.hnc_weight or 0.0, hnc_k=args.hnc_k,
                        hnc_variant=args.hnc_variant or "mse")

    def class_weight(self, args, data):
        if not args.class_balanced:
            return None
        counts = data.train["labels"].map(lambda labels: labels[0]).value_counts()
        total, classes = counts.sum(), len(data.classes)
        return {i: float(total / (classes * counts[name]))
                for i, name in enumerate(data.classes)}

    def cam_layer(self, args):
        return None if args.baseline else "parts"

    def extra_metrics(self, args, network, data, probabilities):
        if not data.test["boxes"].map(len).gt(0).all():
            return {"localization": "skipped: the test images have no boxes"}
        result, *_ = evaluate_localization(network, data.test, data.classes, args.image_size,
                                           probabilities,
                                           kind="cam" if args.baseline else "fam")
        return {"localization": result}


if __name__ == "__main__":
    main(FamTrainer())
