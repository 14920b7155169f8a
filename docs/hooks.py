"""MkDocs hook: the suite-file and CLI reference pages, generated from the code at build time
(``harness.reference``), so they cannot fall behind it."""

from __future__ import annotations


def on_files(files, config):
    from mkdocs.structure.files import File

    from harness import reference
    from harness.cli import parser
    from harness.plugins import registry

    pages = {"reference/suite.md": reference.suite_page(registry()),
             "reference/cli.md": reference.cli_page(parser())}
    for path, text in pages.items():
        files.append(File.generated(config, path, content=text))
    return files
