"""Reading QR codes back, for the tests: a real decoder (zxing-cpp) on images, and the module grid
an SVG of ``web.qr`` draws, so that an inline code can be decoded without a browser."""

from __future__ import annotations

import re
from collections.abc import Sequence
from io import BytesIO

import zxingcpp
from PIL import Image

_DARK_PATH = re.compile(r'<path fill="none" stroke="#000" d="([^"]*)"/>')
_STROKE = re.compile(r"(?:M(\d+) (\d+)\.5|m(\d+) 0)h(\d+)")
_VIEW_BOX = re.compile(r'viewBox="0 0 (\d+) (\d+)"')


def decode(image: Image.Image) -> zxingcpp.Barcode:
    """The one QR code zxing-cpp finds in ``image``."""
    (found,) = zxingcpp.read_barcodes(image)
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    return found


def decode_png(content: bytes) -> str:
    """The text of the one QR code in the PNG ``content``."""
    text: str = decode(Image.open(BytesIO(content))).text
    return text


def svg_modules(svg: str) -> tuple[str, ...]:
    """The module grid an SVG draws (``"1"`` dark), read from its one path of unit-wide strokes."""
    view_box = _VIEW_BOX.search(svg)
    paths = _DARK_PATH.findall(svg)
    assert view_box is not None
    assert len(paths) == 1
    size = int(view_box.group(1))
    assert int(view_box.group(2)) == size
    assert _STROKE.sub("", paths[0]) == "", "the path has commands other than strokes along rows"
    rows = [["0"] * size for _ in range(size)]
    x = y = 0
    for absolute_x, absolute_y, gap, width in _STROKE.findall(paths[0]):
        if absolute_x:
            x, y = int(absolute_x), int(absolute_y)
        else:
            x += int(gap)
        for column in range(x, x + int(width)):
            rows[y][column] = "1"
        x += int(width)
    return tuple("".join(row) for row in rows)


def draw(rows: Sequence[str], scale: int = 4) -> Image.Image:
    """A grayscale image of a module grid, ``scale`` pixels a module."""
    size = len(rows)
    gray = "".join(rows).encode("ascii").translate(bytes.maketrans(b"01", b"\xff\x00"))
    image = Image.frombytes("L", (size, size), gray)
    return image.resize((size * scale, size * scale), Image.Resampling.NEAREST)


def decode_svg(svg: str) -> str:
    """The text of the QR code an SVG of ``web.qr`` draws."""
    text: str = decode(draw(svg_modules(svg))).text
    return text
