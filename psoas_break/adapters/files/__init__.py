"""Files on disk: paths, atomic writes, settings, the instance lock, logs, exercise data."""
