"""Repository tools (not shipped): `python -m tools.exercise_pot` for `make pot`."""
