"""Copy the front-end libraries from node_modules (installed by `npm ci` from package-lock.json)
into the package's static folder: `make assets` runs it for the source tree, and the wheel build
(setup.py) for a package built from a tree where that has not been done.

    python build_assets.py [DEST]      (default: src/grassroots/web/static/vendor)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "src" / "grassroots" / "web" / "static" / "vendor"

# node_modules path -> path under the vendor folder
FILES = {
    "htmx.org/dist/htmx.min.js": "htmx.min.js",
    "htmx.org/LICENSE": "htmx.LICENSE",
    "echarts/dist/echarts.min.js": "echarts.min.js",
    "echarts/LICENSE": "echarts.LICENSE",
    "leaflet/dist/leaflet.js": "leaflet/leaflet.js",
    "leaflet/dist/leaflet.css": "leaflet/leaflet.css",
    "leaflet/dist/images": "leaflet/images",
    "leaflet/LICENSE": "leaflet/LICENSE",
}


def install() -> None:
    """`npm ci` when node_modules lacks a library (the versions of package-lock.json)."""
    if all((NODE_MODULES / source).exists() for source in FILES):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "the front-end libraries (htmx, ECharts, Leaflet) come from the npm registry: "
            "install Node.js and npm, or run `make assets` where they are"
        )
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)


def copy(dest: Path = VENDOR) -> None:
    """Replace `dest` with the libraries' files."""
    install()
    shutil.rmtree(dest, ignore_errors=True)
    for source, target in FILES.items():
        path = dest / target
        path.parent.mkdir(parents=True, exist_ok=True)
        if (NODE_MODULES / source).is_dir():
            shutil.copytree(NODE_MODULES / source, path)
        else:
            shutil.copyfile(NODE_MODULES / source, path)


def complete(folder: Path) -> bool:
    return all((folder / target).exists() for target in FILES.values())


if __name__ == "__main__":
    copy(Path(sys.argv[1]) if len(sys.argv) > 1 else VENDOR)
