"""QR codes for items: an item's GS1 Digital Link URL under this service, drawn as PNG or SVG.

Owns the symbol side of labels: the URL a code holds (the canonical Digital Link path of the item
under ``Settings.base_url``), the module matrix, the two image formats, their strong ETags and the
caches that make a repeat request free. It never touches the ledger and never imports FastAPI.

A code is made for any syntactically valid Digital Link path, recorded or not: a packaging line
prints its codes before the first attestation about the lot exists, and the page a code leads to
says what is (not yet) known.

The symbol (ISO/IEC 18004) is exactly the one the ``qrcode`` package makes for the same text, level
and border, module for module (a test compares them). ``qrcode`` spends nearly all of its time
choosing the mask: it lays the whole symbol out eight times in pure Python and scores each layout
module by module (about 6 ms for a typical URL). Here ``qrcode`` still encodes the data and its
error correction, but the data modules are placed once, the whole symbol is one integer, each mask
is one XOR, and ``qrcode``'s penalty rules are a few operations on that integer (about 1 ms in
all). The PNG is drawn from the matrix as a 1-bit image scaled with nearest neighbour rather than
by painting every module.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from io import BytesIO
from operator import itemgetter
from typing import Final, Literal

import qrcode
import qrcode.util
from PIL import Image

from provenance.gs1.digital_link import (
    CANONICAL_STEM,
    DigitalLink,
    DigitalLinkError,
    parse_digital_link,
)

Format = Literal["png", "svg"]

# Level Q restores up to about 25% of the codewords (M: 15%). Codes on packaging get scuffed,
# creased round corners, wetted and printed by thermal printers whose heads lose dots, and the
# price is small: for this service's URLs (40 to 110 characters) Q is at most two versions larger
# than M (four modules a side per version), measured with the URLs the tests use.
ERROR_CORRECTION: Final = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE: Final = 4
"""Light modules around the symbol on every side: the minimum ISO/IEC 18004 requires."""

MIN_SIZE: Final = 64
MAX_SIZE: Final = 2048
DEFAULT_SIZE: Final = 512
"""Bounds and default of the side of an image, in pixels."""

MEDIA_TYPES: Final[dict[Format, str]] = {"png": "image/png", "svg": "image/svg+xml"}

_DARK_RUN: Final = re.compile("1+")
_TO_GRAY: Final = bytes.maketrans(b"01", b"\xff\x00")


# --- The item and its URL -----------------------------------------------------------------------


def item_link(path: str) -> DigitalLink:
    """Return the item named by the Digital Link path ``path`` (``01/<GTIN>[/10/<lot>][/21/<serial>]``
    or any other key-qualifier path, percent-encoded as in a URI, without a leading ``/`` or a
    query); raise :class:`DigitalLinkError` if it is not exactly such a path."""
    link = parse_digital_link(f"{CANONICAL_STEM}/{path}")
    if link.stem != CANONICAL_STEM:
        raise DigitalLinkError("item-path", f"{path!r} has segments before its primary key")
    return link


def item_path(link: DigitalLink) -> str:
    """Return the canonical Digital Link path of ``link``, without stem or leading ``/``."""
    return link.canonical().removeprefix(CANONICAL_STEM + "/")


@lru_cache(maxsize=4096)
def item_url(base_url: str, path: str) -> str:
    """Return the URL the item at Digital Link path ``path`` has under ``base_url``: its canonical
    form (numeric AIs, 14-digit GTIN, values percent-encoded); :class:`DigitalLinkError` if bad."""
    return item_link(path).canonical(stem=base_url)


def human_readable(link: DigitalLink) -> str:
    """Return the GS1 human-readable interpretation of the path, ``(01) 0950... (10) LOT``."""
    return " ".join(f"({ai}) {value}" for ai, value in link.path)


# --- The symbol ---------------------------------------------------------------------------------
#
# A layout of ``size`` x ``size`` modules is held as one integer whose bit ``row * size + column``
# is the module at (row, column), and again transposed (bit ``column * size + row``): a line of the
# symbol, row or column, is then a run of ``size`` bits, and each penalty rule is a few operations
# on the whole integer instead of a loop over modules.


@dataclass(frozen=True)
class _Grid:
    """Bit masks of one symbol size, so that no rule runs from the end of a line into the next."""

    size: int
    everything: int
    above_last_line: int
    two_in_line: int
    """The modules followed by at least one more on their line."""
    eleven_in_line: int
    """The modules followed by at least ten more on their line."""


def _in_line(size: int, following: int) -> int:
    line = (1 << (size - following)) - 1
    return sum(line << (size * n) for n in range(size))


@cache
def _grid(size: int) -> _Grid:
    everything = (1 << size * size) - 1
    return _Grid(size, everything, everything >> size, _in_line(size, 1), _in_line(size, 10))


@dataclass(frozen=True)
class _Layout:
    """Where the modules of one version are, as (row-major, column-major) integers."""

    grid: _Grid
    function: tuple[int, int]
    """The finder, separator, timing and alignment patterns; format and version areas light, as
    ``qrcode`` has them while it scores the masks."""
    masks: tuple[tuple[int, int], ...]
    """For each mask pattern, the data modules it inverts."""
    data_count: int
    """How many data modules there are."""
    gather: tuple[Callable[[str], tuple[str, ...]], Callable[[str], tuple[str, ...]]]
    """Picks, most significant bit first, each module's bit out of the data bits in placement
    order followed by one light module (for every module that holds no data)."""


def _empty_symbol(version: int, fill: bool | None) -> qrcode.QRCode:
    symbol = qrcode.QRCode(version=version, error_correction=ERROR_CORRECTION)
    symbol.modules_count = version * 4 + 17
    symbol.modules = [[fill] * symbol.modules_count for _ in range(symbol.modules_count)]
    return symbol


def _placement(grid: Sequence[Sequence[bool | None]]) -> Iterator[tuple[int, int]]:
    """The free modules of ``grid`` in the order data fills them: two-module columns from the right,
    upwards then downwards, skipping the vertical timing pattern (ISO/IEC 18004 7.7.3)."""
    size = len(grid)
    row, step = size - 1, -1
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        while 0 <= row < size:
            for column in (right, right - 1):
                if grid[row][column] is None:
                    yield row, column
            row += step
        row -= step
        step = -step


def _bits(size: int, modules: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """The (row-major, column-major) integers with the ``(row, column)`` modules set."""
    by_row = by_column = 0
    for row, column in modules:
        by_row |= 1 << (row * size + column)
        by_column |= 1 << (column * size + row)
    return by_row, by_column


def _dark(grid: Sequence[Sequence[bool | None]]) -> Iterator[tuple[int, int]]:
    return ((r, c) for r, line in enumerate(grid) for c, dark in enumerate(line) if dark)


@cache
def _layout(version: int) -> _Layout:
    # The function patterns are drawn by qrcode's own steps, in the order its makeImpl draws them.
    symbol = _empty_symbol(version, None)
    size = symbol.modules_count
    for row, column in ((0, 0), (size - 7, 0), (0, size - 7)):
        symbol.setup_position_probe_pattern(row, column)
    symbol.setup_position_adjust_pattern()
    symbol.setup_timing_pattern()
    symbol.setup_type_info(True, 0)
    if version >= 7:
        symbol.setup_type_number(True)
    grid: list[list[bool | None]] = symbol.modules
    data = list(_placement(grid))
    masks = []
    for pattern in range(8):
        inverts = qrcode.util.mask_func(pattern)
        masks.append(_bits(size, ((r, c) for r, c in data if inverts(r, c))))
    light = len(data)  # the index of the light module after the data bits
    by_row, by_column = [light] * size**2, [light] * size**2
    for index, (row, column) in enumerate(data):
        by_row[row * size + column] = index
        by_column[column * size + row] = index
    gather = (itemgetter(*reversed(by_row)), itemgetter(*reversed(by_column)))
    return _Layout(_grid(size), _bits(size, _dark(grid)), tuple(masks), len(data), gather)


@cache
def _format_information(version: int, mask: int) -> int:
    """The dark modules of the format (and, from version 7, version) information for ``mask``."""
    symbol = _empty_symbol(version, False)
    symbol.setup_type_info(False, mask)
    if version >= 7:
        symbol.setup_type_number(False)
    return _bits(symbol.modules_count, _dark(symbol.modules))[0]


def _line_penalties(lines: int, grid: _Grid) -> int:
    """Rules 1 and 3 along every line of ``lines``: runs of five or more modules of one colour
    (3 + each module past five), and 1:1:3:1:1 dark-light patterns with four light modules on
    either side (40 each)."""
    light = ~lines & grid.everything
    same = ~(lines ^ (lines >> 1)) & grid.two_in_line  # a module and the next are alike
    fives = same & (same >> 1) & (same >> 2) & (same >> 3)  # five alike from here
    runs = fives.bit_count() + 2 * (fives & ~(fives >> 1)).bit_count()
    core = lines & (light >> 1) & (lines >> 2) & (lines >> 3) & (lines >> 4)
    core &= (light >> 5) & (lines >> 6)
    four_light = light & (light >> 1) & (light >> 2) & (light >> 3)
    finders = (core & (four_light >> 7) & grid.eleven_in_line).bit_count()
    finders += (four_light & (core >> 4) & grid.eleven_in_line).bit_count()
    return runs + 40 * finders


def _penalty(rows: int, columns: int, grid: _Grid) -> int:
    """Score a layout with the rules ``qrcode.util.lost_point`` applies (ISO/IEC 18004 7.8.3)."""
    alike_below = ~(rows ^ (rows >> grid.size)) & grid.above_last_line
    alike_right = ~(rows ^ (rows >> 1)) & grid.two_in_line
    blocks = (alike_below & (alike_below >> 1) & alike_right).bit_count()
    dark = rows.bit_count()
    balance = int(abs(float(dark) / (grid.size**2) * 100 - 50) / 5) * 10
    lines = _line_penalties(rows, grid) + _line_penalties(columns, grid)
    return lines + 3 * blocks + balance


@lru_cache(maxsize=1024)
def modules(text: str) -> tuple[str, ...]:
    """Return the QR Code symbol of ``text`` at level Q with its quiet zone: one string a row,
    ``"1"`` for a dark module, the same symbol ``qrcode`` makes for ``text``."""
    symbol = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    symbol.add_data(text)
    version: int = symbol.best_fit()
    codewords: list[int] = qrcode.util.create_data(version, ERROR_CORRECTION, symbol.data_list)
    layout = _layout(version)
    # Data modules past the last codeword (the remainder bits) stay light before masking.
    bits = "".join(f"{codeword:08b}" for codeword in codewords).ljust(layout.data_count + 1, "0")
    by_row, by_column = (int("".join(gather(bits)), 2) for gather in layout.gather)
    function_by_row, function_by_column = layout.function

    def masked(mask: int) -> tuple[int, int]:
        flips_by_row, flips_by_column = layout.masks[mask]
        return (
            function_by_row | (by_row ^ flips_by_row),
            function_by_column | (by_column ^ flips_by_column),
        )

    # The first mask with the lowest penalty, as qrcode chooses it.
    best = min(range(8), key=lambda mask: _penalty(*masked(mask), layout.grid))
    size = layout.grid.size
    final = masked(best)[0] | _format_information(version, best)
    text_bits = format(final, f"0{size * size}b")[::-1]  # bit 0, the top left module, first
    light = "0" * QUIET_ZONE
    margin = ("0" * (size + 2 * QUIET_ZONE),) * QUIET_ZONE
    rows = (light + text_bits[start : start + size] + light for start in range(0, size**2, size))
    return (*margin, *rows, *margin)


# --- Images -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QrImage:
    """An encoded image and what a response needs to serve it."""

    content: bytes
    media_type: str
    etag: str
    """A strong entity tag: the quoted SHA-256 of ``content``."""


def png(text: str, size: int = DEFAULT_SIZE) -> bytes:
    """Return a 1-bit PNG of the symbol of ``text``, ``size`` pixels a side: the largest whole
    number of pixels a module that fits, centred (the spare pixels widen the quiet zone); never
    less than one pixel a module, so a long text at a very small size gives a larger image."""
    rows = modules(text)
    count = len(rows)
    scale = max(1, size // count)
    side = max(size, count * scale)
    gray = "".join(rows).encode("ascii").translate(_TO_GRAY)
    image = Image.frombytes("L", (count, count), gray).convert("1", dither=Image.Dither.NONE)
    image = image.resize((count * scale, count * scale), Image.Resampling.NEAREST)
    if side > count * scale:
        canvas = Image.new("1", (side, side), 1)
        offset = (side - count * scale) // 2
        canvas.paste(image, (offset, offset))
        image = canvas
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def svg(text: str, size: int = DEFAULT_SIZE) -> bytes:
    """Return an SVG of the symbol of ``text``, ``size`` pixels a side: a light square and one path
    of dark modules, one unit a module, with no script and no style, so it can be inlined in a page
    under a strict Content-Security-Policy."""
    rows = modules(text)
    count = len(rows)
    # Each run of dark modules is a horizontal stroke one unit wide along the middle of its row:
    # the first of a row placed absolutely, the next ones by their gap from the end of the last.
    # That is half the size of drawing each run as a rectangle, and a label sheet inlines 500.
    strokes = []
    for y, row in enumerate(rows):
        end = None
        for run in _DARK_RUN.finditer(row):
            start, width = run.start(), len(run.group())
            move = f"M{start} {y}.5" if end is None else f"m{start - end} 0"
            strokes.append(f"{move}h{width}")
            end = start + width
    label = html.escape(text, quote=True)
    document = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}"'
        f' viewBox="0 0 {count} {count}" shape-rendering="crispEdges" role="img"'
        f' aria-label="{label}"><path fill="#fff" d="M0 0h{count}v{count}H0z"/>'
        f'<path fill="none" stroke="#000" d="{"".join(strokes)}"/></svg>'
    )
    return document.encode("ascii")


# At most 2,048 images of a few kilobytes each (the largest, a 2,048-pixel PNG, under 8 kB).
@lru_cache(maxsize=2048)
def render(text: str, kind: Format, size: int = DEFAULT_SIZE) -> QrImage:
    """Return the ``kind`` image of the symbol of ``text`` at ``size`` pixels with its ETag; an
    answer is kept, so asking again is a dictionary look-up."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size {size} is not within {MIN_SIZE}..{MAX_SIZE}")
    content = png(text, size) if kind == "png" else svg(text, size)
    etag = f'"{hashlib.sha256(content).hexdigest()}"'
    return QrImage(content, MEDIA_TYPES[kind], etag)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Return True if an ``If-None-Match`` header names ``etag`` (or is ``*``): weak comparison,
    as RFC 9110 13.1.2 asks for this header."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))
