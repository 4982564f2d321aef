"""One-line summaries of the errors libraries raise on a bad file: a Keras,
h5py or pickle message can span pages (a whole config, an array), while a
command reports a user error in one line. ``ArgumentError``: library code
names its own arguments, and a command says the flag instead (``named_by``)."""

import contextlib
import functools


class ArgumentError(ValueError):
    """A bad value of a library function's ``argument``, named in the message
    (``data: folder 'x' has no class sub-folders``); ``message`` without it."""

    def __init__(self, message, argument=None):
        super().__init__(f"{argument}: {message}" if argument else message)
        self.message, self.argument = message, argument


def argument_errors(argument):
    """A decorator: the function's ValueErrors become ``ArgumentError``s
    naming ``argument`` (its first), for functions whose checks sit deeper."""
    def decorate(function):
        @functools.wraps(function)
        def named(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except ArgumentError:
                raise
            except ValueError as error:
                raise ArgumentError(str(error), argument) from error
        return named
    return decorate


@contextlib.contextmanager
def named_by(flag, argument):
    """Inside, an ``ArgumentError`` about ``argument`` names ``flag`` instead:
    the command line's word for the value (``--data``, ``--masks``)."""
    try:
        yield
    except ArgumentError as error:
        if error.argument != argument:
            raise
        raise type(error)(error.message, flag) from None


def summary(error, limit=300):
    """The first non-empty line of ``error``'s message, at most ``limit``
    characters (its type name when the message is empty)."""
    lines = [" ".join(line.split()) for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def printable(text):
    """``text`` with control characters escaped (``\\x1b``, ``\\n``, ...): a
    class or file name read from a file reaches the terminal as text, never
    as an escape sequence that moves the cursor or a second line."""
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode(
        "unicode_escape").decode("ascii") for ch in str(text))


def quoted(value, limit=40):
    """``repr(value)`` cut to ``limit`` characters: an error quotes enough of
    a value read from a file to find it, never the whole value (a YAML
    alias bomb expands to gigabytes)."""
    text = repr(value) if not isinstance(value, (list, dict, tuple, set)) else (
        _short_repr(value, limit))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _short_repr(value, limit):
    """The repr of a container built only as far as ``limit`` characters."""
    import reprlib
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = limit
    shortener.maxlist = shortener.maxdict = shortener.maxtuple = shortener.maxset = 8
    shortener.maxlevel = 3
    return shortener.repr(value)
