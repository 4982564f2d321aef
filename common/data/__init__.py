"""Data: tables and their validation, the tf.data pipeline, augmentation and
the demo datasets."""

from common.lazy import lazy_exports

_EXPORTS = {"decode_image": "pipeline", "make_dataset": "pipeline", "DataError": "tables",
            "check_classes_present": "tables", "encode_labels": "tables",
            "is_multi_label": "tables", "read_table": "tables", "read_data": "formats",
            "split_table": "tables",
            "check_images": "validation", "validate": "validation"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
