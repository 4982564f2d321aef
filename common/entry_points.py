"""The toolkit's plug-in points, found without importing TensorFlow: guides
(``attention_guided.guides``), input makers (``attention_guided.model_inputs``),
Keras objects (``attention_guided.keras_objects``), CAM sources
(``attention_guided.cam_sources``)."""


def group_entry_points(group):
    """name -> entry point of ``group`` from the installed distributions.
    Of several copies of one distribution on the path the first installed
    one (``.dist-info``) counts: ``importlib.metadata.entry_points()`` keeps
    the first copy, so a ``*.egg-info`` that a build leaves in a source
    checkout (and that goes stale when pyproject.toml changes) would hide
    or add to the installed entry points."""
    from importlib.metadata import distributions
    chosen = {}
    for distribution in distributions():
        name = str(distribution.metadata["Name"] or "").lower().replace("_", "-")
        installed = distribution.read_text("METADATA") is not None  # egg-info: PKG-INFO
        if name not in chosen or (installed and not chosen[name][1]):
            chosen[name] = (distribution, installed)
    found = {}
    for distribution, _ in chosen.values():
        for point in distribution.entry_points:
            if point.group == group:
                found.setdefault(point.name, point)
    return found
