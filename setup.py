"""Build hook: compile the translations (.po -> .mo) into the package being built, and make
sure it carries the front-end libraries (htmx, ECharts, Leaflet from npm).

Everything else is declared in pyproject.toml. The .mo files and the libraries are build output
and are not kept in git; `make` puts both in the source tree for development.
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithMessages(build_py):
    def run(self) -> None:
        super().run()
        import polib

        for po_path in Path("src/grassroots/locale").glob("*/LC_MESSAGES/*.po"):
            target = Path(self.build_lib) / po_path.relative_to("src").with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            polib.pofile(str(po_path)).save_as_mofile(str(target))
        # A tree where `make assets` has not run: install and copy the libraries here.
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import build_assets

        vendor = Path(self.build_lib) / "grassroots" / "web" / "static" / "vendor"
        if not build_assets.complete(vendor):
            build_assets.copy(vendor)


setup(cmdclass={"build_py": BuildWithMessages})
