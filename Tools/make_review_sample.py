#!/usr/bin/env python3
"""Writes Corpora/reviews/{train,dev}.csv: short English reviews, labelled pos, neg or neutral.

The reviews are composed from our own phrase lists (no corpus is copied): a subject
(a film, a hotel, a phone, a restaurant, a novel), one to three opinion clauses of the
review's label, and sometimes a filler clause that says nothing either way. Negated
clauses ("not worth", "never boring") carry the opposite word, so that the order of words
matters and a bag of single words is not quite enough. The same seed writes the same files.

    python3 Tools/make_review_sample.py [--seed 7] [--train 360] [--dev 120] [--out Corpora/reviews]
"""
import argparse
import csv
import os
import random

SUBJECTS = {
    "film": ["the film", "this movie", "the sequel", "the documentary", "the cast", "the script", "the ending"],
    "hotel": ["the hotel", "our room", "the staff", "the breakfast", "the pool", "the location"],
    "phone": ["this phone", "the battery", "the camera", "the screen", "the charger", "the update"],
    "restaurant": ["the restaurant", "the soup", "our waiter", "the dessert", "the menu", "the noodles"],
    "novel": ["the novel", "this book", "the plot", "the main character", "the translation", "the last chapter"],
}

POSITIVE = [
    "{s} was wonderful", "{s} is a delight", "I loved {s}", "{s} was excellent from start to finish",
    "{s} exceeded every expectation", "{s} was warm and generous", "{s} was never boring",
    "{s} is worth every penny", "I would happily recommend {s}", "{s} made our week",
    "{s} felt fresh and clever", "{s} was beautifully done", "{s} did not disappoint",
    "{s} was a pleasant surprise", "honestly {s} was superb", "{s} left me smiling",
]
NEGATIVE = [
    "{s} was awful", "{s} is a mess", "I hated {s}", "{s} was dull from start to finish",
    "{s} fell far short of expectations", "{s} was cold and rude", "{s} was never interesting",
    "{s} is not worth the money", "I would not recommend {s}", "{s} ruined our week",
    "{s} felt stale and lazy", "{s} was badly done", "{s} was a big disappointment",
    "{s} was a nasty surprise", "honestly {s} was dreadful", "{s} left me angry",
]
NEUTRAL = [
    "{s} was fine, nothing more", "{s} is average", "{s} was okay I suppose", "{s} was neither good nor bad",
    "{s} did what it says", "{s} was about as expected", "{s} is ordinary", "{s} was acceptable",
    "{s} has good and bad sides", "I have mixed feelings about {s}", "{s} was so-so",
]
FILLER = [
    "we went on a tuesday", "I read reviews first", "my sister came along", "it rained all day",
    "we paid by card", "it was my second visit", "I bought it last month", "the price was as listed",
]
ENDINGS = {"pos": ["Five stars.", "Great!", "Would go again.", ""],
           "neg": ["One star.", "Avoid.", "Never again.", ""],
           "neutral": ["Three stars.", "Maybe.", "It depends.", ""]}
CLAUSES = {"pos": POSITIVE, "neg": NEGATIVE, "neutral": NEUTRAL}


def review(rng, label):
    topic = rng.choice(sorted(SUBJECTS))
    clauses = []
    for _ in range(rng.randint(1, 3)):
        clauses.append(rng.choice(CLAUSES[label]).format(s=rng.choice(SUBJECTS[topic])))
    if rng.random() < 0.4:
        clauses.insert(rng.randrange(len(clauses) + 1), rng.choice(FILLER))
    text = ", and ".join(clauses) if rng.random() < 0.5 else ". ".join(c[0].upper() + c[1:] for c in clauses)
    text = text[0].upper() + text[1:] + "."
    ending = rng.choice(ENDINGS[label])
    return (text + " " + ending).strip()


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "label"])
        for i, (text, label) in enumerate(rows, 1):
            writer.writerow([i, text, label])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train", type=int, default=360)
    parser.add_argument("--dev", type=int, default=120)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Corpora", "reviews"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # Labels in proportions 4 : 4 : 2, so class weights have something to do.
    labels = ["pos"] * 4 + ["neg"] * 4 + ["neutral"] * 2
    seen = set()

    def draw(n):
        rows = []
        while len(rows) < n:
            label = rng.choice(labels)
            text = review(rng, label)
            if text in seen:
                continue
            seen.add(text)
            rows.append((text, label))
        return rows

    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "train.csv"), draw(args.train))
    write(os.path.join(args.out, "dev.csv"), draw(args.dev))


if __name__ == "__main__":
    main()
