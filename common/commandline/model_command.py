"""``ModelCommand``: the skeleton of the commands that apply a saved model
(``attention-explain``, ``agnet-predict``, ``fam-evaluate``).

It parses before TensorFlow loads, reads the classes.json beside the model,
checks the inputs, loads the model with ``common.saving.load_model`` and
runs; a user error is one line on stderr and exit status 2.
"""

import argparse
import os

import common
from common.console import Parser, fail, program
from common.errors import named_by


class ModelCommand:
    """Subclasses set ``script`` (the console script), ``module`` (for
    ``python -m``) and ``description`` and override the hooks."""

    script = ""
    module = ""
    description = ""
    classes_required = False  # fail without a classes.json beside the model
    takes_images = True  # positional IMAGE... arguments, checked before loading
    suffix = ".png"  # of the output written for each image (``args.outputs``)

    def add_arguments(self, parser):
        """The command's own arguments."""

    def check(self, args, classes):
        """Checks of the arguments before the model loads (raise ValueError)."""

    def check_model(self, args, model):
        """Checks of the loaded model (raise ValueError)."""

    def run(self, args, model, classes):
        raise NotImplementedError

    @property
    def prog(self):
        return program(self.script, self.module)

    def parser(self):
        parser = Parser(prog=self.prog, description=self.description,
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        parser.add_argument("--version", action="version",
                            version=f"%(prog)s {common.__version__}")
        parser.add_argument("--model", required=True,
                            help="a model.keras saved by the toolkit (classes.json beside it "
                                 "names the classes)")
        self.add_arguments(parser)
        parser.add_argument("--overwrite", action="store_true",
                            help="replace output files that already exist")
        parser.add_argument("--verbose", type=int, choices=(0, 1), default=1,
                            help="1: progress bars on stderr, 0: none")
        if self.takes_images:
            parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
        return parser

    @staticmethod
    def output_paths(out, inputs, suffix, overwrite=False):
        """One output path per input path in folder ``out``: the file's name
        plus ``suffix``, with as many parent folder names as it takes to keep
        same-named inputs apart (``a/x.png``, ``b/x.png`` -> ``a_x``, ``b_x``).
        An existing output raises ValueError unless ``overwrite``."""
        parts = [os.path.normpath(os.path.abspath(p)).split(os.sep) for p in inputs]
        depth = 1
        while depth < max(len(p) for p in parts):
            names = ["_".join(p[-depth:]) for p in parts]
            if len(set(names)) == len(names):
                break
            depth += 1
        names = [os.path.splitext("_".join(p[-depth:]))[0] for p in parts]
        if len(set(names)) < len(names):
            names = [f"{i:03d}_{name}" for i, name in enumerate(names)]  # the same file twice
        paths = [os.path.join(out, f"{name}{suffix}") for name in names]
        existing = [p for p in paths if os.path.exists(p)]
        if existing and not overwrite:
            raise ValueError(f"--out: {len(existing)} output file(s) exist already, e.g. "
                             f"'{existing[0]}'; pass --overwrite to replace them")
        return paths

    def main(self, argv=None):
        args = self.parser().parse_args(argv)
        try:
            from common.training.runfolder import model_classes
            classes = model_classes(args.model, required=self.classes_required)
            if self.takes_images:
                from common.data.validation import check_images
                check_images(args.images)
                if getattr(args, "out", None):
                    args.outputs = self.output_paths(args.out, args.images, self.suffix,
                                                     args.overwrite)
            self.check(args, classes)
            from common.commandline.quiet import import_tensorflow
            import_tensorflow()
            from common.saving import load_model
            with named_by("--model", "path"):
                model = load_model(args.model)
            self.check_model(args, model)
        except (FileNotFoundError, ValueError, OSError) as error:
            fail(self.prog, error)
        try:
            return self.run(args, model, classes)
        except (FileNotFoundError, ValueError) as error:  # a bad file met while running
            fail(self.prog, error)
