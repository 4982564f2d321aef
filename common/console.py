"""The console scripts: ``script("module:function")`` makes one. It calls a
command's Python entry (which returns what it made: a run folder,
predictions) and exits with status 0 on success, 130 on an interrupt with
one line; the commands themselves exit 2 on bad input (``Parser``,
``fail``: one line on stderr) and 1 on a failed run. Imports nothing heavy.
Each method package makes its own scripts (in its ``__init__``), so this
module names none."""

import argparse
import difflib
import importlib
import os
import sys

from common.errors import printable



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


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        """One line; an unknown flag gets the nearest known one as a hint
        (argparse's own suggest_on_error needs Python 3.14)."""
        unknown = [word for word in message.split() if word.startswith("--")] \
            if message.startswith("unrecognized arguments") else []
        known = [option for action in self._actions for option in action.option_strings]
        close = difflib.get_close_matches(unknown[0].split("=")[0], known, n=1) \
            if unknown else []
        hint = f" (did you mean {close[0]}?)" if close else ""
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


def program(script, module):
    """The name usage lines show: the console script when it runs, else
    ``python -m module``."""
    return script if os.path.basename(sys.argv[0] or "") == script else f"python -m {module}"


def fail(prog, error, status=2):
    """One line on stderr and exit status 2 (a user error)."""
    message = str(error).strip()
    if isinstance(error, FileNotFoundError) and error.filename and error.filename not in message:
        message = f"{message}: {error.filename}"
    print(f"{prog}: error: {printable(message)}", file=sys.stderr)
    sys.exit(status)


attention_train = script("common.train:run")
attention_explain = script("common.explain:main")
attention_evaluate = script("common.evaluate:main")
attention_report = script("common.report:main")
