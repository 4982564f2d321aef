"""``ModelCommand``: the skeleton of the commands that apply a saved model
(``common.explain``, ``agnet.predict``, ``fam.evaluate``).

It parses before TensorFlow loads, reads the classes.json beside the model,
checks the inputs, loads the model with ``common.saving.load_model`` and
runs; a user error is one line on stderr and exit status 2.
"""

import argparse

import common
from common.training.cli import Parser, fail


class ModelCommand:
    """Subclasses set ``prog`` and ``description`` and override the hooks."""

    prog = ""
    description = ""
    classes_required = False  # fail without a classes.json beside the model
    takes_images = True  # positional IMAGE... arguments, checked before loading

    def add_arguments(self, parser):
        """The command's own arguments."""

    def check(self, args, classes):
        """Checks of the arguments before the model loads (raise ValueError)."""

    def check_model(self, args, model):
        """Checks of the loaded model (raise ValueError)."""

    def run(self, args, model, classes):
        raise NotImplementedError

    def parser(self):
        parser = Parser(prog=self.prog, description=self.description,
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        parser.add_argument("--version", action="version",
                            version=f"%(prog)s {common.__version__}")
        parser.add_argument("--model", required=True,
                            help="a model.keras saved by the toolkit (classes.json beside it "
                                 "names the classes)")
        self.add_arguments(parser)
        if self.takes_images:
            parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
        return parser

    def main(self, argv=None):
        args = self.parser().parse_args(argv)
        try:
            from common.training.runfolder import model_classes
            classes = model_classes(args.model, required=self.classes_required)
            if self.takes_images:
                from common.data.validation import check_images
                check_images(args.images)
            self.check(args, classes)
            from common.saving import load_model
            model = load_model(args.model)
            self.check_model(args, model)
        except (FileNotFoundError, ValueError, OSError) as error:
            fail(self.prog, error)
        return self.run(args, model, classes)
