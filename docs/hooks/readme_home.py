"""MkDocs hook: the site's home page is the repository's README.md.

The README is written once, for GitHub and PyPI, with links such as
``docs/guides.md``; on the site it stands in for ``docs/index.md``, so those
links lose their ``docs/`` and the pages' links back to ``../README.md``
become ``index.md``. ``mkdocs serve`` rebuilds when the README changes.
"""

import os
import re


def _readme(config):
    return os.path.join(os.path.dirname(config["config_file_path"]), "README.md")


def on_config(config):
    config["watch"].append(_readme(config))
    return config


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "index.md":
        with open(_readme(config), encoding="utf-8") as handle:
            return re.sub(r"\]\(docs/", "](", handle.read())
    return re.sub(r"\]\(\.\./README\.md", "](index.md", markdown)
