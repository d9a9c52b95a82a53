"""TF Serving's directory layout and version policies.

An export root holds one base path per model, ``<root>/<name>/``, and each
base path holds integer version directories, ``<root>/<name>/<version>/``
with a ``saved_model.pb``. Anything else (files, ``.tmp-*`` staging
directories of an export in progress, version directories without a
``saved_model.pb``) is not a servable version.

A version policy is ``"latest"`` (the newest version only, TF Serving's
default), ``"all"``, or a tuple of specific version numbers.
"""

from __future__ import annotations

from pathlib import Path

from tfrec.errors import ConfigError

POLICIES = ("latest", "all")


def model_versions(export_root) -> dict[str, list[int]]:
    """The servable versions of every model under an export root.

    Args:
        export_root: Directory holding ``<name>/<version>/saved_model.pb``.

    Returns:
        ``{name: sorted versions}`` for every model with at least one version,
        in name order.
    """
    root = Path(export_root)
    if not root.is_dir():
        raise ConfigError(
            f"export root {root} is not a directory; export a model there first "
            "(tfrec export --model-dir RUN_DIR --export-root DIR)"
        )
    found = {}
    for base in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        versions = sorted(
            int(p.name)
            for p in base.iterdir()
            if p.name.isdigit() and (p / "saved_model.pb").is_file()
        )
        if versions:
            found[base.name] = versions
    return found


def parse_policy(text: str) -> str | tuple[int, ...]:
    """``"latest"``, ``"all"`` or comma-separated version numbers (``"1,3"``)."""
    if text in POLICIES:
        return text
    parts = text.split(",")
    if not all(part.strip().isdigit() and int(part) > 0 for part in parts):
        raise ConfigError(
            f"versions must be latest, all or comma-separated positive integers; got {text!r}"
        )
    return tuple(sorted({int(part) for part in parts}))


def select_versions(versions: list[int], policy: str | tuple[int, ...]) -> list[int]:
    """The versions a policy serves, out of the versions on disk."""
    if policy == "latest":
        return versions[-1:]
    if policy == "all":
        return list(versions)
    return [v for v in versions if v in policy]
