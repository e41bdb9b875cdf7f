"""A tiny Wayland window for tests: one xdg_toplevel that goes fullscreen or inhibits idle.

`python -m tests.desktop.toy_window [--fullscreen] [--inhibit] [--app-id ID]` (WAYLAND_DISPLAY
from the environment). Needs only pywayland and its bundled xdg_shell and idle-inhibit bindings:
no fonts, no GTK, up in about 0.1 s on all three compositors. Driven by lines on stdin, it
reports on stdout (one flushed line each):
  stdin:  fullscreen | unfullscreen | inhibit | uninhibit | quit
  stdout: "mapped" once the first configure was acked and a buffer committed,
          "configure W H STATES" for each toplevel configure (xdg_toplevel states; 2 =
          fullscreen), "inhibiting" / "uninhibited", "error TEXT".
Test side: `ToyWindow` in tests/desktop/wayland_input.py.
"""

from __future__ import annotations

import argparse
import mmap
import os
import select
import sys
from typing import Any


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fullscreen", action="store_true")
    parser.add_argument("--inhibit", action="store_true")
    parser.add_argument("--app-id", default="psoas-toy")
    args = parser.parse_args()

    from pywayland.client.display import Display
    from pywayland.protocol.idle_inhibit_unstable_v1 import ZwpIdleInhibitManagerV1
    from pywayland.protocol.wayland import WlCompositor, WlShm
    from pywayland.protocol.xdg_shell import XdgWmBase

    display = Display()
    display.connect()
    registry = display.get_registry()
    found: dict[str, tuple[int, int]] = {}

    def on_global(_registry: Any, name: int, iface: str, version: int) -> None:
        found.setdefault(iface, (name, version))  # a handler must return None (pywayland)

    registry.dispatcher["global"] = on_global
    display.roundtrip()
    for needed in ("wl_compositor", "wl_shm", "xdg_wm_base"):
        if needed not in found:
            say(f"error no {needed}")
            return 2
    compositor = registry.bind(found["wl_compositor"][0], WlCompositor, 4)
    shm = registry.bind(found["wl_shm"][0], WlShm, 1)
    wm_base = registry.bind(found["xdg_wm_base"][0], XdgWmBase, 1)

    def on_ping(base: Any, serial: int) -> None:
        base.pong(serial)

    wm_base.dispatcher["ping"] = on_ping
    inhibit_manager = None
    if "zwp_idle_inhibit_manager_v1" in found:
        inhibit_manager = registry.bind(found["zwp_idle_inhibit_manager_v1"][0],
                                        ZwpIdleInhibitManagerV1, 1)

    width = height = 64
    stride, size = width * 4, width * 4 * height
    fd = os.memfd_create("psoas-toy", os.MFD_CLOEXEC)
    os.ftruncate(fd, size)
    with mmap.mmap(fd, size) as data:
        data.write(b"\x40\x80\xc0\xff" * (width * height))
    pool = shm.create_pool(fd, size)
    buffer = pool.create_buffer(0, width, height, stride, WlShm.format.xrgb8888.value)

    surface = compositor.create_surface()
    xdg_surface = wm_base.get_xdg_surface(surface)
    toplevel = xdg_surface.get_toplevel()
    toplevel.set_app_id(args.app_id)
    toplevel.set_title(args.app_id)
    state: dict[str, Any] = {"mapped": False, "inhibitor": None, "quit": False}

    def on_configure(xs: Any, serial: int) -> None:
        xs.ack_configure(serial)
        surface.attach(buffer, 0, 0)
        surface.damage(0, 0, width, height)
        surface.commit()
        if not state["mapped"]:
            state["mapped"] = True
            say("mapped")

    def on_toplevel_configure(_toplevel: Any, w: int, h: int, states: Any) -> None:
        raw = bytes(states) if not isinstance(states, list) else b""
        values = ([int.from_bytes(raw[i:i + 4], sys.byteorder) for i in range(0, len(raw), 4)]
                  if raw else list(states))
        say(f"configure {w} {h} {','.join(map(str, values))}")

    def on_close(*_args: Any) -> None:
        state["quit"] = True

    xdg_surface.dispatcher["configure"] = on_configure
    toplevel.dispatcher["configure"] = on_toplevel_configure
    toplevel.dispatcher["close"] = on_close
    if args.fullscreen:
        toplevel.set_fullscreen(None)
    surface.commit()  # the first commit, without a buffer, asks for the first configure

    def inhibit(on: bool) -> None:
        if inhibit_manager is None:
            say("error no zwp_idle_inhibit_manager_v1")
        elif on and state["inhibitor"] is None:
            state["inhibitor"] = inhibit_manager.create_inhibitor(surface)
            surface.commit()
            say("inhibiting")
        elif not on and state["inhibitor"] is not None:
            state["inhibitor"].destroy()
            state["inhibitor"] = None
            surface.commit()
            say("uninhibited")

    if args.inhibit:
        inhibit(True)
    commands = {"fullscreen": lambda: toplevel.set_fullscreen(None),
                "unfullscreen": toplevel.unset_fullscreen,
                "inhibit": lambda: inhibit(True), "uninhibit": lambda: inhibit(False),
                "quit": lambda: state.update(quit=True)}
    poller = select.poll()
    poller.register(display.get_fd(), select.POLLIN)
    poller.register(sys.stdin.fileno(), select.POLLIN)
    pending = b""
    while not state["quit"]:
        display.dispatch(block=False)
        display.flush()
        for ready, mask in poller.poll():
            if ready == sys.stdin.fileno():
                chunk = os.read(ready, 4096)
                if not chunk:
                    state["quit"] = True
                    break
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    command = commands.get(line.decode().strip())
                    if command is not None:
                        command()
            elif mask & select.POLLIN:
                try:
                    display.read()
                except RuntimeError:
                    say("error display lost")
                    return 1
            else:
                say("error display hang-up")
                return 1
    display.disconnect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
