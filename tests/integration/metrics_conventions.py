#!/usr/bin/python3
"""Checks metrics pages against Prometheus' naming conventions, with Prometheus' own text parser.

    metrics_conventions.py [--bridge FILE] [--node FILE] [--dashboard FILE]

Each FILE is a scrape (the text of a /metrics page). The pages are parsed with Debian's
python3-prometheus-client (prometheus_client.parser.text_string_to_metric_families) — a page it
cannot parse fails — and checked against https://prometheus.io/docs/practices/naming/:
every family has HELP and TYPE; names in base units (`_seconds`, `_bytes`; no `_ms`, `_kb`, ...);
`_total` on counters and only on counters; histograms of durations in seconds; the build info
gauge (earshot_build_info / earshot_node_build_info, value 1, a version label); the process
metrics; the labels the docs promise (reason, engine, node and room). --dashboard: every metric
name an `expr` of the Grafana dashboard uses exists in one of the scrapes.

Prints one line per problem; exits 1 if there is any, 0 otherwise.
"""
import argparse
import json
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NOT_BASE_UNITS = re.compile(
    r"_(ms|msec|milliseconds|us|microseconds|ns|nanoseconds|minutes|hours|days|"
    r"kb|mb|gb|kilobytes|megabytes|percent)(_|$)")
PROCESS = ["process_resident_memory_bytes", "process_cpu_seconds_total",
           "process_start_time_seconds", "process_open_fds"]


def check_page(label, text, problems):
    """Returns {sample name: [label dicts]} for the page; appends what is wrong to problems."""
    def bad(message):
        problems.append(f"{label}: {message}")

    # The parser adds `_total` to a counter's samples that lack it, so the TYPE lines are read too.
    declared = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)$", line)
        if m:
            declared[m.group(1)] = m.group(2)
    for name, kind in declared.items():
        if kind == "counter" and not name.endswith("_total"):
            bad(f"counter {name} does not end in _total")
        if kind != "counter" and name.endswith("_total"):
            bad(f"{kind} {name} ends in _total, which is for counters")

    samples = {}
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own words
        bad(f"the Prometheus parser refuses the page: {e}")
        return samples
    for f in families:
        if f.type == "unknown":
            bad(f"{f.name} has no TYPE line")
        if not f.documentation:
            bad(f"{f.name} has no HELP text")
        if not re.fullmatch(r"(earshot|process)_[a-z0-9_]+", f.name):
            bad(f"{f.name} is not named earshot_* or process_*")
        if NOT_BASE_UNITS.search(f.name):
            bad(f"{f.name} is not in base units (seconds, bytes)")
        if f.type == "histogram" and not f.name.endswith(("_seconds", "_bytes")):
            bad(f"histogram {f.name} has no unit suffix (_seconds or _bytes)")
        if re.search(r"(latency|lag|duration|time)", f.name) and not re.search(
                r"_seconds(_total)?$", f.name):
            bad(f"{f.name} measures time but is not in _seconds")
        if re.search(r"(memory|size)", f.name) and not f.name.endswith("_bytes"):
            bad(f"{f.name} measures memory but is not in _bytes")
        for s in f.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    for name in PROCESS:
        if name not in samples:
            bad(f"process metric {name} missing")
    return samples


def need_labels(label, samples, name, keys, problems, values=None):
    series = samples.get(name, [])
    if not series:
        problems.append(f"{label}: {name} missing")
        return
    for labels, _ in series:
        for key in keys:
            if not labels.get(key):
                problems.append(f"{label}: {name} without a {key} label: {labels}")
    if values:
        for key, wanted in values.items():
            have = {labels.get(key) for labels, _ in series}
            for v in wanted:
                if v not in have:
                    problems.append(f"{label}: {name} has no series with {key}=\"{v}\"")


def check_build_info(label, samples, name, problems):
    series = samples.get(name, [])
    if len(series) != 1 or series[0][1] != 1 or not series[0][0].get("version"):
        problems.append(f"{label}: {name} must be one series of value 1 with a version: {series}")


def dashboard_names(path):
    """Every metric name in the dashboard's exprs (PromQL: names are identifiers not followed by
    '(' and not label names, keywords or durations)."""
    with open(path) as f:
        board = json.load(f)
    exprs = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "expr" and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(board)
    keywords = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "le", "inf", "nan"}
    names = set()
    for e in exprs:
        stripped = re.sub(r"\{[^}]*\}", "", e)          # label matchers
        stripped = re.sub(r"\[[^\]]*\]", "", stripped)   # range selectors
        stripped = re.sub(r"\b(by|without)\s*\([^)]*\)", "", stripped)  # grouping labels
        stripped = re.sub(r'"[^"]*"', "", stripped)
        for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped):
            word = m.group(0)
            rest = stripped[m.end():].lstrip()
            if rest.startswith("(") or word.lower() in keywords:
                continue
            names.add(word)
    return exprs, names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bridge")
    parser.add_argument("--node")
    parser.add_argument("--dashboard")
    args = parser.parse_args()
    problems = []
    all_samples = {}
    if args.bridge:
        s = check_page("bridge", open(args.bridge).read(), problems)
        all_samples.update(s)
        check_build_info("bridge", s, "earshot_build_info", problems)
        need_labels("bridge", s, "earshot_errors_total", ["reason"], problems)
        need_labels("bridge", s, "earshot_engine_up", ["engine"], problems,
                    {"engine": ["stt", "llm", "tts"]})
        for name in ("earshot_client_connected", "earshot_client_frames_received_total"):
            need_labels("bridge", s, name, ["node", "room"], problems)
    if args.node:
        s = check_page("node", open(args.node).read(), problems)
        all_samples.update(s)
        check_build_info("node", s, "earshot_node_build_info", problems)
        need_labels("node", s, "earshot_node_build_info", ["node"], problems)
    if args.dashboard:
        exprs, names = dashboard_names(args.dashboard)
        if not exprs:
            problems.append("dashboard: no expr found")
        for name in sorted(names):
            if name not in all_samples:
                problems.append(f"dashboard: {name} is in no scrape")
        print(f"dashboard: {len(exprs)} exprs, metric names {sorted(names)}")
    for p in problems:
        print(p)
    print(f"{len(all_samples)} sample names checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
