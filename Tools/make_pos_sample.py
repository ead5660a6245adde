#!/usr/bin/env python3
"""Writes Corpora/pos/sample.xml and Corpora/pos/sample-dev.xml: a small English POS
corpus tagged with Universal POS tags, in the TEI-like layout of the EWT XML rendition
(<corpus><text id><s id><w pos="UPOS">word</w>…</s></text></corpus>).

The sentences come from a small grammar with word lists written for SeqModels (no text
is copied from any corpus). Ambiguous words (book, watch, run, that, to, like, back…)
get their tag from the template they appear in, so a tagger must use context; rarer
words and names are drawn so that the dev split holds words unseen in training.

Usage: python3 Tools/make_pos_sample.py [--train N] [--dev N] [--seed S]
"""
import argparse
import os
import random
from xml.sax.saxutils import escape

DET = ["the", "a", "this", "that", "every", "some", "no", "my", "your", "our", "their", "his", "her"]
DET_PL = ["the", "these", "those", "some", "many", "few", "my", "our", "their", "all"]
ADJ = ["old", "new", "small", "quiet", "bright", "cheap", "strange", "wooden", "green", "busy", "tired",
       "happy", "heavy", "early", "local", "famous", "careful", "empty", "warm", "broken", "rare", "honest",
       "clever", "narrow", "lucky", "modern", "rusty", "silent", "gentle", "muddy", "crowded", "friendly"]
NOUN = ["book", "cat", "teacher", "garden", "window", "letter", "train", "river", "market", "doctor", "table",
        "computer", "village", "song", "bottle", "question", "street", "bridge", "lamp", "report", "kitchen",
        "farmer", "ticket", "engine", "pencil", "island", "meeting", "camera", "bicycle", "student", "storm",
        "recipe", "ladder", "museum", "orchard", "lantern", "sailor", "tailor", "violin", "harbour", "basket"]
NOUN_PL = ["books", "cats", "teachers", "gardens", "windows", "letters", "trains", "apples", "doctors", "tables",
           "computers", "villages", "songs", "bottles", "questions", "streets", "bridges", "lamps", "reports",
           "farmers", "tickets", "pencils", "students", "storms", "recipes", "ladders", "sailors", "baskets",
           "children", "people", "mice", "oranges", "shoes", "keys", "stories", "cities", "boxes", "potatoes"]
PROPN = ["Anna", "Lisbon", "Tom", "Mrs.", "Patel", "Oslo", "Maria", "Kenji", "Berlin", "Amazon", "Nile", "Sofia",
         "Dublin", "Omar", "Chen", "Lagos", "Peru", "Monday", "Friday", "June", "Rex", "Lima", "Quito", "Ines",
         "Haruki", "Bram", "Zadie", "Tallinn", "Yusuf", "Greta", "Nairobi", "Elif", "Bogota", "Marek"]
PRON_SUBJ = ["I", "you", "we", "they", "he", "she", "it", "someone", "everyone", "nobody"]
PRON_OBJ = ["me", "you", "us", "them", "him", "her", "it", "something", "everything", "nothing"]
VERB_T_PAST = ["found", "bought", "painted", "opened", "closed", "carried", "fixed", "visited", "watched", "sold",
               "cleaned", "borrowed", "described", "ignored", "wrote", "read", "built", "moved", "liked", "booked",
               "followed", "repaired", "measured", "polished", "photographed", "emptied", "ordered", "lost"]
VERB_T_PRES = ["find", "buy", "paint", "open", "close", "carry", "fix", "visit", "watch", "sell", "clean", "borrow",
               "describe", "ignore", "write", "read", "build", "move", "like", "book", "follow", "repair", "need",
               "measure", "polish", "order", "love", "want", "check", "share"]
VERB_T_3SG = ["finds", "buys", "paints", "opens", "closes", "carries", "fixes", "visits", "watches", "sells",
              "cleans", "describes", "writes", "reads", "builds", "likes", "needs", "wants", "loves", "checks"]
VERB_T_ING = ["finding", "buying", "painting", "opening", "carrying", "fixing", "visiting", "watching", "selling",
              "cleaning", "writing", "reading", "building", "moving", "repairing", "checking", "sharing"]
VERB_I_PAST = ["slept", "arrived", "laughed", "left", "waited", "smiled", "ran", "fell", "stayed", "worked",
               "cried", "danced", "shouted", "returned", "disappeared", "agreed", "hesitated", "paused"]
VERB_I_PRES = ["sleep", "arrive", "laugh", "leave", "wait", "smile", "run", "fall", "stay", "work", "dance",
               "return", "agree", "rest", "swim", "travel"]
ADV = ["quickly", "slowly", "often", "never", "always", "today", "yesterday", "here", "there", "again", "soon",
       "carefully", "finally", "suddenly", "already", "still", "quietly", "rarely", "early", "late", "back"]
ADV_DEG = ["very", "quite", "rather", "too", "so", "really", "extremely"]
ADP = ["in", "on", "near", "under", "behind", "across", "from", "with", "without", "after", "before", "at", "by",
       "into", "over", "through", "beside", "around", "like"]
NUM = ["two", "three", "four", "five", "ten", "twelve", "forty", "100", "3", "7", "2019", "1,500", "twenty"]
CCONJ = ["and", "but", "or"]
SCONJ = ["because", "when", "although", "if", "while", "before", "after", "since", "until"]
INTJ = ["oh", "well", "yes", "no", "hey", "wow", "please"]
MODAL = ["can", "will", "should", "must", "might", "could", "would"]


def w(word, tag):
    return (word, tag)


def noun_phrase(r, plural=None, allow_pron=False, case="obj"):
    if plural is None:
        plural = r.random() < 0.35
    roll = r.random()
    if allow_pron and roll < 0.2:
        return [w(r.choice(PRON_OBJ if case == "obj" else PRON_SUBJ), "PRON")]
    if roll < 0.32:
        name = [w(r.choice(PROPN), "PROPN")]
        if name[0][0] == "Mrs.":
            name.append(w(r.choice(["Patel", "Chen", "Okafor", "Novak"]), "PROPN"))
        return name
    out = []
    if plural:
        if r.random() < 0.25:
            out.append(w(r.choice(NUM), "NUM"))
        elif r.random() < 0.8:
            out.append(w(r.choice(DET_PL), "DET"))
    else:
        out.append(w(r.choice(DET), "DET"))
    if r.random() < 0.45:
        if r.random() < 0.2:
            out.append(w(r.choice(ADV_DEG), "ADV"))
        out.append(w(r.choice(ADJ), "ADJ"))
    out.append(w(r.choice(NOUN_PL if plural else NOUN), "NOUN"))
    if r.random() < 0.15:
        out += [w(r.choice(ADP), "ADP")] + noun_phrase(r, allow_pron=False)
    return out


def subject(r):
    if r.random() < 0.3:
        p = r.choice(PRON_SUBJ)
        return [w(p, "PRON")], p in ("he", "she", "it", "someone", "everyone", "nobody")
    plural = r.random() < 0.35
    np = noun_phrase(r, plural=plural)
    return np, not plural


def verb_phrase(r, third_singular):
    kind = r.random()
    out = []
    if kind < 0.3:
        out.append(w(r.choice(VERB_T_PAST), "VERB"))
        out += noun_phrase(r, allow_pron=True)
    elif kind < 0.45:
        out.append(w(r.choice(VERB_I_PAST), "VERB"))
    elif kind < 0.6:
        if r.random() < 0.4:
            out.append(w(r.choice(["does", "did"] if third_singular else ["do", "did"]), "AUX"))
            out.append(w(r.choice(["not", "n't"]), "PART"))
            out.append(w(r.choice(VERB_T_PRES), "VERB"))
        else:
            out.append(w(r.choice(VERB_T_3SG) if third_singular else r.choice(VERB_T_PRES), "VERB"))
        out += noun_phrase(r, allow_pron=True)
    elif kind < 0.72:
        out.append(w(r.choice(MODAL), "AUX"))
        if r.random() < 0.3:
            out.append(w("not", "PART"))
        out.append(w(r.choice(VERB_T_PRES + VERB_I_PRES), "VERB"))
        if out[-1][0] in VERB_T_PRES:
            out += noun_phrase(r, allow_pron=True)
    elif kind < 0.84:
        out.append(w(r.choice(["is", "was"] if third_singular else ["are", "were"]), "AUX"))
        out.append(w(r.choice(VERB_T_ING), "VERB"))
        out += noun_phrase(r, allow_pron=True)
    else:
        out.append(w(r.choice(["is", "was", "seems"] if third_singular else ["are", "were", "seem"]),
                     "VERB" if r.random() < 0.0 else "AUX"))
        if out[-1][0] in ("seems", "seem"):
            out[-1] = (out[-1][0], "VERB")
        if r.random() < 0.3:
            out.append(w(r.choice(ADV_DEG), "ADV"))
        out.append(w(r.choice(ADJ), "ADJ"))
    if r.random() < 0.3:
        out += [w(r.choice(ADP), "ADP")] + noun_phrase(r)
    if r.random() < 0.25:
        out.append(w(r.choice(ADV), "ADV"))
    return out


def clause(r):
    subj, third = subject(r)
    return subj + verb_phrase(r, third)


def capitalise(tokens):
    word, tag = tokens[0]
    if tag != "PROPN" and word != "I":
        tokens[0] = (word[0].upper() + word[1:], tag)
    return tokens


def sentence(r):
    roll = r.random()
    if roll < 0.4:
        toks = clause(r)
    elif roll < 0.55:
        toks = clause(r) + [w(",", "PUNCT"), w(r.choice(CCONJ), "CCONJ")] + clause(r)
    elif roll < 0.68:
        toks = [w(r.choice(SCONJ), "SCONJ")] + clause(r) + [w(",", "PUNCT")] + clause(r)
    elif roll < 0.76:
        # Infinitive: "to" is PART before a verb, ADP before a noun phrase elsewhere.
        subj, third = subject(r)
        toks = subj + [w(r.choice(["wants", "tried", "needs", "hopes"] if third else ["want", "tried", "need", "hope"]), "VERB"),
                       w("to", "PART"), w(r.choice(VERB_T_PRES), "VERB")] + noun_phrase(r)
    elif roll < 0.84:
        # Question: AUX subject VERB object ?
        subj, third = subject(r)
        aux = r.choice(["Does", "Did"] if third else ["Do", "Did"])
        toks = [w(aux, "AUX")] + [(t if i or t[1] in ("PROPN",) or t[0] == "I" else (t[0].lower(), t[1]))
                                  for i, t in enumerate(subj)] + [w(r.choice(VERB_T_PRES), "VERB")] + noun_phrase(r, allow_pron=True)
        toks.append(w("?", "PUNCT"))
        return toks
    elif roll < 0.9:
        toks = [w(r.choice(INTJ), "INTJ"), w(",", "PUNCT")] + clause(r)
    elif roll < 0.95:
        # "That" as SCONJ / PRON / DET.
        subj, third = subject(r)
        verb = r.choice(["said", "knew", "thought", "noticed"])
        toks = subj + [w(verb, "VERB"), w("that", "SCONJ")] + clause(r)
    else:
        subj, third = subject(r)
        toks = subj + [w(r.choice(["went", "walked", "drove", "came"]), "VERB"), w("to", "ADP")] + noun_phrase(r)
        if r.random() < 0.5:
            toks += [w("with", "ADP")] + noun_phrase(r, allow_pron=True)
    toks = capitalise(toks)
    toks.append(w(r.choice([".", ".", ".", "!"]), "PUNCT"))
    return toks


def write(path, sentences, prefix):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<corpus source="Tools/make_pos_sample.py">',
             f'<text id="{prefix}">']
    for i, s in enumerate(sentences, 1):
        words = "".join(f'<w pos="{tag}">{escape(word)}</w>' for word, tag in s)
        lines.append(f'<s id="{prefix}-{i:04d}">{words}</s>')
    lines += ["</text>", "</corpus>", ""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--dev", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Corpora", "pos"))
    args = parser.parse_args()
    r = random.Random(args.seed)
    train = [sentence(r) for _ in range(args.train)]
    # Words that only the dev split uses, so that it measures tagging of unseen words.
    NOUN.extend(["kettle", "glacier", "saucepan", "lighthouse", "pharmacist"])
    NOUN_PL.extend(["kettles", "glaciers", "pharmacists", "walnuts"])
    ADJ.extend(["fragile", "dusty", "generous", "purple"])
    PROPN.extend(["Valparaiso", "Ingrid", "Kowalski", "Reykjavik"])
    VERB_T_PAST.extend(["examined", "wrapped", "delivered"])
    VERB_T_3SG.extend(["examines", "wraps"])
    dev = [sentence(r) for _ in range(args.dev)]
    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "sample.xml"), train, "sample-train")
    write(os.path.join(args.out, "sample-dev.xml"), dev, "sample-dev")
    seen = {word for s in train for word, _ in s}
    dev_tokens = [word for s in dev for word, _ in s]
    oov = sum(word not in seen for word in dev_tokens)
    print(f"train: {len(train)} sentences, {sum(map(len, train))} tokens; "
          f"dev: {len(dev)} sentences, {len(dev_tokens)} tokens, {oov} unseen in train")


if __name__ == "__main__":
    main()
