#!/usr/bin/env python3
"""Cross-check medocr's corpus CER/WER against jiwer, with the same N1 normalisation.

Usage (side by side, one command line, same machine):

    MEDOCR_BENCH_DUMP=/tmp/pairs.jsonl cargo bench --bench score \
        && python3 tools/jiwer_compare.py /tmp/pairs.jsonl

The bench writes the reference/hypothesis pairs (JSONL: "reference", "hypothesis") and
its own results next to them (`<pairs>.rust.json`); this script computes the corpus
(micro-averaged) CER and WER with jiwer, times it, and prints both, the absolute
differences (agreement means < 1e-9) and the speed ratio.

Without a pairs file, `--generate N` writes a small random Korean corpus of the same
kind (not byte-identical to the bench's) so jiwer can be timed on its own.

N1 here mirrors src/score/normalize.rs: optional full-width folding (U+FF01..U+FF5E),
NFC, runs of Unicode White_Space (Rust's char::is_whitespace set, listed below) to one
space, trim. CER units are extended grapheme clusters (the `regex` module's \\X);
jiwer's stock `cer` counts code points, which is the same on this corpus, and is timed
too. Needs: pip install jiwer regex
"""

import argparse
import json
import random
import statistics
import sys
import time
import unicodedata

import jiwer
import jiwer.transforms as tr

try:
    import regex
except ImportError:  # graphemes fall back to code points
    regex = None

# Unicode White_Space, as Rust's char::is_whitespace (Python's \s also matches U+001C..1F).
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
WS = set(WHITE_SPACE)


def n1(text, fold_fullwidth=False):
    """N1: [fold] -> NFC -> whitespace runs to one space -> trim."""
    if fold_fullwidth:
        text = "".join(
            chr(ord(c) - 0xFF01 + 0x21) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in text
        )
    text = unicodedata.normalize("NFC", text)
    out = []
    pending = False
    for c in text:
        if c in WS:
            pending = True
            continue
        if pending and out:
            out.append(" ")
        pending = False
        out.append(c)
    return "".join(out)


def graphemes(s):
    return regex.findall(r"\X", s) if regex else list(s)


class ToGraphemes(tr.AbstractTransform):
    """jiwer transform: each sentence becomes its list of grapheme clusters."""

    def process_string(self, s):
        return [graphemes(s)]

    def process_list(self, inp):
        return [graphemes(s) for s in inp]


def load_pairs(path):
    refs, hyps = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                refs.append(o["reference"])
                hyps.append(o["hypothesis"])
    return refs, hyps


def generate(n, seed):
    rng = random.Random(seed)
    words = ["처방전", "환자", "성명", "타이레놀정500밀리그램", "식후", "30분", "경구",
             "혈색소", "g/dL", "고혈압", "I10", "E11.9", "2024년", "3월", "5일", "퇴원일"]
    refs, hyps = [], []
    for _ in range(n):
        target = rng.randint(300, 3000)
        lines, size = [], 0
        while size < target:
            line = " ".join(rng.choice(words) if rng.random() > 0.25 else str(rng.randint(1, 999))
                            for _ in range(rng.randint(3, 9)))
            lines.append(line)
            size += len(line) + 1
        r = "\n".join(lines)
        h = []
        for c in r:
            x = rng.random()
            if x < 0.05 / 3:
                h.append(chr(rng.randint(0xAC00, 0xD7A3)))
            elif x < 0.10 / 3:
                pass
            elif x < 0.05:
                h.append(c + chr(rng.randint(0xAC00, 0xD7A3)))
            else:
                h.append(c)
        refs.append(r)
        hyps.append("".join(h))
    return refs, hyps


def score(refs, hyps, fold):
    """N1 + jiwer corpus CER (graphemes) and WER; returns the two jiwer outputs."""
    r = [n1(x, fold) for x in refs]
    h = [n1(x, fold) for x in hyps]
    c = jiwer.process_characters(r, h, reference_transform=ToGraphemes(),
                                 hypothesis_transform=ToGraphemes())
    w = jiwer.process_words(r, h)
    return c, w


def stock(refs, hyps, fold):
    """N1 + jiwer's stock cer()/wer() (code points)."""
    r = [n1(x, fold) for x in refs]
    h = [n1(x, fold) for x in hyps]
    return jiwer.cer(r, h), jiwer.wer(r, h)


def timed(f, passes):
    times, out = [], None
    for _ in range(passes):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", nargs="?", help="JSONL of reference/hypothesis pairs (from the bench)")
    ap.add_argument("--generate", type=int, metavar="N", help="generate N documents instead")
    ap.add_argument("--seed", type=int, default=20240305)
    ap.add_argument("--passes", type=int, default=5, help="timing passes (median reported)")
    ap.add_argument("--fold-fullwidth", action="store_true")
    args = ap.parse_args()
    if args.pairs:
        refs, hyps = load_pairs(args.pairs)
    elif args.generate:
        refs, hyps = generate(args.generate, args.seed)
    else:
        ap.error("give a pairs file or --generate N")
    if regex is None:
        print("warning: `regex` not installed; graphemes are code points", file=sys.stderr)

    n = len(refs)
    t_full, (c, w) = timed(lambda: score(refs, hyps, args.fold_fullwidth), args.passes)
    t_stock, (stock_cer, stock_wer) = timed(lambda: stock(refs, hyps, args.fold_fullwidth), args.passes)
    print(f"corpus: {n} documents (median of {args.passes} passes, 1 thread)")
    print(f"jiwer graphemes+words {n / t_full:9.1f} docs/s  ({t_full:.3f} s)")
    print(f"jiwer stock cer+wer   {n / t_stock:9.1f} docs/s  ({t_stock:.3f} s)")
    print(f"CER  {c.cer:.12f}  S={c.substitutions} D={c.deletions} I={c.insertions} H={c.hits}"
          f" N={c.hits + c.substitutions + c.deletions}")
    print(f"WER  {w.wer:.12f}  S={w.substitutions} D={w.deletions} I={w.insertions} H={w.hits}"
          f" N={w.hits + w.substitutions + w.deletions}")
    print(f"stock CER {stock_cer:.12f}  stock WER {stock_wer:.12f}")

    rust_path = f"{args.pairs}.rust.json" if args.pairs else None
    try:
        with open(rust_path, encoding="utf-8") as f:
            rust = json.load(f)
    except (TypeError, OSError):
        return
    ok = True
    print("\nmedocr vs jiwer")
    for name, ours, theirs, rate in [("CER", rust["cer"], c, c.cer), ("WER", rust["wer"], w, w.wer)]:
        diff = abs(ours["rate"] - rate)
        agree = diff < 1e-9
        ok &= agree
        same_sdi = (ours["substitutions"], ours["deletions"], ours["insertions"]) == (
            theirs.substitutions, theirs.deletions, theirs.insertions)
        print(f"{name}: medocr {ours['rate']:.12f}  jiwer {rate:.12f}  |diff| {diff:.3e}"
              f"  {'AGREE' if agree else 'DISAGREE'} (<1e-9); S/D/I split "
              f"{'identical' if same_sdi else 'differs (same total)'}")
    rust_rate = rust["docs_per_s_cer_wer"]
    print(f"speed: medocr cer+wer {rust_rate:.1f} docs/s, jiwer {n / t_full:.1f} docs/s (graphemes),"
          f" {n / t_stock:.1f} docs/s (stock) -> medocr is {rust_rate / (n / t_full):.1f}x"
          f" / {rust_rate / (n / t_stock):.1f}x")
    print(f"medocr score_document (4 metrics + projection set-up): "
          f"{rust['docs_per_s_score_document']:.1f} docs/s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
