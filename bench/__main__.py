"""``python -m bench`` runs every benchmark; ``python -m bench NAME [options]`` runs one.

Names: embed_throughput, freshness, search_latency, search_quality, storefront, rating_stats, api_load, load,
metrics_overhead, event_retention, tagged_events, exposure, why_not, batch, audience, training, hnsw_scale, scale
(``--help`` lists options);
``python -m bench --skip hnsw_scale --skip scale`` leaves out the long ones.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from types import ModuleType

from bench.common import django_setup, machine, write_result

BENCHMARKS = (
    "embed_throughput", "freshness", "search_latency", "search_quality", "storefront", "rating_stats", "api_load",
    "load", "metrics_overhead", "event_retention", "tagged_events", "exposure", "why_not", "batch", "audience",
    "training", "hnsw_scale", "scale",
)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--skip", action="append", default=[], choices=BENCHMARKS, help="leave out (repeatable)")
    sub = parser.add_subparsers(dest="name")
    for name in BENCHMARKS:
        module = _module(name)
        module.add_arguments(sub.add_parser(name, help=(module.__doc__ or "").split("\n")[0]))
    args = parser.parse_args(argv)
    names = [args.name] if args.name else [name for name in BENCHMARKS if name not in args.skip]

    # before settings load: any task this process queues goes to the benchmark's own queue
    os.environ.setdefault("CELERY_QUEUE", "bench-fresh")
    django_setup()
    print(f"machine: {machine()}", flush=True)
    lines: list[str] = []
    failed = 0
    for name in names:
        module = _module(name)
        options = args if args.name else parser.parse_args([name])
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        try:
            result = module.run(options)
        except Exception as exc:
            failed += 1
            lines.append(f"[{name}] FAILED: {exc!r}")
            print(f"{name} failed: {exc!r}", file=sys.stderr, flush=True)
            continue
        result["wall_s"] = round(time.perf_counter() - t0, 1)
        path = write_result(name, result)
        block = [f"[{name}] {line}" for line in module.summary(result)] + [f"[{name}] -> {path}"]
        lines += block
        print("\n".join(block), flush=True)
    print("\n=== summary ===")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
