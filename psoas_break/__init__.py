"""psoas-break: a tray utility that times sitting and prompts hip-flexor stretches."""

__version__ = "0.1.0"
APP_NAME = "psoas-break"
