"""A clock moved by hand, to stand in for a module's time function (time.monotonic, utcnow) in a test."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class HandClock(Generic[T]):
    """Returns `now` when called; the test moves `now`."""

    def __init__(self, now: T) -> None:
        self.now = now

    def __call__(self) -> T:
        return self.now
