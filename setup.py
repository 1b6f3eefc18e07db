"""Build hook: compile the translations (.po -> .mo) into the package being built.

Everything else is declared in pyproject.toml. The .mo files are build output and are not kept
in git; `make` compiles them in the source tree for development with Django's compilemessages.
"""

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


setup(cmdclass={"build_py": BuildWithMessages})
