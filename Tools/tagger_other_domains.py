#!/usr/bin/env python3
"""How a UPOS tagger trained on EWT tags English of other domains: chat (NPS Chat: 10,567
posts of 2006 chat rooms, with misspellings, lower case, emoticons and user names) and fiction
(SMULTRON's English sample, a chapter of Sophie's World), both in ../shared/corpora and both
tagged with the Penn Treebank tag set.

Penn tags and UPOS tags are compared on the twelve tags of Petrov, Das and McDonald's universal
tag set (2012): Penn tags through their `en-ptb.map`, UPOS tags by merging PROPN into NOUN, AUX
into VERB, SCONJ into ADP, CCONJ as CONJ, PART as PRT, PUNCT as ".", INTJ and SYM into X. Three
conventions differ between the Penn and UD guidelines whatever the tagger does; they are taken
the UD way here: particles (RP: "give *up*") are ADP, existential "there" (EX), wh-determiners
(WDT) and "everyone", "something"… (NN in Penn) are PRON, "not" and "n't" (RB) are PRT; where
Penn's tag covers two UD tags, either counts as right: DT (a determiner, or a demonstrative
standing alone: "*that* is it", DET or PRON), TO ("to" as a preposition or an infinitive marker,
ADP or PRT), SYM (NPS Chat tags sentence punctuation SYM: "." or X). NPS Chat's nonstandard-word
marks are dropped (`^VB` → VB; for `^PRP^VBP`, "im", the first tag counts), and its System
posts ("JOIN", "PART", "NICK :user") are left out: they are the chat software's, not people's.
The EWT test set is scored the same way beside them.

    python3 Tools/tagger_other_domains.py --model runs/ewt [--seqmodels .build/release/seqmodels]
"""
import argparse
import glob
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET

from shared_corpora import shared_corpus

PENN = {
    "!": ".", "#": ".", "$": ".", "''": ".", "(": ".", ")": ".", ",": ".", "-LRB-": ".", "-RRB-": ".", ".": ".", ":": ".",
    "?": ".", "``": ".", "CC": "CONJ", "CD": "NUM", "DT": "DET", "EX": "PRON", "FW": "X", "IN": "ADP", "JJ": "ADJ",
    "JJR": "ADJ", "JJS": "ADJ", "LS": "X", "MD": "VERB", "NN": "NOUN", "NNP": "NOUN", "NNPS": "NOUN", "NNS": "NOUN",
    "PDT": "DET", "POS": "PRT", "PRP": "PRON", "PRP$": "PRON", "RB": "ADV", "RBR": "ADV", "RBS": "ADV", "RP": "ADP",
    "SYM": "X", "TO": "PRT", "UH": "X", "VB": "VERB", "VBD": "VERB", "VBG": "VERB", "VBN": "VERB", "VBP": "VERB",
    "VBZ": "VERB", "WDT": "PRON", "WP": "PRON", "WP$": "PRON", "WRB": "ADV",
    # NPS Chat's contracted forms of "is" and "has" (BES, HVS), and its GW (a word split in two)
    "BES": "VERB", "HVS": "VERB", "GW": "X",
}
UPOS = {"ADJ": "ADJ", "ADP": "ADP", "ADV": "ADV", "AUX": "VERB", "CCONJ": "CONJ", "DET": "DET", "INTJ": "X",
        "NOUN": "NOUN", "NUM": "NUM", "PART": "PRT", "PRON": "PRON", "PROPN": "NOUN", "PUNCT": ".", "SCONJ": "ADP",
        "SYM": "X", "VERB": "VERB", "X": "X"}


INDEFINITE_PRONOUNS = {"everyone", "anyone", "someone", "noone", "no-one", "everybody", "anybody", "somebody", "nobody",
                       "everything", "anything", "something", "nothing"}


def penn(word, tag):
    """The universal tags that count as right for a word with a Penn (or NPS Chat) tag, or None."""
    tag = tag.lstrip("^").split("^")[0]
    lower = word.lower()
    if tag == "RB" and lower in ("not", "n't"):
        return {"PRT"}
    if tag.startswith("NN") and lower in INDEFINITE_PRONOUNS:
        return {"PRON"}
    if tag == "DT":
        return {"DET", "PRON"}
    if tag == "TO":
        return {"ADP", "PRT"}
    if tag == "SYM":
        return {".", "X"}
    return {PENN[tag]} if tag in PENN else None


def upos(word, tag):
    return {UPOS[tag]} if tag in UPOS else None


# NPS Chat stands a date-like string for every user name ("10-19-20sUser7"), which no real chat
# has; a second line scores the chat without them (still read in context).
ANONYMISED_USER = re.compile(r"^\d\d-\d\d-\w*user\d+$", re.IGNORECASE)


def penn_without_user_names(word, tag):
    return None if ANONYMISED_USER.match(word) else penn(word, tag)


def nps_chat(folder):
    sentences = []
    for path in sorted(glob.glob(os.path.join(folder, "*.xml"))):
        for post in ET.parse(path).getroot().iter("Post"):
            if post.get("class") == "System":
                continue
            tokens = [(t.get("word", ""), t.get("pos", "")) for t in post.iter("t")]
            tokens = [(w, p) for w, p in tokens if w.strip()]
            if tokens:
                sentences.append(tokens)
    return sentences


def smultron(path):
    sentences = []
    for s in ET.parse(path).getroot().iter("s"):
        tokens = [(t.get("word", ""), t.get("pos", "")) for t in s.iter("t")]
        tokens = [(w, p) for w, p in tokens if w.strip() and not w.startswith("<") and p != "--"]
        if tokens:
            sentences.append(tokens)
    return sentences


def ewt(path):
    sentences = []
    for s in ET.parse(path).getroot().iter("s"):
        sentences.append([(w.text or "", w.get("pos")) for w in s.iter("w")])
    return [s for s in sentences if s]


def score(seqmodels, model, sentences, gold_map):
    lines = "\n".join(" ".join(w.replace(" ", "_") for w, _ in s) for s in sentences) + "\n"
    out = subprocess.run([seqmodels, "tag", "--model", model, "--pretokenized", "--output", "json", "--threads", "2"],
                         input=lines, capture_output=True, text=True, check=True).stdout.splitlines()
    counted = correct = skipped = 0
    for sentence, line in zip(sentences, out):
        predicted = json.loads(line)["tags"]
        for (word, gold), tag in zip(sentence, predicted):
            allowed = gold_map(word, gold)
            if allowed is None:
                skipped += 1
                continue
            counted += 1
            correct += UPOS[tag] in allowed
    return counted, correct, skipped


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="tagger model directory (UPOS, trained on EWT)")
    parser.add_argument("--seqmodels", default=os.path.join(root, ".build", "release", "seqmodels"))
    args = parser.parse_args()
    sets = [
        ("EWT test (web text, the training domain)", ewt(shared_corpus("pos", "en_ewt", "en_ewt-ud-test.xml")), upos),
        ("NPS Chat (chat rooms, 2006; no System posts)", nps_chat(shared_corpus("pos", "nps_chat")), penn),
        ("  the same, anonymised user names not scored", nps_chat(shared_corpus("pos", "nps_chat")), penn_without_user_names),
        ("SMULTRON English (fiction)", smultron(shared_corpus("pos", "smultron", "smultron_en_banana.xml")), penn),
    ]
    print(f"model {args.model}; accuracy on the twelve universal tags")
    for name, sentences, gold_map in sets:
        counted, correct, skipped = score(args.seqmodels, args.model, sentences, gold_map)
        print(f"  {name:42s} {len(sentences):6,d} sentences {counted:7,d} tokens  {100 * correct / counted:6.2f}%"
              + (f"  ({skipped} tokens not scored)" if skipped else ""))


if __name__ == "__main__":
    main()
