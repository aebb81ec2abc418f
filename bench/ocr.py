"""How fast and how well services/ocr.py reads photographed invoices, on generated ones.

~20 invoices of 5–12 lines (tests/invoice_images.py: the demo shop's flowers), each drawn clean,
tilted, blurred or washed out, as 1280 px JPEGs (a phone photo as Telegram sends it):

- time per photo: median and max of read_image, one photo at a time;
- accuracy: lines read right / lines printed; a line is right when its name, quantity and price
  come out as printed (the name word for word, the numbers as the last two words);
- numbers misread with high confidence (a digit word that is not what was printed, read with
  at least ocr.DOUBTFUL_BELOW): must be 0 — that is the rule the bot relies on to ask instead of
  saving a wrong number; the confidences of all misread numbers are listed to calibrate by;
- end to end: the photo's lines through services/invoice_photo.read_page (the parser the bot
  uses) — rows saved with a wrong number and no doubt flag: must be 0 too;
- two photos at once on all cores, with Tesseract's OpenMP threads as they are and with
  OMP_THREAD_LIMIT=1.

Prints; asserts nothing about times. Run: `make bench-ocr` (`.venv/bin/python -m bench.ocr`).
"""

from __future__ import annotations

import difflib
import os
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from services import ocr
from services.models import Flower
from tests.invoice_images import FLOWER_NAMES, Row, invoice_image, sample_invoice, texts, total_of

KINDS: dict[str, dict[str, float]] = {
    "clean": {},
    "rotated 2°": {"rotate": 2.0},
    "blurred": {"blur": 2.0},
    "low contrast": {"contrast": 0.35},
    "all three": {"rotate": -2.0, "blur": 1.5, "contrast": 0.5},
}
PER_KIND = 4
FLOWERS = [Flower(id=f"f{i}", name=name) for i, name in enumerate(FLOWER_NAMES)]


@dataclass
class Case:
    kind: str
    rows: list[Row]
    data: bytes


@dataclass
class Result:
    lines: int = 0
    right: int = 0
    numbers: int = 0
    misread: list[float] = field(default_factory=list)  # confidences of misread digit words
    unsure_right: int = 0  # numbers read right but below DOUBTFUL_BELOW (asked about needlessly)
    saved_wrong: int = 0  # end to end: a row saved with a wrong number and no doubt on it
    refused: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def cases(per_kind: int = PER_KIND, first_seed: int = 1) -> list[Case]:
    out = []
    seed = first_seed
    for kind, faults in KINDS.items():
        for _ in range(per_kind):
            rows = sample_invoice(seed)
            total = total_of(rows, money=seed % 2 == 0) if seed % 3 else None
            out.append(Case(kind, rows, invoice_image(texts(rows), total=total, **faults)))  # type: ignore[arg-type]
            seed += 1
    return out


def _digits(word: str) -> bool:
    return re.fullmatch(r"\d+", word) is not None


def score(case: Case, page: ocr.OcrPage, result: Result) -> None:
    """Adds the case's lines to result: which were read right, and the misread numbers."""
    candidates = [line for line in page.lines if any(ch.isdigit() for ch in line.text)]
    start = 0  # rows and lines are both top to bottom: a row is looked for after the last match
    for row in case.rows:
        best, best_ratio = None, 0.0
        wanted = [row.name, str(row.quantity), str(row.price)]
        for i in range(start, min(start + 3, len(candidates))):
            said = [w.text for w in candidates[i].words]
            read = [" ".join(said[:-2]), *said[-2:]]
            ratio = difflib.SequenceMatcher(None, read[0], wanted[0]).ratio() + sum(
                a == b for a, b in zip(read[1:], wanted[1:], strict=False)
            )
            if ratio > best_ratio:
                best, best_ratio = i, ratio
        result.lines += 1
        result.numbers += 2
        if best is None or best_ratio < 0.6:
            continue
        start = best + 1
        words = candidates[best].words
        name = " ".join(w.text for w in words[:-2])
        for word, printed in zip(words[-2:], (row.quantity, row.price), strict=False):
            if word.text == str(printed):
                if word.confidence < ocr.DOUBTFUL_BELOW:
                    result.unsure_right += 1
            elif _digits(word.text):
                result.misread.append(word.confidence)
        if (
            len(words) >= 3
            and name == row.name
            and [w.text for w in words[-2:]]
            == [
                str(row.quantity),
                str(row.price),
            ]
        ):
            result.right += 1
    _end_to_end(case, page, result)


def _end_to_end(case: Case, page: ocr.OcrPage, result: Result) -> None:
    try:
        from services.invoice_photo import read_page, rows
    except ImportError:  # the bot flow is not there yet
        return
    printed = {row.name: row for row in case.rows}
    for saved in rows(read_page(page, FLOWERS)):
        row = printed.get(saved["flower_name"])
        doubt = set(saved["doubt"])
        wrong_quantity = row is None or saved["quantity"] != row.quantity
        wrong_price = row is None or saved["price"] != row.price
        if (wrong_quantity and "quantity" not in doubt) or (wrong_price and "price" not in doubt):
            result.saved_wrong += 1


def run(all_cases: list[Case]) -> dict[str, Result]:
    results = {kind: Result() for kind in KINDS}
    for case in all_cases:
        result = results[case.kind]
        started = time.monotonic()
        try:
            page = ocr.read_image(case.data)
        except ocr.UnreadablePhoto as e:
            result.refused.append(e.reason)
            result.lines += len(case.rows)
            result.numbers += 2 * len(case.rows)
            continue
        finally:
            result.seconds.append(time.monotonic() - started)
        score(case, page, result)
    return results


def at_once(all_cases: list[Case], threads: int, omp_limit: str | None) -> float:
    """Seconds per photo with `threads` photos read at a time."""
    saved, threads_before = os.environ.get("OMP_THREAD_LIMIT"), ocr.OMP_THREADS
    ocr.OMP_THREADS = None
    if omp_limit is None:
        os.environ.pop("OMP_THREAD_LIMIT", None)
    else:
        os.environ["OMP_THREAD_LIMIT"] = omp_limit
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda c: ocr.read_image(c.data), all_cases))
        return (time.monotonic() - started) / len(all_cases)
    finally:
        ocr.OMP_THREADS = threads_before
        if saved is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = saved


def main() -> int:
    if not ocr.available():
        print("tesseract with Russian data is not installed (make test installs it as root)")
        return 1
    all_cases = cases()
    lines = sum(len(c.rows) for c in all_cases)
    print(
        f"{len(all_cases)} invoices, {lines} lines, 1280 px JPEG; languages {ocr.languages()}, "
        f"{ocr.CONFIG}, read at {ocr.WORK_SIDE} px; DOUBTFUL_BELOW {ocr.DOUBTFUL_BELOW:g}; "
        f"{os.cpu_count()} cores"
    )
    results = run(all_cases)
    print(
        f"{'kind':<14}{'median s':>9}{'max s':>7}{'lines right':>13}{'misread':>9}"
        f"{'  confident':>12}{'unsure ok':>10}{'saved wrong':>12}  refused"
    )
    total = Result()
    for kind, r in results.items():
        confident = sum(c >= ocr.DOUBTFUL_BELOW for c in r.misread)
        print(
            f"{kind:<14}{statistics.median(r.seconds):>9.2f}{max(r.seconds):>7.2f}"
            f"{f'{r.right}/{r.lines}':>13}{len(r.misread):>9}{confident:>12}"
            f"{f'{r.unsure_right}/{r.numbers}':>10}{r.saved_wrong:>12}  {', '.join(r.refused) or '-'}"
        )
        for name in ("lines", "right", "numbers", "unsure_right", "saved_wrong"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        total.misread += r.misread
        total.seconds += r.seconds
        total.refused += r.refused
    confident = sum(c >= ocr.DOUBTFUL_BELOW for c in total.misread)
    print(
        f"{'all':<14}{statistics.median(total.seconds):>9.2f}{max(total.seconds):>7.2f}"
        f"{f'{total.right}/{total.lines}':>13}{len(total.misread):>9}{confident:>12}"
        f"{f'{total.unsure_right}/{total.numbers}':>10}{total.saved_wrong:>12}  {len(total.refused)}"
    )
    print(f"accuracy {total.right / total.lines:.1%} of lines")
    print(
        "saved wrong: rows services/invoice_photo.py would save with a wrong number and no doubt "
        "(with every line read right, that is the parser's reading of the line)"
    )
    print("misread digit words' confidences:", sorted(round(c) for c in total.misread) or "none")
    sample = all_cases[:: max(1, len(all_cases) // 8)][:8]
    for threads in (1, 2):
        for omp in (None, "1"):
            per_photo = at_once(sample, threads, omp)
            print(f"{threads} at a time, OMP_THREAD_LIMIT={omp or 'unset'}: {per_photo:.2f} s per photo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
