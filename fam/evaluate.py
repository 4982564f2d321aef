"""``python -m fam.evaluate --model RUN/model.keras --data TEST --out DIR``:
Top-1 Cls, GT-known Loc, Top-1 Loc (map threshold 0.5), MaxBoxAccV2 and,
with masks, PxAP (all in %) into ``DIR/metrics.json``, and pictures of the
foreground map with the predicted (yellow) and ground-truth (green) boxes,
as in FAM's Fig. 4.

--data is a CSV with box columns x0,y0,x1,y1, or a WSOL metadata folder
(image_ids.txt, class_labels.txt, localization.txt with boxes, or OpenImages'
mask and ignore paths for PxAP) with --image-root.
A plain classifier saved by the toolkit is evaluated with its CAMs.
"""

import json
import os

from common.commandline.model_command import ModelCommand
from common.errors import named_by


class Evaluate(ModelCommand):
    script, module = "fam-evaluate", "fam.evaluate"
    description = __doc__
    classes_required = True
    takes_images = False

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True,
                            help="CSV with box columns x0,y0,x1,y1, a WSOL metadata folder, "
                                 "or FORMAT:PATH of a benchmark with boxes (its test split)")
        parser.add_argument("--image-root", default=None,
                            help="folder of the images of a metadata folder (default: the "
                                 "metadata folder)")
        parser.add_argument("--out", required=True, help="folder for metrics.json and pictures")
        parser.add_argument("--threshold", type=float, default=0.5,
                            help="foreground-map threshold of the predicted box")
        parser.add_argument("--pictures", type=int, default=16, help="images to draw")
        parser.add_argument("--batch-size", type=int, default=32, help="images per batch")
        parser.add_argument("--split", choices=("test", "val", "train", "all"), default="test",
                            help="the rows of a table with a split column to evaluate "
                                 "(tables without one: every row)")

    def check(self, args, classes):
        from common.data.formats import read_data
        from common.data.tables import DataError
        from common.data.validation import validate
        from common.data.wsol import read_wsol_metadata
        if os.path.isfile(os.path.join(args.data, "image_ids.txt")):
            table, _ = read_wsol_metadata(args.data, args.image_root or args.data)
        else:
            with named_by("--data", "data"):
                table, _ = read_data(args.data)
        self.split = "all"
        has_splits = "split" in table and table["split"].ne("").any()
        if has_splits and args.split != "all":  # never score training images unasked
            table = table[table["split"] == args.split].reset_index(drop=True)
            self.split = args.split
            if table.empty:
                raise DataError(f"--data: '{args.data}' has no rows of split '{args.split}'")
        table = validate(table, classes, what="evaluation")
        has_masks = "masks" in table and table["masks"].map(len).gt(0).all()
        if not (table["boxes"].map(len).gt(0).all() or has_masks):
            raise DataError(f"--data: every image needs at least one box (or, for PxAP, "
                            f"a mask); '{args.data}' has images without")
        self.table = table
        existing = os.path.join(args.out, "metrics.json")
        if os.path.exists(existing) and not args.overwrite:
            raise ValueError(f"--out: '{existing}' exists already; pass --overwrite to "
                             "replace it")

    def run(self, args, model, classes):
        return evaluate(model, self.table, classes, args.out, args.threshold, args.pictures,
                        args.batch_size, split=self.split, verbose=args.verbose)


def evaluate(model, table, classes, out, threshold=0.5, pictures=16, batch_size=32,
             split="all", verbose=1):
    """Writes ``out/metrics.json`` (with the split and the number of images
    evaluated) and pictures of the first ``pictures`` images."""
    from common.data.pipeline import make_dataset
    from common.io import write_json
    from common.commandline.progress import PredictProgress
    from fam.localization import evaluate_localization
    size = model.inputs[0].shape[1]
    probabilities = model.predict(
        make_dataset(table, classes, size, batch_size, cache=False), verbose=0,
        callbacks=[PredictProgress(len(table), batch_size, "classes", verbose)])
    names = {layer.name for layer in model.layers}
    kind = "fam" if "foreground" in names else "cam"
    result, kept = evaluate_localization(model, table, classes, size, probabilities, kind,
                                         threshold, verbose, batch_size, keep=pictures)
    result.update(split=split, images=len(table))
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "metrics.json"), result)
    for i, picture in enumerate(kept):
        draw(os.path.join(out, f"{i:03d}_"), table.iloc[i], picture, probabilities[i], classes,
             kind, threshold)
    print(json.dumps(result, indent=1))
    return result


def draw(prefix, row, picture, probabilities, classes, kind, threshold):
    """``prefix<image name>.png``: the image, its map, the predicted (yellow)
    and ground-truth (green) boxes."""
    from common.commandline.plots import save_figure, single_figure
    from common.wsol_metrics import iou_matrix
    what = "foreground map" if kind == "fam" else "CAM of the true class"
    box, gts = picture["box"], picture["gts"]
    predicted, truth = int(probabilities.argmax()), row["labels"][0]
    iou = (f"best IoU of the predicted box {iou_matrix([box], gts).max():.2f}"
           if len(gts) else "ground truth: a mask, not a box (see pxap_pct)")
    title = (f"{os.path.basename(row['path'])}: true {truth}, predicted {classes[predicted]} "
             f"({probabilities[predicted]:.2f})\n{iou}")
    drawn = [(*box, "yellow", 2)] + [(*gt, "lime", 2) for gt in gts]
    legend = [("yellow", f"predicted box ({what} > {threshold})")] + (
        [("lime", "ground truth")] if len(gts) else [])
    name = os.path.splitext(os.path.basename(row["path"]))[0]
    save_figure(prefix + f"{name}.png",
                single_figure(picture["image"], title, heatmap=picture["map"], boxes=drawn,
                              legend=legend, colorbar_label=what))


def main(argv=None):
    return Evaluate().main(argv)


if __name__ == "__main__":
    main()
