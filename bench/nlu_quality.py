"""NLU quality and speed: intent macro-F1 per language on the held-out sets (never trained on),
the worst intents and what they are confused with, the issue-16 probes, training time, model load
time and parse latency. Before anything else it checks that no held-out example is an exact or
near duplicate of a training example.

    .venv/bin/python -m bench.nlu_quality [--train] [--model PATH] [--errors] [--overlap-only]

Macro-F1 is computed as `rasa test nlu` does (a prediction under the fallback threshold counts as
its top intent); "as answered" also counts a fallback as a miss, which is what the debtor sees.
"""

import argparse
import asyncio
import difflib
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from bot.testing.stack import ROOT

from .common import percentile

LANGUAGES = ("es", "en")
# Held-out sets per language, in the order they are reported; the first is the target.
HELD_OUT = {
    "issue16": "tests/nlu/issue16_{language}.yml",  # written for issue 16, about 470 a language
    "final16": "tests/nlu/final16_{language}.yml",  # 155 a language, scored once at the end
    "issue3": "tests/nlu/test_nlu_{language}.yml",  # the earlier set, 191 a language
}
PROBES = ROOT / "tests" / "nlu" / "probes.yml"
FALLBACK = "nlu_fallback"
# Near duplicates: character similarity of the normalised texts (difflib ratio), or the share of
# shared words for texts of three words or more.
NEAR_RATIO = 0.85
NEAR_WORDS = 0.75

_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def plain(example):
    """The text a debtor would type: "[Friday](date)" -> "Friday"."""
    return _MARKUP.sub(r"\1", example)


def normalise(text):
    """Lower case, no accents, punctuation or emoji, every number the same: what makes two
    messages the same message."""
    text = unicodedata.normalize("NFKD", plain(text).lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\d+", "0", text)
    text = re.sub(r"[^a-z0ñ ]+", " ", text)
    return " ".join(text.split())


def examples_in(path):
    """(intent, text) for every example in a Rasa NLU YAML file."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    pairs = []
    for block in data.get("nlu") or []:
        if "intent" not in block:
            continue
        for line in (block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                pairs.append((block["intent"], plain(line[2:]).strip()))
    return pairs


def training_examples():
    pairs = []
    for path in sorted((ROOT / "nlu_data").glob("*/*.yml")):
        pairs += [(intent, text, path.relative_to(ROOT)) for intent, text in examples_in(path)]
    return pairs


def held_out_files():
    files = []
    for name, pattern in HELD_OUT.items():
        for language in LANGUAGES:
            path = ROOT / pattern.format(language=language)
            if path.exists():
                files.append((name, language, path))
    return files


def load_probes():
    return yaml.safe_load(PROBES.read_text(encoding="utf-8"))["probes"] if PROBES.exists() else []


def _similar(a, b):
    if a == b:
        return True
    words_a, words_b = set(a.split()), set(b.split())
    if min(len(words_a), len(words_b)) >= 3:
        if len(words_a & words_b) / len(words_a | words_b) >= NEAR_WORDS:
            return True
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= NEAR_RATIO
        and matcher.quick_ratio() >= NEAR_RATIO
        and matcher.ratio() >= NEAR_RATIO
    )


def overlaps():
    """Every held-out or probe text that equals a training example (any intent), or nearly
    equals one of the same intent; the issue-3 set predates this check and is only reported."""
    training = [(intent, normalise(text), text, path) for intent, text, path in training_examples()]
    exact = defaultdict(list)
    for _intent, key, text, path in training:
        exact[key].append((text, path))
    tested = [
        (f"{name}/{language}", intent, text)
        for name, language, path in held_out_files()
        for intent, text in examples_in(path)
    ]
    tested += [("probes", probe["intent"], probe["text"]) for probe in load_probes()]
    found = []
    for label, intent, text in tested:
        key = normalise(text)
        if key in exact:
            found.append(("exact", label, text, exact[key][0]))
            continue
        for other_intent, other_key, other_text, path in training:
            if other_intent == intent and _similar(key, other_key):
                found.append(("near", label, text, (other_text, path)))
                break
    return len(tested), len(training), found


def print_overlaps():
    """Print the overlaps; return those that count (not the issue-3 set, not a probe marked
    as trained on purpose)."""
    tested, trained, found = overlaps()
    trained_probes = {p["text"] for p in load_probes() if p.get("trained")}
    counted = [f for f in found if not f[1].startswith("issue3/") and f[2] not in trained_probes]
    kinds = Counter(kind for kind, *_ in counted)
    print(
        f"overlap: {tested} held-out and probe texts against {trained} training examples "
        f"(normalised: case, accents, punctuation, every number alike): {kinds['exact']} exact "
        f"(any intent), {kinds['near']} near (same intent; difflib ratio >= {NEAR_RATIO} or word "
        f"Jaccard >= {NEAR_WORDS}); issue-3 set, reported only: "
        f"{sum(f[1].startswith('issue3/') for f in found)}"
    )
    for kind, label, text, (other, path) in found:
        if not label.startswith("issue3/") and text not in trained_probes:
            print(f"  {kind:5s} {label:12s} {text!r} ~ {other!r} ({path})")
    return counted


def train(out_dir, config):
    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"),
            "train",
            "--quiet",
            "--config",
            str(config),
            "--domain",
            "dialogue/domain.yml",
            "--data",
            "nlu_data",
            "dialogue/rules",
            "--out",
            str(out_dir),
            "--fixed-model-name",
            "bench",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        # A cache of its own, so the time is a training from scratch.
        env={**os.environ, "RASA_CACHE_DIRECTORY": str(Path(out_dir) / "cache")},
    )
    return time.perf_counter() - started, Path(out_dir) / "bench.tar.gz"


def top_intent(parsed):
    """The intent as `rasa test nlu` scores it: the best one even under the threshold."""
    for candidate in parsed.get("intent_ranking") or [parsed["intent"]]:
        if candidate["name"] != FALLBACK:
            return candidate["name"], candidate["confidence"]
    return parsed["intent"]["name"], parsed["intent"]["confidence"]


def parse_all(agent, texts):
    results, timings = [], []
    loop = asyncio.new_event_loop()
    try:
        for text in texts:
            started = time.perf_counter()
            parsed = loop.run_until_complete(agent.parse_message(text))
            timings.append((time.perf_counter() - started) * 1000)
            results.append(parsed)
    finally:
        loop.close()
    return results, timings


def macro_f1(gold, predicted):
    from sklearn.metrics import f1_score

    return f1_score(gold, predicted, average="macro", zero_division=0)


def print_quality(label, gold, parsed, known):
    from sklearn.metrics import precision_recall_fscore_support

    predicted = [top_intent(p)[0] for p in parsed]
    answered = [p["intent"]["name"] for p in parsed]
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    fallbacks = sum(name == FALLBACK for name in answered)
    print(
        f"[{label}] intent macro-F1 {macro_f1(gold, predicted):.3f} (as answered, a fallback "
        f"counted as a miss: {macro_f1(gold, answered):.3f}), accuracy {accuracy:.3f}, "
        f"{len(gold)} examples of {len(set(gold))} intents, {fallbacks} under the fallback "
        "threshold"
    )
    unknown = set(gold) - set(known)
    if unknown:  # an older model: also score it on the intents it was trained for
        pairs = [(g, p) for g, p in zip(gold, predicted, strict=True) if g not in unknown]
        print(
            f"  the model lacks {len(unknown)} of these intents; on the {len(pairs)} examples "
            f"of the others: macro-F1 {macro_f1(*zip(*pairs, strict=True)):.3f}"
        )
    labels = sorted(set(gold))
    _p, _r, f1, _s = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    missed = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    for name, score in sorted(zip(labels, f1, strict=True), key=lambda item: item[1])[:6]:
        if score >= 1:
            break
        as_ = [f"{p} x{n}" for (g, p), n in missed.most_common() if g == name]
        from_ = [f"{g} x{n}" for (g, p), n in missed.most_common() if p == name]
        print(
            f"  {name:22s} F1 {score:.2f}  missed as: {', '.join(as_) or '-'}; "
            f"taken for it: {', '.join(from_) or '-'}"
        )
    return predicted


def print_errors(label, gold, texts, parsed):
    for g, text, p in zip(gold, texts, parsed, strict=True):
        name, confidence = top_intent(p)
        if name != g:
            print(f"    {label} {g} -> {name} {confidence:.2f}  {text}")


def check_probes(agent):
    """The issue-16 failure classes: the expected intent, above a confidence where one is set,
    and never the intent named in `not`."""
    probes = load_probes()
    parsed, _ = parse_all(agent, [probe["text"] for probe in probes])
    failed = 0
    for probe, result in zip(probes, parsed, strict=True):
        name, confidence = result["intent"]["name"], result["intent"]["confidence"]
        ok = name == probe["intent"] and confidence >= probe.get("min_confidence", 0)
        ok = ok and name not in probe.get("not", [])
        failed += not ok
        print(
            f"  {'ok  ' if ok else 'FAIL'} {probe['text']!r}: {name} {confidence:.2f} "
            f"(expected {probe['intent']}"
            + (f" >= {probe['min_confidence']}" if "min_confidence" in probe else "")
            + (f", never {', '.join(probe['not'])}" if "not" in probe else "")
            + ")"
        )
    print(f"probes: {len(probes) - failed} of {len(probes)} pass")
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="also time a training from scratch")
    parser.add_argument("--model", help="model to evaluate (default: the newest in models/)")
    parser.add_argument("--config", default="dialogue/config.yml", help="pipeline to train")
    parser.add_argument("--errors", action="store_true", help="list every misclassified example")
    parser.add_argument(
        "--overlap-only", action="store_true", help="only check held-out against training data"
    )
    args = parser.parse_args()
    found = print_overlaps()
    if args.overlap_only:
        sys.exit(1 if found else 0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.train:
            seconds, model = train(Path(tmp) / "model", args.config)
            print(f"training (no cache): {seconds:.1f} s")
        else:
            models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
            model = Path(args.model) if args.model else models[-1]
        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level
        started = time.perf_counter()
        agent = Agent.load(str(model))
        load_seconds = time.perf_counter() - started
        timings = []
        for name, language, path in held_out_files():
            gold, texts = zip(*examples_in(path), strict=True)
            parsed, times = parse_all(agent, texts)
            timings += times
            print_quality(f"{name}/{language}", list(gold), parsed, agent.domain.intents)
            if args.errors:
                print_errors(f"{name}/{language}", gold, texts, parsed)
        failed = check_probes(agent)
        print(f"model load: {load_seconds:.1f} s (in a process with Rasa already imported)")
        print(
            f"parse latency: n={len(timings)} p50={percentile(timings, 50):.1f} ms "
            f"p95={percentile(timings, 95):.1f} ms mean={statistics.mean(timings):.1f} ms"
        )
    sys.exit(1 if failed or found else 0)


if __name__ == "__main__":
    main()
