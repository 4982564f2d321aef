"""The toolkit's plug-in points, found without importing TensorFlow: guides
(``attention_guided.guides``), input makers (``attention_guided.model_inputs``),
Keras objects (``attention_guided.keras_objects``), CAM sources
(``attention_guided.cam_sources``)."""


def group_entry_points(group):
    """name -> entry point of ``group`` from every distribution on the path.
    ``importlib.metadata.entry_points()`` keeps the first distribution of a
    name, so a stale ``*.egg-info`` in a source checkout would hide the
    installed one; every distribution is read instead."""
    from importlib.metadata import distributions
    found = {}
    for distribution in distributions():
        for point in distribution.entry_points:
            if point.group == group:
                found.setdefault(point.name, point)
    return found
