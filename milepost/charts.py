"""Charts drawn on the server as SVG geometry (no charting script, nothing from a CDN): the dashboard's templates
turn these shapes into <svg> elements, which scale with the page through their viewBox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

VERDICT_COLOURS = {
    "genuine": "#1b7f3b",
    "installed": "#6aa874",
    "suspect": "#b26a00",
    "recalled": "#d84315",
    "void": "#5f0f0a",
    "counterfeit": "#b3261e",
}
OTHER_COLOUR = "#6b6b70"


@dataclass(frozen=True)
class Rect:
    """One filled rectangle with what it stands for (shown as the SVG <title> on hover)."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    series: str
    value: int


@dataclass(frozen=True)
class Column:
    """One stacked column: its label under the axis and its pieces, bottom first."""

    x: float
    width: float
    label: str
    total: int
    pieces: list[Rect]


@dataclass(frozen=True)
class StackedColumns:
    """A stacked column chart in a `width` x `height` box with room for labels below."""

    width: int
    height: int
    plot_height: int
    maximum: int
    columns: list[Column]


def stacked_columns(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    order: Sequence[str],
    colours: Mapping[str, str],
    width: int = 480,
    plot_height: int = 160,
) -> StackedColumns:
    """Lay out one column per row, stacked by series in `order` (series not in `order` go on top)."""
    maximum = max((sum(values.values()) for _label, values in rows), default=0)
    slot = width / max(len(rows), 1)
    columns = []
    for index, (label, values) in enumerate(rows):
        series = [name for name in order if values.get(name)] + sorted(set(values) - set(order))
        bottom = float(plot_height)
        pieces = []
        for name in series:
            height = plot_height * values[name] / maximum if maximum else 0
            bottom -= height
            pieces.append(
                Rect(
                    index * slot + slot * 0.15,
                    bottom,
                    slot * 0.7,
                    height,
                    colours.get(name, OTHER_COLOUR),
                    name,
                    values[name],
                )
            )
        columns.append(Column(index * slot, slot, label, sum(values.values()), pieces))
    return StackedColumns(width, plot_height + 24, plot_height, maximum, columns)


@dataclass(frozen=True)
class Bar:
    """One horizontal bar of a ranked list."""

    key: str
    value: int
    y: float
    length: float


@dataclass(frozen=True)
class BarList:
    """Horizontal bars, longest first, in a `width` x `height` box; labels sit left of `offset`."""

    width: int
    height: int
    offset: int
    bars: list[Bar]
    bar_height: int


def bar_list(items: Sequence[tuple[str, int]], width: int = 480, offset: int = 190, bar_height: int = 22) -> BarList:
    """Lay out one bar per (key, value), scaled to the largest value."""
    maximum = max((value for _key, value in items), default=0)
    room = width - offset - 48
    bars = [
        Bar(key, value, index * (bar_height + 6), room * value / maximum if maximum else 0)
        for index, (key, value) in enumerate(items)
    ]
    return BarList(width, max(len(items), 1) * (bar_height + 6), offset, bars, bar_height)
