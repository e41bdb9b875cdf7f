"""pywayland bindings generated from the XML beside them by .ci/wayland_bindings.py (do not
edit: `make wayland-bindings`)."""
