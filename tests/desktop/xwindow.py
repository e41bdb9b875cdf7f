"""A tiny real X11 client window for tests (run as `python -m tests.desktop.xwindow`).

It creates one top-level window with a title and WM_CLASS "psoas-test-window", optionally
asking for fullscreen before it is mapped (_NET_WM_STATE = [_NET_WM_STATE_FULLSCREEN], which a
window manager honours on map), maps it, writes its window id (decimal) to --id-file, and then
just processes events until it is terminated or closed through WM_DELETE_WINDOW. The test side
changes its state through EWMH client messages (`x11.X11Window`), exactly as a pager would.
"""

import argparse
import os
from pathlib import Path

from Xlib import X, Xatom
from Xlib.display import Display


def main(argv: list[str] | None = None) -> None:
    """Open the window and serve events until closed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--title", default="psoas test window")
    parser.add_argument("--fullscreen", action="store_true")
    parser.add_argument("--id-file", required=True, type=Path)
    args = parser.parse_args(argv)

    display = Display()
    screen = display.screen()
    window = screen.root.create_window(
        40, 40, 320, 200, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
        background_pixel=screen.white_pixel,
        event_mask=X.StructureNotifyMask | X.ExposureMask | X.KeyPressMask,
    )
    window.set_wm_name(args.title)
    window.change_property(
        display.intern_atom("_NET_WM_NAME"), display.intern_atom("UTF8_STRING"), 8,
        args.title.encode(),
    )
    window.set_wm_class("psoas-test-window", "PsoasTestWindow")
    delete_atom = display.intern_atom("WM_DELETE_WINDOW")
    window.set_wm_protocols([delete_atom])
    if args.fullscreen:
        window.change_property(
            display.intern_atom("_NET_WM_STATE"), Xatom.ATOM, 32,
            [display.intern_atom("_NET_WM_STATE_FULLSCREEN")],
        )
    window.map()
    display.sync()
    tmp = args.id_file.with_suffix(".tmp")
    tmp.write_text(str(window.id))
    os.replace(tmp, args.id_file)  # atomic: the test never reads half a number

    while True:
        event = display.next_event()
        if event.type == X.ClientMessage and event.data[1][0] == delete_atom:
            break


if __name__ == "__main__":
    main()
