#!/usr/bin/env python3
"""Checks acrostic poems (藏头诗) of a trained generator model at scale.

Draws --count random 4-character heads (seeded) from the CJK characters of the model's
vocabulary.json, runs `seqmodels generate acrostic --json` for each, and checks every poem
from its text alone: one line per head, each line begins with its head character, has
exactly --line-length characters before its punctuation, lines end with ， and 。
alternately with 。 last, and no special token (<unk>, <bos>, <eos>, <pad>) appears.
With --rhyme the poems are asked for with --rhyme and must also rhyme: the last characters
of the even lines share a rhyme group of 中华新韵 (read from the committed table,
Sources/Tasks/Generator/RhymeTable.swift, not from the program's own report), and no line's
last character stands anywhere else in the poem. Characters repeated within a line are
counted and reported (the repetition penalty allows one only when the model strongly
prefers it, so a repetition is not an error).
Prints how many poems are valid and every invalid one; exits 1 if any is invalid.

Usage (after `swift build -c release`):
  python3 Tools/check_acrostics.py --model runs/poems --count 100 --seed 1 [--line-length 5] [--rhyme] [--beam 5]
"""
import argparse
import json
import os
import random
import re
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


def rhyme_table(path=os.path.join(REPO, "Sources", "Tasks", "Generator", "RhymeTable.swift")):
    """Character -> set of rhyme group names, parsed from the committed Swift table."""
    groups = {}
    with open(path, encoding="utf-8") as f:
        for name, characters in re.findall(r'\("(.)", "([^"]*)"\)', f.read()):
            for character in characters:
                groups.setdefault(character, set()).add(name)
    if len(groups) < 1000:
        sys.exit(f"{path}: read only {len(groups)} characters; is it the generated table?")
    return groups


def rhyme_problems(lines, table):
    """What breaks the rhyme constraints of --rhyme; empty when they hold."""
    found = []
    endings = [line[-2] for line in lines if len(line) >= 2]
    even = endings[1::2]
    if even:
        shared = set.intersection(*(table.get(c, set()) for c in even))
        if not shared:
            readings = ", ".join(f"{c} {'/'.join(sorted(table.get(c, set()))) or 'none'}" for c in even)
            found.append(f"even lines end in characters that share no rhyme ({readings})")
    text = "".join(line[:-1] for line in lines)
    for index, ending in enumerate(endings):
        if text.count(ending) > 1:
            found.append(f"line {index + 1}'s last character {ending} stands elsewhere in the poem")
    return found


def repeated_within_lines(lines):
    """How many characters stand more than once in their line, over the poem."""
    return sum(len(body) - len(set(body)) for body in (line[:-1] for line in lines))


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
    parser.add_argument("--rhyme", action="store_true", help="ask for rhyming poems and check the rhyme")
    parser.add_argument("--beam", type=int, default=1, help="beam width passed to seqmodels (1: sampling)")
    parser.add_argument("--binary", default=os.path.join(REPO, ".build", "release", "seqmodels"))
    args = parser.parse_args()

    with open(os.path.join(args.model, "vocabulary.json"), encoding="utf-8") as f:
        vocabulary = json.load(f)
    characters = [t for t in vocabulary["tokens"] if t not in SPECIALS and is_cjk(t)]
    if len(characters) < 4:
        sys.exit(f"{args.model}: the vocabulary has {len(characters)} CJK characters; need at least 4")
    table = rhyme_table() if args.rhyme else None
    draw = random.Random(args.seed)
    valid, invalid, repeats, characters_written = 0, [], 0, 0
    for index in range(args.count):
        heads = "".join(draw.choice(characters) for _ in range(4))
        command = [args.binary, "generate", "acrostic", "--model", args.model, "--head", heads,
                   "--line-length", str(args.line_length), "--temperature", str(args.temperature),
                   "--seed", str(args.seed * 100003 + index), "--json"]
        if args.rhyme:
            command.append("--rhyme")
        if args.beam > 1:
            command += ["--beam", str(args.beam)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            invalid.append((heads, "", [f"exit {result.returncode}: {result.stderr.strip()}"]))
            continue
        poems = json.loads(result.stdout)
        found = [p for poem in poems for p in problems(poem, heads, args.line_length)] if poems else ["no poem"]
        if table is not None and not found:
            found = [p for poem in poems for p in rhyme_problems(poem["lines"], table)]
        for poem in poems:
            repeats += repeated_within_lines(poem["lines"])
            characters_written += sum(len(line) - 1 for line in poem["lines"])
        if found:
            invalid.append((heads, " / ".join(poem["poem"] for poem in poems), found))
        else:
            valid += 1
            if index < 3:
                print(f"{heads}: {poems[0]['poem']}")
    what = "valid and rhyming" if args.rhyme else "valid"
    print(f"{what}: {valid} of {args.count} (line length {args.line_length}, {len(characters)} CJK characters in the vocabulary)")
    print(f"characters repeated within their line: {repeats} of {characters_written} written")
    for heads, poem, found in invalid:
        print(f"INVALID {heads}: {poem}: {'; '.join(found)}")
    sys.exit(1 if invalid else 0)


if __name__ == "__main__":
    main()
