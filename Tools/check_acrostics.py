#!/usr/bin/env python3
"""Checks acrostic poems (藏头诗) of a trained generator model at scale.

Draws --count random 4-character heads (seeded) from the CJK characters of the model's
vocabulary.json, runs `seqmodels generate acrostic --json` for each, and checks every poem
from its text alone: one line per head, each line begins with its head character, has
exactly --line-length characters before its punctuation, lines end with ， and 。
alternately with 。 last, and no special token (<unk>, <bos>, <eos>, <pad>) appears.
Prints how many poems are valid and every invalid one; exits 1 if any is invalid.

Usage (after `swift build -c release`):
  python3 Tools/check_acrostics.py --model runs/poems --count 100 --seed 1 [--line-length 5]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import unicodedata

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_cjk(token):
    """A single CJK ideograph (BMP and supplementary planes)."""
    if len(token) != 1:
        return False
    code = ord(token)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x3FFFF
            or 0xF900 <= code <= 0xFAFF)


def problems(poem, heads, length):
    """What is wrong with one poem object {"head", "lines", "poem"}; empty when valid."""
    found = []
    lines = poem["lines"]
    if poem["poem"] != "".join(lines):
        found.append("the poem is not its lines joined")
    for special in SPECIALS:
        if special in poem["poem"]:
            found.append("contains " + special)
    if len(lines) != len(heads):
        found.append(f"{len(lines)} lines for {len(heads)} heads")
    for index, (line, head) in enumerate(zip(lines, heads)):
        mark = "。" if index == len(heads) - 1 or index % 2 == 1 else "，"
        if not line.endswith(mark):
            found.append(f"line {index + 1} {line!r} does not end with {mark}")
            continue
        body = line[:-1]
        if len(body) != length:
            found.append(f"line {index + 1} {line!r} has {len(body)} characters before {mark}")
        if not body.startswith(head):
            found.append(f"line {index + 1} {line!r} does not begin with {head}")
        if any(not unicodedata.category(c).startswith("L") for c in body):
            found.append(f"line {index + 1} {line!r} holds a character that is not a letter")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model directory written by 'seqmodels generate train'")
    parser.add_argument("--count", type=int, default=100, help="number of random 4-character heads")
    parser.add_argument("--seed", type=int, default=1, help="seed of the head draw and of the sampling")
    parser.add_argument("--line-length", type=int, default=7, choices=(5, 7))
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--binary", default=os.path.join(REPO, ".build", "release", "seqmodels"))
    args = parser.parse_args()

    with open(os.path.join(args.model, "vocabulary.json"), encoding="utf-8") as f:
        vocabulary = json.load(f)
    characters = [t for t in vocabulary["tokens"] if t not in SPECIALS and is_cjk(t)]
    if len(characters) < 4:
        sys.exit(f"{args.model}: the vocabulary has {len(characters)} CJK characters; need at least 4")
    draw = random.Random(args.seed)
    valid, invalid = 0, []
    for index in range(args.count):
        heads = "".join(draw.choice(characters) for _ in range(4))
        command = [args.binary, "generate", "acrostic", "--model", args.model, "--head", heads,
                   "--line-length", str(args.line_length), "--temperature", str(args.temperature),
                   "--seed", str(args.seed * 100003 + index), "--json"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            invalid.append((heads, "", [f"exit {result.returncode}: {result.stderr.strip()}"]))
            continue
        poems = json.loads(result.stdout)
        found = [p for poem in poems for p in problems(poem, heads, args.line_length)] if poems else ["no poem"]
        if found:
            invalid.append((heads, " / ".join(poem["poem"] for poem in poems), found))
        else:
            valid += 1
            if index < 3:
                print(f"{heads}: {poems[0]['poem']}")
    print(f"valid: {valid} of {args.count} (line length {args.line_length}, {len(characters)} CJK characters in the vocabulary)")
    for heads, poem, found in invalid:
        print(f"INVALID {heads}: {poem}: {'; '.join(found)}")
    sys.exit(1 if invalid else 0)


if __name__ == "__main__":
    main()
