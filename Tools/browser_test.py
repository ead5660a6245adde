#!/usr/bin/env python3
"""Drives the web page of `seqmodels serve` in a real browser and checks what it renders.

Debian's chromium runs headless; this script speaks its DevTools protocol over a websocket
(PyPI `websocket-client`). For each panel it types into the page as a person would
(`Input.insertText` into the focused box, a mouse click on the button), waits for the answer
to be rendered, reads it back from the DOM and checks it against the model:

- tagging: one coloured tag under every token, each tag in the model's tag set;
- classification: one result per review, a bar per label, the bars' percentages adding up to
  100; then a CSV file chosen in the file input comes back as a "download labelled CSV" link
  whose content has every row with its predicted label;
- acrostic poems: one line per head character, each starting with it.

A screenshot of each panel goes to OUTDIR (tag.png, classify.png, acrostic.png, page.png).
Exits 1 on the first check that fails, with what the page showed.

    python3 Tools/browser_test.py --url http://127.0.0.1:8080/ --out OUTDIR

`Tools/browser_test.sh OUTDIR` trains small models from Corpora/, starts the server and runs
this script (what CI runs).
"""
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # PyPI websocket-client


class Browser:
    """A headless chromium and one page of it, driven through the DevTools protocol."""

    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="seqmodels-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--remote-debugging-port=0", "--window-size=1100,1400",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            line = self.process.stderr.readline()
            match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if match:
                port = int(match.group(1))
        if port is None:
            raise SystemExit("chromium did not start its DevTools server")
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise SystemExit(f"FAIL: timed out waiting for {what}")

    def type_into(self, element_id, text):
        """Focus the box, select what is in it, and type `text` over it."""
        self.evaluate(f"(() => {{ const e = document.getElementById({json.dumps(element_id)}); e.focus(); e.select(); }})()")
        self.call("Input.insertText", text=text)

    def click(self, element_id):
        box = self.evaluate(f"(() => {{ const r = document.getElementById({json.dumps(element_id)}).getBoundingClientRect();"
                            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def screenshot(self, element_id, path):
        if element_id is None:
            clip = None
        else:
            self.evaluate(f"document.getElementById({json.dumps(element_id)}).scrollIntoView()")
            clip = self.evaluate(f"(() => {{ const r = document.getElementById({json.dumps(element_id)}).getBoundingClientRect();"
                                 " return {x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height, scale: 1}; })()")
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = clip
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))

    def close(self):
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            self.process.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)


def check(condition, message):
    if not condition:
        raise SystemExit("FAIL: " + message)
    print("ok:", message)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the server's page, e.g. http://127.0.0.1:8080/")
    parser.add_argument("--out", required=True, help="folder for the screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cards = json.load(urllib.request.urlopen(args.url.rstrip("/") + "/v1/models"))["models"]
    by_task = {card["task"]: card for card in cards}

    browser = Browser(args.chromium)
    try:
        browser.call("Page.navigate", url=args.url)
        browser.wait_for("document.body && document.body.dataset.ready === 'true'", "the page to load its models")

        if "tagger" in by_task:
            sentence = "The keeper climbed the ninety steps of the old tower."
            browser.type_into("tag-input", sentence)
            browser.click("tag-submit")
            browser.wait_for("document.querySelectorAll('#tag-output .token').length > 0", "the tags")
            rendered = browser.evaluate("[...document.querySelectorAll('#tag-output .token')].map(t =>"
                                        " [t.querySelector('.word').textContent, t.querySelector('.tag').textContent,"
                                        "  getComputedStyle(t.querySelector('.tag')).backgroundColor])")
            words = [word for word, _, _ in rendered]
            check(words == ["The", "keeper", "climbed", "the", "ninety", "steps", "of", "the", "old", "tower", "."],
                  f"every token of the typed sentence is shown: {words}")
            tag_set = set(by_task["tagger"]["labels"])
            check(all(tag in tag_set for _, tag, _ in rendered), f"every tag is in the model's tag set: {[t for _, t, _ in rendered]}")
            colours = {tag: colour for _, tag, colour in rendered}
            check(len(set(colours.values())) == len(colours), f"each tag has its own colour: {colours}")
            print("  tagged:", " ".join(f"{w}/{t}" for w, t, _ in rendered))
            browser.screenshot("tag-panel", os.path.join(args.out, "tag.png"))

        if "classifier" in by_task:
            reviews = ["A warm, funny and beautifully acted film.", "Two hours of my life I will not get back."]
            browser.type_into("classify-input", "\n".join(reviews))
            browser.click("classify-submit")
            browser.wait_for(f"document.querySelectorAll('#classify-output .result').length === {len(reviews)}", "the classifications")
            results = browser.evaluate("[...document.querySelectorAll('#classify-output .result')].map(r =>"
                                       " [...r.querySelectorAll('.bar')].map(b => [b.children[0].textContent, parseFloat(b.children[2].textContent)]))")
            labels = set(by_task["classifier"]["labels"])
            for bars in results:
                check({label for label, _ in bars} == labels, f"a bar per label: {bars}")
                check(abs(sum(p for _, p in bars) - 100) < 0.3, f"the bars add up to 100%: {bars}")
            print("  classified:", results)
            with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
                f.write('id,text\n1,"A wonderful, moving film."\n2,Dull and far too long.\n3,"I loved it, every minute."\n')
                upload = f.name
            document = browser.call("DOM.getDocument")
            node = browser.call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#csv-file")["nodeId"]
            browser.call("DOM.setFileInputFiles", files=[upload], nodeId=node)
            browser.wait_for("!document.getElementById('csv-download').classList.contains('hidden')", "the labelled CSV link")
            labelled = browser.evaluate("fetch(document.getElementById('csv-download').href).then(r => r.text())")
            lines = [line for line in labelled.splitlines() if line]
            check(lines[0] == "id,text,predicted_label,probability", f"the labelled CSV has its header: {lines[0]}")
            check(len(lines) == 4 and all(line.split(",")[-2] in labels for line in lines[1:]),
                  f"every uploaded row comes back labelled: {lines}")
            os.unlink(upload)
            browser.screenshot("classify-panel", os.path.join(args.out, "classify.png"))

        if "generator" in by_task:
            head = "春花秋月"
            browser.type_into("acrostic-input", head)
            browser.click("acrostic-submit")
            browser.wait_for("document.querySelectorAll('#acrostic-output .poem').length > 0", "the poems")
            poems = browser.evaluate("[...document.querySelectorAll('#acrostic-output .poem')].map(p =>"
                                     " [...p.querySelectorAll(':scope > div:not(.score)')].map(l => l.textContent))")
            for lines in poems:
                check([line[:1] for line in lines] == list(head), f"each line starts with its head character: {lines}")
            print("  poems:", poems)
            browser.screenshot("acrostic-panel", os.path.join(args.out, "acrostic.png"))

        browser.screenshot(None, os.path.join(args.out, "page.png"))
        print(f"screenshots in {args.out}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
