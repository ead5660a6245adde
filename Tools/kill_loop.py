#!/usr/bin/env python3
"""Kills `seqmodels generate train` with SIGKILL again and again, then checks that nothing was lost.

A run of the default generator (2x256 LSTM) on the bundled poems, one record per line, trains
once without interruption (the reference), then again in another directory while this script
kills it: every other kill at a random moment, the others as soon as a save is under way (a
temporary file of an atomic write appears in the model directory or its resume/ folder).
After each kill the model directory, once it holds a model, must load and generate; the run
is then started again, with --resume once a resume state exists. After the last kill the run
resumes to its end, and its files must equal the reference's byte for byte.

    python3 Tools/kill_loop.py --seqmodels .build/release/seqmodels --out OUTDIR [--kills 60]

Tools/kill_loop.sh builds the release binary and calls this. Status 0 when every check held.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPARED = ["model.safetensors", "config.json", "vocabulary.json"]


def training_arguments(binary, model, epochs):
    return [binary, "generate", "train", "--text", os.path.join(ROOT, "Corpora/poems/poems.txt"),
            "--records", "lines", "--model", model, "--epochs", str(epochs),
            "--threads", "1", "--seed", "1", "--sample-length", "0"]


def temporary_files(model):
    found = []
    for folder in (model, os.path.join(model, "resume")):
        try:
            found += [name for name in os.listdir(folder) if ".tmp-" in name]
        except FileNotFoundError:
            pass
    return found


def loads(binary, model):
    result = subprocess.run([binary, "generate", "--model", model, "--length", "5", "--seed", "1"],
                            capture_output=True, text=True)
    return result.returncode == 0, result.stderr.strip()


def epochs_saved(model):
    try:
        with open(os.path.join(model, "metrics.jsonl")) as metrics:
            return sum(1 for _ in metrics)
    except FileNotFoundError:
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seqmodels", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill times")
    arguments = parser.parse_args()
    binary = os.path.abspath(arguments.seqmodels)
    out = os.path.abspath(arguments.out)
    os.makedirs(out, exist_ok=True)
    reference = os.path.join(out, "reference")
    killed = os.path.join(out, "killed")
    for folder in (reference, killed):
        shutil.rmtree(folder, ignore_errors=True)
    chooser = random.Random(arguments.seed)

    start = time.time()
    subprocess.run(training_arguments(binary, reference, arguments.epochs), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"reference: {arguments.epochs} epochs uninterrupted in {time.time() - start:.1f} s")

    failures = []
    kills = []          # (kind, seconds after start, epochs in metrics.jsonl, temporary files left)
    model_seen = False
    log = open(os.path.join(out, "runs.log"), "w")
    while len(kills) < arguments.kills:
        resuming = os.path.exists(os.path.join(killed, "resume", "state.json"))
        command = training_arguments(binary, killed, arguments.epochs) + (["--resume"] if resuming else [])
        process = subprocess.Popen(command, stdout=log, stderr=log)
        began = time.time()
        in_a_save = len(kills) % 2 == 1
        if in_a_save:
            # Strike while an atomic write has its temporary file open (or after 3 s).
            while time.time() - began < 3 and process.poll() is None and not temporary_files(killed):
                pass
        else:
            time.sleep(chooser.uniform(0.02, 0.6))
        if process.poll() is not None:
            failures.append(f"the run ended (status {process.returncode}) before kill {len(kills) + 1}: "
                            f"raise --epochs")
            break
        process.kill()
        process.wait()
        left = temporary_files(killed)
        kills.append(("in a save" if in_a_save else "random", time.time() - began, epochs_saved(killed), len(left)))
        if os.path.exists(os.path.join(killed, "config.json")):
            model_seen = True
            ok, error = loads(binary, killed)
            if not ok:
                failures.append(f"after kill {len(kills)} the model directory does not load: {error}")
        elif model_seen:
            failures.append(f"after kill {len(kills)} the model directory lost its config.json")

    resuming = os.path.exists(os.path.join(killed, "resume", "state.json"))
    final = subprocess.run(training_arguments(binary, killed, arguments.epochs) + (["--resume"] if resuming else []),
                           capture_output=True, text=True)
    if final.returncode != 0:
        failures.append(f"the last run failed: {final.stderr.strip()[-500:]}")
    for name in COMPARED:
        with open(os.path.join(reference, name), "rb") as a, open(os.path.join(killed, name), "rb") as b:
            if a.read() != b.read():
                failures.append(f"{name} differs from the uninterrupted run's")
    if temporary_files(killed):
        failures.append(f"temporary files left at the end: {temporary_files(killed)}")

    during_saves = sum(1 for kill in kills if kill[3] > 0)
    random_kills = [kill for kill in kills if kill[0] == "random"]
    print(f"kills: {len(kills)} ({len(random_kills)} at random moments, {len(kills) - len(random_kills)} aimed at saves); "
          f"{during_saves} left a temporary file (killed during a save)")
    print(f"epochs on disk at the kills: {[kill[2] for kill in kills]}")
    print(f"model directory loaded after every kill once it held a model: {'yes' if not any('load' in f for f in failures) else 'NO'}")
    identical = not any("differs" in f for f in failures)
    print(f"after --resume to the end: {', '.join(COMPARED)} "
          f"{'identical to' if identical else 'DIFFERENT from'} the uninterrupted run's, byte for byte")
    print(f"whole loop: {time.time() - start:.1f} s")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
