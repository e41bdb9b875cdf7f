"""The exercise pictures, a data package: installed as `psoas_break.data.pictures` (pyproject.toml).

Read them with `psoas_break.ui.pictures.picture_path`; regenerate them with `make icons`. This file
only makes the folder a package, so that an editable install can map the name onto it.
"""
