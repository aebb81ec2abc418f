"""A photo of a paper invoice read into text lines, each word with the confidence Tesseract read
it with (services/invoice_photo.py turns the lines into delivery lines and asks about doubtful
numbers). Pillow prepares the picture; a photo that cannot give a reading is refused with the
reason before Tesseract spends seconds on it where that is cheap to tell. Knows nothing of
Telegram. read_image blocks (CPU, ~1–2 s): the caller runs it in a thread."""

from __future__ import annotations

import io
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from PIL import Image

Reason = Literal["not_an_image", "too_large", "too_dark", "blurred", "no_text", "unavailable"]

# A number read with a confidence below this is asked about. Calibrated on generated invoices
# (bench/ocr.py): numbers read right from an accepted photo come with 87–96. Confidence alone is
# NOT enough: on a too blurred page Tesseract misreads digits at 84–95 too, so such a page is
# refused as a whole (UNSURE_SHARE) — on the pages let through no digit was misread.
DOUBTFUL_BELOW = 85.0
# A page with more than this share of its words read below UNSURE_WORD is refused as blurred:
# measured, readable pages have ≤0.14, pages with confidently misread digits ≥0.24.
UNSURE_WORD = 80.0
UNSURE_SHARE = 0.2
# Refused before decoding (decompression bombs): Telegram gives bots files up to 20 MB, a phone
# photo sent as a photo is ~0.1–1 MB, as a file 2–8 MB; 50 MP is more than a phone's full sensor.
MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 50_000_000
FORMATS = ("JPEG", "PNG", "WEBP")
# Tesseract reads best with capitals ~20–40 px high: a phone photo of an A4 invoice has them at
# ~15–20 px at 1280 px wide, so the picture's longer side is brought to this before reading.
WORK_SIDE = 1800
TIMEOUT_SECONDS = 30.0
# Tesseract's OpenMP threads: measured on 2 cores, one thread reads a photo in ~0.5 s, the
# default in ~1.5 s (the threads spin against each other), two photos at once likewise.
# An OMP_THREAD_LIMIT set by the operator wins.
OMP_THREADS: str | None = "1"
CONFIG = "--psm 6"  # one block of text: the table's columns stay on their row
MIN_WORDS = 3  # fewer words read than this is no text (a photo of a bouquet, a blank page)
# The picture's checks, on the prepared greyscale (0–255):
DARK_BRIGHTEST = 60  # the paper (98th percentile) darker than this: too dark to tell ink from paper
FLAT_SPREAD = 12  # darkest 0.5% to 98th percentile closer than this: nothing printed on it
# the strongest edges (99.5th percentile, after autocontrast) weaker than this: blurred, refused
# without reading (a sharp page ~255, Gaussian blur 2 px at 1280 px ~50, 2.6 px ~35); washed-out
# JPEGs score higher than they read, UNSURE_SHARE catches those after reading
SHARP_EDGES = 37.0
MAX_SKEW = 6  # degrees a photo may be tilted that are straightened before reading
SKEW_WIDTH = 600  # px, the small copy the tilt is measured on
TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")


class UnreadablePhoto(Exception):
    """Why a photo gives no reading; the bot words it for the person."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason
        self.detail = detail


@dataclass(frozen=True)
class OcrWord:
    text: str
    confidence: float  # Tesseract's 0–100


@dataclass(frozen=True)
class OcrLine:
    words: tuple[OcrWord, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class OcrPage:
    lines: tuple[OcrLine, ...]  # top to bottom, reading order
    mean_confidence: float  # over words with text
    seconds: float  # time spent reading


@cache
def languages() -> str:
    """rus+eng, and kaz where its data is installed (Kazakh suppliers print some invoices in it)."""
    have = _installed_languages()
    return "+".join(lang for lang in ("rus", "eng", "kaz") if lang in have)


def _installed_languages() -> set[str]:
    folder = Path(os.environ.get("TESSDATA_PREFIX") or TESSDATA)
    return {p.name.removesuffix(".traineddata") for p in folder.glob("*.traineddata")}


def available() -> bool:
    """Tesseract's binary and its Russian data are installed."""
    return shutil.which("tesseract") is not None and "rus" in _installed_languages()


def read_image(data: bytes) -> OcrPage:
    """The text lines of a photo. Raises UnreadablePhoto saying why there are none. Blocking."""
    started = time.monotonic()
    image = prepare(data)
    words = _tesseract(image)
    lines = _lines(words)
    texts = [w for line in lines for w in line.words]
    if len(texts) < MIN_WORDS:
        raise UnreadablePhoto("no_text", f"{len(texts)} words")
    mean = sum(w.confidence for w in texts) / len(texts)
    unsure = sum(w.confidence < UNSURE_WORD for w in texts) / len(texts)
    if unsure > UNSURE_SHARE:
        raise UnreadablePhoto("blurred", f"{unsure:.0%} of the words unsure")
    return OcrPage(tuple(lines), round(mean, 1), round(time.monotonic() - started, 3))


def prepare(data: bytes) -> Image.Image:
    """The picture as Tesseract should get it: upright, greyscale, text large enough, full
    contrast. Raises UnreadablePhoto for what is not an image, too large, too dark, blurred."""
    from PIL import (
        Image,
        ImageOps,
        UnidentifiedImageError,
    )  # with the first photo: the bot starts without Pillow

    if len(data) > MAX_BYTES:
        raise UnreadablePhoto("too_large", f"{len(data)} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = opened.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise UnreadablePhoto("too_large", f"{width}×{height}")
            scale = WORK_SIDE / max(width, height)
            if opened.format == "JPEG" and scale < 1:
                opened.draft("L", (round(width * scale), round(height * scale)))  # decode at 1/2, 1/4…
            grey = ImageOps.exif_transpose(opened).convert("L")  # phones store the turn in EXIF
    except UnreadablePhoto:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnreadablePhoto("not_an_image", type(e).__name__) from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:  # truncated or broken files
        raise UnreadablePhoto("not_an_image", f"{type(e).__name__}: {e}") from e
    scale = WORK_SIDE / max(grey.size)
    if abs(scale - 1) > 0.05:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    check(grey)
    angle = skew(grey)
    if abs(angle) >= 0.2:
        (paper,) = _percentiles(grey, (0.9,))
        grey = grey.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=paper)
    return ImageOps.autocontrast(grey, cutoff=(1, 1))


def skew(grey: Image.Image) -> float:
    """The tilt of the text lines in degrees (counter-clockwise positive), within ±MAX_SKEW: the
    angle at which the rows of ink are sharpest (a projection profile), searched coarse to fine
    on a small copy. Tesseract's own deskew copes with ~1°; a table's numbers far to the right of
    a tilted photo otherwise land on the row above or below."""
    from PIL import Image  # with the first photo: the bot starts without Pillow

    small = grey.resize((SKEW_WIDTH, max(1, round(grey.height * SKEW_WIDTH / grey.width))))
    low, high = _percentiles(small, (0.01, 0.9))
    middle = (low + high) // 2
    ink = small.point(lambda v: 255 if v < middle else 0)

    def sharpness_at(angle: float) -> float:
        turned = ink.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=0)
        rows = turned.resize((1, turned.height), Image.Resampling.BOX).tobytes()
        return _variance(list(rows))

    best = max((a / 2 for a in range(-2 * MAX_SKEW, 2 * MAX_SKEW + 1)), key=sharpness_at)
    fine = max((best + a / 10 for a in range(-5, 6)), key=sharpness_at)
    return -fine


def _variance(values: list[int]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def check(grey: Image.Image) -> None:
    """Cheap checks of the prepared greyscale picture, in the order a person should fix them."""
    from PIL import ImageFilter, ImageOps  # with the first photo: the bot starts without Pillow

    low, high = _percentiles(grey, (0.005, 0.98))
    if high < DARK_BRIGHTEST:
        raise UnreadablePhoto("too_dark", f"paper at {high}")
    if high - low < FLAT_SPREAD:
        raise UnreadablePhoto("no_text", f"spread {high - low}")
    edges = ImageOps.autocontrast(grey, cutoff=(1, 1)).filter(ImageFilter.FIND_EDGES)
    # the outermost pixel rows of FIND_EDGES are the border, not the picture
    edges = edges.crop((1, 1, edges.width - 1, edges.height - 1))
    (strongest,) = _percentiles(edges, (0.995,))
    if strongest < SHARP_EDGES:
        raise UnreadablePhoto("blurred", f"edges {strongest}")


def sharpness(grey: Image.Image) -> float:
    """The 99.5th percentile of edge strength, for calibration (bench/ocr.py)."""
    from PIL import ImageFilter, ImageOps  # with the first photo: the bot starts without Pillow

    edges = ImageOps.autocontrast(grey, cutoff=(1, 1)).filter(ImageFilter.FIND_EDGES)
    return float(_percentiles(edges.crop((1, 1, edges.width - 1, edges.height - 1)), (0.995,))[0])


def _percentiles(grey: Image.Image, fractions: Sequence[float]) -> list[int]:

    histogram = grey.histogram()
    total = sum(histogram)
    out = []
    for fraction in fractions:
        wanted, seen = fraction * total, 0
        for value, count in enumerate(histogram):
            seen += count
            if seen >= wanted:
                out.append(value)
                break
    return out


def _tesseract(image: Image.Image) -> dict[str, list[Any]]:
    try:
        import pytesseract
    except ImportError as e:
        raise UnreadablePhoto("unavailable", "pytesseract is not installed") from e
    if not available():
        raise UnreadablePhoto("unavailable", "tesseract or its rus data is not installed")
    if OMP_THREADS and "OMP_THREAD_LIMIT" not in os.environ:
        # pytesseract passes os.environ to tesseract; the bot itself uses no OpenMP
        os.environ["OMP_THREAD_LIMIT"] = OMP_THREADS
    try:
        data: dict[str, list[Any]] = pytesseract.image_to_data(
            image,
            lang=languages(),
            config=CONFIG,
            output_type=pytesseract.Output.DICT,
            timeout=TIMEOUT_SECONDS,
        )
    except pytesseract.TesseractNotFoundError as e:
        raise UnreadablePhoto("unavailable", "tesseract is not installed") from e
    except (pytesseract.TesseractError, RuntimeError, OSError) as e:  # RuntimeError: the timeout
        raise UnreadablePhoto("unavailable", str(e)[:200]) from e
    return data


def _lines(data: dict[str, list[Any]]) -> list[OcrLine]:
    """Tesseract's words grouped into its lines, in its reading order; empty words dropped."""
    grouped: dict[tuple[int, int, int], list[OcrWord]] = {}
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        confidence = float(data["conf"][i])
        if not text or confidence < 0:
            continue
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        grouped.setdefault(key, []).append(OcrWord(text, confidence))
    return [OcrLine(tuple(words)) for words in grouped.values()]
