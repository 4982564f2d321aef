"""The console scripts. Each calls a command's Python entry (which returns
what it made: a run folder, predictions) and exits with status 0 on
success, 130 on an interrupt with one line; the commands themselves exit 2
on bad input and 1 on a failed run. Imports nothing heavy."""

import importlib
import os
import sys


def _script(target):
    module, function = target.split(":")

    def console(argv=None):
        try:
            getattr(importlib.import_module(module), function)(argv)
        except KeyboardInterrupt:
            print(f"{os.path.basename(sys.argv[0])}: interrupted", file=sys.stderr)
            return 130
        return 0
    console.__doc__ = f"The console script of {target}: exit status 0 on success."
    return console


attention_train = _script("common.train:run")
agnet_train = _script("agnet.train:run")
fsa_train = _script("fsa.train:run")
distraction_train = _script("distraction.train:run")
fam_train = _script("fam.train:run")
agnet_predict = _script("agnet.predict:main")
fam_evaluate = _script("fam.evaluate:main")
attention_explain = _script("common.explain:main")
attention_evaluate = _script("common.evaluate:main")
attention_report = _script("common.report:main")
