"""The sdist and wheel ship the LICENSE and the metadata the package page shows."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SKIP = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", ".typecheck", "__pycache__", ".*_cache"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build the sdist, then the wheel from it (as ``python -m build`` does), in a copy."""
    pytest.importorskip("build")
    work = tmp_path_factory.mktemp("package")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=_SKIP, symlinks=True)
    out = work / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (sdist,) = out.glob("sessionstore-*.tar.gz")
    (wheel,) = out.glob("sessionstore-*.whl")
    return sdist, wheel


def test_license_is_apache_2_and_shipped_in_both(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        (license_name,) = [n for n in names if n.endswith("/LICENSE")]
        member = archive.extractfile(license_name)
        assert member is not None
        assert member.read().decode() == license_text
    with zipfile.ZipFile(wheel) as archive:
        (license_name,) = [n for n in archive.namelist() if n.endswith("licenses/LICENSE")]
        assert archive.read(license_name).decode() == license_text
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
        assert "sessionstore/__main__.py" in archive.namelist()
        assert "sessionstore/adapters/s3/_history.py" in archive.namelist()
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert "cli" in metadata.get_all("Provides-Extra", [])
    assert metadata["Keywords"]
    classifiers: list[str] = metadata.get_all("Classifier", [])
    assert "Typing :: Typed" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the expression says it
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL", []))
    assert {"Homepage", "Source", "Issues"} <= set(urls)


def test_readme_on_the_package_page_has_only_absolute_links(built: tuple[Path, Path]) -> None:
    import re

    _, wheel = built
    with zipfile.ZipFile(wheel) as archive:
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        description = email.message_from_bytes(archive.read(metadata_name)).get_payload()
    assert isinstance(description, str)
    assert "sessionstore is not published on PyPI yet" in description
    targets = re.findall(r"\]\(([^)\s]+)\)", description)
    assert targets
    assert [t for t in targets if not t.startswith(("https://", "#"))] == []
