"""Measure a WAV file: how long it is and how loud (to check that speech really is audio)."""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

from psoas_break.ports import DeliveryFailed


@dataclass(frozen=True)
class WavStats:
    """duration_s: length in seconds; rms and peak: 0..1 of full scale (over all channels);
    voiced_fraction: share of 20 ms windows whose RMS is above 1 % of full scale."""

    duration_s: float
    rms: float
    peak: float
    voiced_fraction: float
    sample_rate: int
    channels: int


def wav_stats(path: Path) -> WavStats:
    """Read a 16-bit PCM WAV and measure it. Raises DeliveryFailed for anything else."""
    try:
        with wave.open(str(path), "rb") as wav:
            width = wav.getsampwidth()
            rate = wav.getframerate()
            channels = wav.getnchannels()
            frames = wav.getnframes()
            data = wav.readframes(frames)
    except (OSError, EOFError, wave.Error) as exc:
        raise DeliveryFailed(f"{path} is not a readable WAV file: {exc}") from exc
    if width != 2:
        raise DeliveryFailed(f"{path} has {8 * width}-bit samples; only 16-bit PCM is measured")
    count = len(data) // 2
    samples = struct.unpack(f"<{count}h", data[: count * 2])
    full = 32768.0
    if not samples:
        return WavStats(0.0, 0.0, 0.0, 0.0, rate, channels)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) / full
    peak = max(abs(s) for s in samples) / full
    window = max(1, int(rate * channels * 0.02))
    voiced = total = 0
    for start in range(0, len(samples), window):
        chunk = samples[start : start + window]
        total += 1
        if math.sqrt(sum(s * s for s in chunk) / len(chunk)) / full > 0.01:
            voiced += 1
    return WavStats(duration_s=frames / rate if rate else 0.0, rms=rms, peak=peak,
                    voiced_fraction=voiced / total, sample_rate=rate, channels=channels)
