"""A realistic, deterministic demo county modelled on 尤溪县 (350426), 福建省三明市.

build_county()      the county as data (county.py, generator.py, people.py; names and places in data.py)
write_demo_files()  the county as import files: units, grids, households, residents (files.py)
load_county()       the county written into the database through the importers (load.py)
"""

from .county import build_county
from .files import write_demo_files
from .generator import DEFAULT_HOUSEHOLDS, DEFAULT_SEED, County

__all__ = ["DEFAULT_HOUSEHOLDS", "DEFAULT_SEED", "County", "build_county", "write_demo_files"]
