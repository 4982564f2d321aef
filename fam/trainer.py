"""The FAM hooks of the training harness (``python -m fam.train``)."""

from common.classifier import GuidedClassifier
from common.training.trainer import Trainer
from fam.localization import evaluate_localization
from fam.guide import FamRegularisers
from fam.model import build_fam_network


class FamTrainer(Trainer):
    def build_network(self, args, num_classes, multi_label):
        if args.baseline:
            return super().build_network(args, num_classes, multi_label)
        return build_fam_network(self.build_backbone(args), num_classes, args.num_templates,
                                 args.num_parts, memory=not args.no_memory,
                                 importance=not args.no_importance)

    def build_model(self, args, network, data):
        if args.baseline:
            return super().build_model(args, network, data)
        # FAM's maps are the CAMs (fam.guide.find_fam_maps, an installed CAM source)
        regularisers = FamRegularisers(args.lambda_spa, args.lambda_div)
        return GuidedClassifier(network, guides=[regularisers, *self.guides(args, data)])

    def class_weight(self, args, data):
        if not args.class_balanced:
            return None
        counts = data.train["labels"].map(lambda labels: labels[0]).value_counts()
        total, classes = counts.sum(), len(data.classes)
        return {i: float(total / (classes * counts[name]))
                for i, name in enumerate(data.classes)}

    def feature_layer(self, args):
        return None if args.baseline else "parts"

    def extra_metrics(self, args, network, data, probabilities, shard=None):
        if not data.test["boxes"].map(len).gt(0).all():
            return {"localization": "skipped: the test images have no boxes"}
        result, _ = evaluate_localization(network, data.test, data.classes, args.image_size,
                                          probabilities,
                                          kind="cam" if args.baseline else "fam",
                                          verbose=args.verbose, batch_size=args.batch_size,
                                          shard=shard)
        return {"localization": result}
