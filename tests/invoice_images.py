"""Pictures of printed supplier invoices, drawn with Pillow in DejaVu Sans (Cyrillic), for the OCR
tests and the bench: a title, a header row, one row per flower in columns (name, quantity, price
per stem), optionally an «Итого» line; then the photo's faults on request — a tilt, blur, washed
out contrast, a dark room — and the encoding (JPEG as a phone sends it, or PNG)."""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
TITLE = "Накладная № 123 от 02.12.2026"
HEADER = ("Наименование", "Кол-во", "Цена")
# The flowers of the demo shop (sandbox/data.py), as a supplier would print them.
FLOWER_NAMES = (
    "Роза красная 60 см",
    "Роза красная 40 см",
    "Роза белая 50 см",
    "Роза розовая 50 см",
    "Роза кустовая пионовидная",
    "Эустома белая",
    "Эустома сиреневая",
    "Хризантема кустовая",
    "Гипсофила",
    "Пион розовый",
    "Тюльпан жёлтый",
    "Тюльпан красный",
    "Эвкалипт",
    "Писташ",
    "Альстромерия",
    "Гортензия голубая",
    "Лилия белая",
    "Фрезия",
)
_ROW = re.compile(r"^(?P<name>.+?)\s+(?P<quantity>\d+)\s+(?P<price>\d+)$")


@dataclass(frozen=True)
class Row:
    """One printed invoice line: what the OCR should read back."""

    name: str
    quantity: int
    price: int

    @property
    def text(self) -> str:
        return f"{self.name}  {self.quantity}  {self.price}"


def parse_row(line: str) -> Row:
    """«Роза красная 60 см  50  950» -> Row(name, 50, 950): the last two numbers are quantity, price."""
    match = _ROW.match(" ".join(line.split()))
    if match is None:
        raise ValueError(f"not an invoice row: {line!r}")
    return Row(match["name"], int(match["quantity"]), int(match["price"]))


def invoice_image(
    lines: list[str],
    *,
    total: str | None = None,
    rotate: float = 0,
    blur: float = 0,
    contrast: float = 1.0,
    width: int = 1280,
    dark: bool = False,
    fmt: str = "JPEG",
) -> bytes:
    """A photo-like picture of a printed invoice with these rows («name  quantity  price»).

    rotate: degrees (counter-clockwise); blur: Gaussian radius in pixels at this width;
    contrast: 1.0 as printed, 0.3 washed out; dark: the room light off (paper comes out ~dark grey)."""
    rows = [parse_row(line) for line in lines]
    scale = width / 1280
    size = round(26 * scale)
    font = ImageFont.truetype(str(FONT), size)
    bold = ImageFont.truetype(str(FONT_BOLD), round(30 * scale))
    line_height = round(size * 1.9)
    margin = round(70 * scale)
    col_quantity = round(width * 0.70)  # right edges of the number columns
    col_price = round(width * 0.90)
    height = round(margin * 2 + line_height * (len(rows) + 5) + size * 3)
    height = max(height, round(width * 0.75))
    image = Image.new("L", (width, height), 246)  # paper is never quite white
    draw = ImageDraw.Draw(image)
    ink = 25
    y = margin
    draw.text((margin, y), TITLE, font=bold, fill=ink)
    y += round(line_height * 1.6)
    draw.text((margin, y), HEADER[0], font=font, fill=ink)
    draw.text((col_quantity, y), HEADER[1], font=font, fill=ink, anchor="ra")
    draw.text((col_price, y), HEADER[2], font=font, fill=ink, anchor="ra")
    y += line_height
    draw.line((margin, y - round(size * 0.4), col_price, y - round(size * 0.4)), fill=ink, width=2)
    for row in rows:
        draw.text((margin, y), row.name, font=font, fill=ink)
        draw.text((col_quantity, y), str(row.quantity), font=font, fill=ink, anchor="ra")
        draw.text((col_price, y), str(row.price), font=font, fill=ink, anchor="ra")
        y += line_height
    if total is not None:
        y += round(line_height * 0.4)
        draw.text((margin, y), total, font=font, fill=ink)
    if rotate:
        image = image.rotate(rotate, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=200)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if contrast != 1.0:
        image = ImageEnhance.Contrast(image).enhance(contrast)
    if dark:
        image = ImageEnhance.Brightness(image).enhance(0.12)
    out = io.BytesIO()
    photo = image.convert("RGB")  # phones send colour
    if fmt.upper() == "JPEG":
        photo.save(out, "JPEG", quality=85)
    else:
        photo.save(out, fmt)
    return out.getvalue()


def sample_invoice(seed: int, lines: int | None = None) -> list[Row]:
    """A plausible delivery: 5–12 different flowers, stems in tens (sometimes odd), prices per stem."""
    rnd = random.Random(seed)
    count = lines if lines is not None else rnd.randint(5, 12)
    names = rnd.sample(FLOWER_NAMES, count)
    return [
        Row(
            name,
            rnd.choice([10, 20, 25, 30, 40, 50, 60, 75, 100, 120, 150, rnd.randint(3, 199)]),
            rnd.choice([350, 400, 450, 500, 550, 600, 650, 700, 800, 900, 950, 1200, 1500, 2500, 3500])
            + rnd.choice([0, 0, 0, rnd.randint(1, 99)]),
        )
        for name in names
    ]


def sample_invoices(count: int = 10, first_seed: int = 1) -> list[list[Row]]:
    return [sample_invoice(seed) for seed in range(first_seed, first_seed + count)]


def total_of(rows: list[Row], *, money: bool = False) -> str:
    """The «Итого» line for these rows: stems, or the sum in tenge («Итого: 47 500 ₸»)."""
    if money:
        amount = sum(r.quantity * r.price for r in rows)
        return f"Итого: {amount:,} ₸".replace(",", " ")
    return f"Итого: {sum(r.quantity for r in rows)} шт"


def texts(rows: list[Row]) -> list[str]:
    return [row.text for row in rows]
