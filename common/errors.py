"""One-line summaries of the errors libraries raise on a bad file: a Keras,
h5py or pickle message can span pages (a whole config, an array), while a
command reports a user error in one line."""


def summary(error, limit=300):
    """The first non-empty line of ``error``'s message, at most ``limit``
    characters (its type name when the message is empty)."""
    lines = [" ".join(line.split()) for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
