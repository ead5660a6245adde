#!/usr/bin/env python3
"""How a tagger trained on EWT holds up when the text is written differently: tags the EWT
test set (CoNLL-U, ../shared/corpora by default) as it is, all lower-case, and in title case
(every word capitalised, as in headlines), with `seqmodels tag eval`, and prints the token and
OOV accuracy of each. The gold tags stay those of the original sentences.

    python3 Tools/tagger_robustness.py --model runs/ewt [--seqmodels .build/release/seqmodels]
"""
import argparse
import json
import os
import subprocess
import tempfile


def variants(path):
    """The test file's lines, and the same with the FORM column lower-cased / title-cased."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")

    def mapped(transform):
        out = []
        for line in lines:
            columns = line.split("\t")
            if len(columns) == 10 and not line.startswith("#"):
                columns[1] = transform(columns[1])
            out.append("\t".join(columns))
        return "\n".join(out)

    return {"as written": "\n".join(lines), "lower case": mapped(str.lower),
            "title case": mapped(lambda w: w[:1].upper() + w[1:].lower())}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--test", default=os.path.join(here, "..", "..", "shared", "corpora", "pos", "en_ewt", "en_ewt-ud-test.conllu"))
    parser.add_argument("--seqmodels", default=os.path.join(here, "..", ".build", "release", "seqmodels"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"{'EWT test':14}{'accuracy':>10}{'OOV acc.':>10}{'OOV tokens':>12}")
    with tempfile.TemporaryDirectory() as folder:
        for name, text in variants(args.test).items():
            path = os.path.join(folder, name.replace(" ", "-") + ".conllu")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            report = json.loads(subprocess.run(
                [args.seqmodels, "tag", "eval", "--model", args.model, "--test", path, "--format", "conllu",
                 "--threads", str(args.threads), "--json"], check=True, capture_output=True, text=True).stdout)
            print(f"{name:14}{100 * report['accuracy']:>9.2f}%{100 * report['oov_accuracy']:>9.2f}%{report.get('oov_tokens', ''):>12}")


if __name__ == "__main__":
    main()
