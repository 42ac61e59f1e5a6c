"""A dependency-free progress line for long downloads, redrawn in place with a carriage return."""

from __future__ import annotations

from typing import TextIO


class ProgressLine:
    """One line per pair and timeframe: `BTC/USDT 5m [#########...........]  45% 1500 candles`.
    Writes nothing when `out` is None, so callers never need to branch."""

    def __init__(self, out: TextIO | None, label: str, *, width: int = 20) -> None:
        self._out = out
        self._label = label
        self._width = width
        self._expected = 0

    def start(self, expected: int) -> None:
        self._expected = expected
        self._draw(0, final=False)

    def update(self, done: int) -> None:
        self._draw(done, final=False)

    def finish(self, done: int) -> None:
        """Full bar and a newline: the exchange may have fewer candles than the range could hold."""
        self._draw(done, final=True)
        self._write("\n")

    def stop(self) -> None:
        """Leave the bar where it is (a failure follows) and end the line."""
        self._write("\n")

    def _draw(self, done: int, *, final: bool) -> None:
        pct = 100 if final or self._expected <= 0 else min(99, done * 100 // self._expected)
        filled = self._width * pct // 100
        bar = "#" * filled + "." * (self._width - filled)
        self._write(f"\r{self._label} [{bar}] {pct:3d}% {done} candles")

    def _write(self, text: str) -> None:
        if self._out is not None:
            self._out.write(text)
            self._out.flush()
