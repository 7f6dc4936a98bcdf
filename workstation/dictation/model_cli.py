"""``readroom model``: install and list Vosk speech models."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from workstation.cli import UsageError
from workstation.dictation.models import (
    DEFAULT_MODEL_URL,
    ModelError,
    install_model,
    list_models,
    models_dir,
)

__all__ = ["ProgressBar", "add_arguments"]


class ProgressBar:
    """A one-line progress bar on stderr: ``[#####.....]  48%  12.0/25.0 MB``."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._last = ""

    def __call__(self, done: int, total: int | None) -> None:
        mb = done / 1e6
        if total:
            filled = int(self.width * done / total)
            line = (
                f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{100 * done // total:3d}%  {mb:.1f}/{total / 1e6:.1f} MB"
            )
        else:
            line = f"\r{self.label} {mb:.1f} MB"
        if line != self._last:
            self.stream.write(line)
            self.stream.flush()
            self._last = line

    def close(self) -> None:
        if self._last:
            self.stream.write("\n")
            self.stream.flush()


def _install(args: argparse.Namespace) -> int:
    bar = ProgressBar("downloading" if args.source.startswith(("http:", "https:")) else "checking")
    try:
        path = install_model(
            args.source, sha256=args.sha256, name=args.name, force=args.force, progress=bar
        )
    except ModelError as error:
        raise UsageError(str(error)) from None
    finally:
        bar.close()
    print(f"installed {path.name} at {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    models = list_models()
    if not models:
        print(
            f"no models in {models_dir()}; "
            f"install one with: readroom model install {DEFAULT_MODEL_URL}"
        )
        return 0
    for model in models:
        print(f"{model.name}\t{model.size_bytes / 1e6:.0f} MB\t{model.path}")
    return 0


def _missing_subcommand(args: argparse.Namespace) -> int:
    raise UsageError("model: choose a subcommand: install, list")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``install`` and ``list`` under ``readroom model``."""
    parser.set_defaults(func=_missing_subcommand)
    sub = parser.add_subparsers(dest="model_command")
    install = sub.add_parser(
        "install",
        help="unpack and check a Vosk model archive (zip or tar; path or http(s) URL)",
        description=f"The small English model for laptops: {DEFAULT_MODEL_URL}",
    )
    install.add_argument("source", metavar="PATH_OR_URL", help="model archive (.zip, .tar.gz, …)")
    install.add_argument("--sha256", metavar="HEX", help="expected sha256 of the archive")
    install.add_argument("--name", help="install under this name (default: the archive's folder)")
    install.add_argument(
        "--force", action="store_true", help="replace an installed model of that name"
    )
    install.set_defaults(func=_install)
    listing = sub.add_parser("list", help="list installed models")
    listing.set_defaults(func=_list)
