"""Speech through plyer's tts facade, for platforms where we do not run its engine ourselves.

On Linux, macOS and Windows plyer runs `espeak`/`flite`/`say`/`espeak.exe` with no timeout;
the factory runs those engines directly (command.py) and uses this only elsewhere. The call
cannot be stopped: the speech worker abandons it after its timeout.
"""

from __future__ import annotations

from typing import Any

from psoas_break.ports import DeliveryFailed, Unavailable


class PlyerSpeaker:
    """Speaker through `plyer.tts`; the constructor raises Unavailable when plyer has none."""

    name = "plyer"

    def __init__(self) -> None:
        try:
            from plyer import tts
            from plyer.facades import TTS
        except ImportError as exc:
            raise Unavailable(f"plyer is not installed: {exc}") from exc
        impl = object.__getattribute__(tts, "_ensure_obj")()
        if type(impl) is TTS:
            raise Unavailable("plyer has no text-to-speech engine here")
        self._impl: Any = impl
        self.implementation = type(impl).__name__

    def say(self, text: str) -> None:
        """Speak `text` (blocks; cannot be interrupted)."""
        try:
            self._impl.speak(message=text)
        except NotImplementedError as exc:
            raise Unavailable(f"plyer ({self.implementation}) cannot speak here") from exc
        except Exception as exc:  # noqa: BLE001 - plyer raises whatever its engine raises
            raise DeliveryFailed(f"plyer ({self.implementation}) failed: {exc}") from exc
