"""The console scripts: ``script("module:function")`` makes one. It calls a
command's Python entry (which returns what it made: a run folder,
predictions) and exits with status 0 on success, 130 on an interrupt with
one line; the commands themselves exit 2 on bad input and 1 on a failed
run. Imports nothing heavy. Each method package makes its own scripts (in
its ``__init__``), so this module names none."""

import importlib
import os
import sys


def script(target):
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


attention_train = script("common.train:run")
attention_explain = script("common.explain:main")
attention_evaluate = script("common.evaluate:main")
attention_report = script("common.report:main")
