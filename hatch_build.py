"""Compile the translation catalogues (.po -> .mo) whenever the package is built or installed.

`python hatch_build.py` does the same by hand after editing a catalogue.
"""

from __future__ import annotations

from pathlib import Path

PACKAGES = (
    "milepost",
    "app",
    "traceability",
    "network",
    "reviews",
    "knowledge",
    "service",
    "community",
    "leads",
    "maintenance",
)


def compile_catalogues(root: Path) -> list[Path]:
    """Write a .mo beside every <package>/translations/*/LC_MESSAGES/*.po under `root`."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for package in PACKAGES:
        for po_path in Path(root, package, "translations").glob("*/LC_MESSAGES/*.po"):
            with po_path.open("rb") as handle:
                catalog = read_po(handle)
            mo_path = po_path.with_suffix(".mo")
            with mo_path.open("wb") as handle:
                write_mo(handle, catalog)
            written.append(mo_path)
    return written


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # running by hand, outside a build
    BuildHookInterface = object  # type: ignore[assignment,misc]


class CompileCatalogues(BuildHookInterface):  # type: ignore[misc,valid-type]
    """Hatch build hook that compiles the catalogues before files are collected."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        compile_catalogues(Path(self.root))


if __name__ == "__main__":
    for path in compile_catalogues(Path(__file__).resolve().parent):
        print(f"compiled {path}")
