"""NLU quality and speed: intent macro-F1 per language on the held-out test files (never trained
on), the worst intents and what they are confused with, training time, model load time and
parse latency.

    .venv/bin/python -m bench.nlu_quality [--train]
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.testing.stack import ROOT

from .common import percentile

LANGUAGES = ("es", "en")
_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]+\)")


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


def evaluate(model, language, out_dir):
    test_file = ROOT / "tests" / "nlu" / f"test_nlu_{language}.yml"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"),
            "test",
            "nlu",
            "--model",
            str(model),
            "--nlu",
            str(test_file),
            "--out",
            str(out_dir),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    report = json.loads((Path(out_dir) / "intent_report.json").read_text())
    errors_path = Path(out_dir) / "intent_errors.json"
    errors = json.loads(errors_path.read_text()) if errors_path.exists() else []
    return report, errors


def print_quality(language, report, errors):
    intents = {
        name: values
        for name, values in report.items()
        if isinstance(values, dict) and name not in ("macro avg", "weighted avg", "micro avg")
    }
    print(
        f"[{language}] intent macro-F1 {report['macro avg']['f1-score']:.3f}, "
        f"accuracy {report['accuracy']:.3f}, {sum(v['support'] for v in intents.values())} "
        "held-out examples"
    )
    confusions = Counter(
        (e["intent"], e["intent_prediction"]["name"]) for e in errors if e.get("intent_prediction")
    )
    for name, values in sorted(intents.items(), key=lambda item: item[1]["f1-score"])[:5]:
        mixed = [f"{pred} x{n}" for (gold, pred), n in confusions.most_common() if gold == name]
        print(f"  {name:22s} F1 {values['f1-score']:.2f}  missed as: {', '.join(mixed) or '-'}")


def load_and_parse(model):
    from rasa.core.agent import Agent

    started = time.perf_counter()
    agent = Agent.load(str(model))
    load_seconds = time.perf_counter() - started
    texts = []
    for language in LANGUAGES:
        import yaml

        data = yaml.safe_load((ROOT / "tests" / "nlu" / f"test_nlu_{language}.yml").read_text())
        for block in data["nlu"]:
            texts += [
                _MARKUP.sub(r"\1", line[2:])  # "[Friday](date)" -> "Friday"
                for line in block["examples"].splitlines()
                if line.startswith("- ")
            ]
    timings = []
    for text in texts:
        started = time.perf_counter()
        asyncio.run(agent.parse_message(text))
        timings.append((time.perf_counter() - started) * 1000)
    return load_seconds, timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="also time a training from scratch")
    parser.add_argument("--model", help="model to evaluate (default: the newest in models/)")
    parser.add_argument("--config", default="dialogue/config.yml", help="pipeline to train")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.train:
            seconds, model = train(Path(tmp) / "model", args.config)
            print(f"training (no cache): {seconds:.1f} s")
        else:
            models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
            model = Path(args.model) if args.model else models[-1]
        for language in LANGUAGES:
            report, errors = evaluate(model, language, Path(tmp) / language)
            print_quality(language, report, errors)
        load_seconds, timings = load_and_parse(model)
        print(f"model load: {load_seconds:.1f} s (in a process with Rasa already imported)")
        print(
            f"parse latency: n={len(timings)} p50={percentile(timings, 50):.1f} ms "
            f"p95={percentile(timings, 95):.1f} ms mean={statistics.mean(timings):.1f} ms"
        )


if __name__ == "__main__":
    main()
