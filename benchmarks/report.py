"""The budgets of issue 14 judged on a run's figures, and the run written up: RESULTS.md, the
latency-against-size chart, a one-screen summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

NOTES_FILE = Path(__file__).with_name("NOTES.md")
"""Hand-written analysis (what bounds a missed budget, profiles), appended to RESULTS.md."""


def budgets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each budget: its figure, its limit, met or missed (None in a tiny run: not judged)."""
    one = results["by_workers"].get("1", {})
    two = results["by_workers"].get("2") or one
    echo1, echo2 = one.get("echo", {}), two.get("echo", {})
    judged = not results["tiny"]
    found: list[dict[str, Any]] = []

    def add(name: str, figure: float | None, limit: float, unit: str, detail: str) -> None:
        met = None if figure is None or not judged else figure <= limit
        found.append(
            {
                "budget": name,
                "figure": None if figure is None else round(figure, 2),
                "limit": limit,
                "unit": unit,
                "detail": detail,
                "met": met,
            }
        )

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    base, echo_base = one.get("base", {}), echo1.get("base", {})
    add(
        "patient-view, 59 resources, sequential, 1 worker: p50 / echo p50",
        ratio(base.get("p50_ms"), echo_base.get("p50_ms")),
        2.0,
        "x",
        f"{base.get('p50_ms')} ms vs {echo_base.get('p50_ms')} ms",
    )
    large, echo_large = one.get("large", {}), echo1.get("large", {})
    add(
        f"{results['large']} resources sent whole: p50 / echo p50",
        ratio(large.get("p50_ms"), echo_large.get("p50_ms")),
        1.0,
        "x",
        f"{large.get('p50_ms')} ms vs {echo_large.get('p50_ms')} ms",
    )
    linear = _linearity(one.get("curve", {}))
    echo_linear = _linearity(echo1.get("curve", {}))
    # The echo's own ratio tells growth the service adds from growth JSON itself brings.
    echo_said = "" if echo_linear is None else f"; the echo's own: {echo_linear:.2f} x"
    add(
        "cost grows linearly: largest record's ms per resource / mid-size record's",
        linear,
        1.25,
        "x",
        f"ratio of (p50 - p50 of the smallest) per added resource{echo_said}",
    )
    c16, e16 = two.get("concurrent_16", {}), echo2.get("concurrent_16", {})
    add(
        "16 connections, 2 workers: echo throughput / service throughput",
        ratio(e16.get("throughput_rps"), c16.get("throughput_rps")),
        2.0,
        "x",
        f"{c16.get('throughput_rps')} vs {e16.get('throughput_rps')} requests/s "
        "(throughput >= 50 % of the echo's)",
    )
    add(
        "16 connections, 2 workers: p99 / p50",
        ratio(c16.get("p99_ms"), c16.get("p50_ms")),
        5.0,
        "x",
        f"p50 {c16.get('p50_ms')} ms, p99 {c16.get('p99_ms')} ms",
    )
    fallback = one.get("fallback", {})
    instant, slow = fallback.get("instant", {}), fallback.get("slow_50ms", {})
    add("fallback, FHIR server answering at once: p50", instant.get("p50_ms"), 10.0, "ms", "")
    add("fallback, 50 ms added per query: p50", slow.get("p50_ms"), 75.0, "ms", "")
    add(
        "fallback: slowest call (never past the deadline)",
        max(instant.get("max_ms", 0), slow.get("max_ms", 0)) or None,
        float(fallback.get("deadline_ms", 400)),
        "ms",
        "",
    )
    start = one.get("start_up", {})
    add(
        "first call after start-up / warm call",
        ratio(start.get("first_ms"), start.get("warm_p50_ms")),
        3.0,
        "x",
        f"{start.get('first_ms')} ms vs {start.get('warm_p50_ms')} ms",
    )
    return found


def _linearity(curve: dict[str, Any]) -> float | None:
    """Marginal cost per resource at the largest size over that at the middle size."""
    points = sorted((int(size), run["p50_ms"]) for size, run in curve.items())
    if len(points) < 3:
        return None
    (s0, t0), (sm, tm), (sl, tl) = points[0], points[len(points) // 2], points[-1]
    middle, last = (tm - t0) / (sm - s0), (tl - t0) / (sl - s0)
    return last / middle if middle > 0 else None


def chart(results: dict[str, Any], path: Path) -> Path | None:
    """p50 against record size, service and echo; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    one = results["by_workers"].get("1", {})
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, curve in (
        ("service (cds-service serve, 1 worker)", one.get("curve", {})),
        ("echo floor (Starlette + stdlib json)", one.get("echo", {}).get("curve", {})),
    ):
        sizes = sorted(int(size) for size in curve)
        axes.plot(sizes, [curve[str(s)]["p50_ms"] for s in sizes], marker="o", label=label)
    bodies = results["bodies"]
    sizes = sorted(int(size) for size in one.get("curve", {}))
    axes.set_xscale("log")  # sizes span two orders of magnitude
    axes.set_xticks(sizes)
    axes.minorticks_off()
    axes.set_xticklabels(
        [f"{s}\n{bodies[f'whole-{s}']['bytes'] / 1e6:.2f} MB" for s in sizes], fontsize=7
    )
    axes.set_xlabel("resources in the record (sent whole, labs and recentLabs overlapping)")
    axes.set_yscale("log")
    axes.set_ylabel("p50 latency, ms (sequential, log scale)")
    axes.set_title("Hook call latency against record size")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def _row(run: dict[str, Any] | None) -> str:
    if not run:
        return "| | | | | |"
    return (
        f"| {run['p50_ms']:.2f} | {run['p99_ms']:.2f} | {run['max_ms']:.2f} "
        f"| {run['throughput_rps']:.0f} | {run['requests']} ({run['errors']} errors) |"
    )


def markdown(results: dict[str, Any], chart_path: Path | None) -> str:
    machine = results["machine"]
    bodies = results["bodies"]
    one = results["by_workers"].get("1", {})
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand, edit "
        "`benchmarks/NOTES.md` (appended below) instead. Raw figures: `results.json`.",
        "",
        f"- date: {results['date']}"
        + (" (tiny smoke run: no budget judged)" if results["tiny"] else ""),
        f"- machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, "
        f"{machine['system']}",
        f"- load average (1, 5, 15 min) before: {results['load_average_before']}, after: "
        f"{results['load_average_after']}; wall time {results['wall_seconds']} s",
        f"- load generator: {results['load_generator']}; servers on 127.0.0.1, keep-alive "
        "connections; `cds-service serve --dev` and `uvicorn benchmarks.echo:app`",
        "",
        "## Budgets (issue 14)",
        "",
        "| budget | figure | limit | | detail |",
        "|---|---|---|---|---|",
    ]
    for budget in results["budgets"]:
        met = {True: "**met**", False: "**missed**", None: "not judged"}[budget["met"]]
        figure = "n/a" if budget["figure"] is None else f"{budget['figure']} {budget['unit']}"
        lines.append(
            f"| {budget['budget']} | {figure} | {budget['limit']} {budget['unit']} | {met} "
            f"| {budget['detail']} |"
        )
    lines += [
        "",
        "## Latencies (ms) and throughput",
        "",
        "| measurement | bodies | p50 | p99 | max | requests/s | requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for workers, found in results["by_workers"].items():
        echo = found.get("echo", {})
        base = bodies["base"]
        label = f"{base['bytes'] / 1000:.0f} KB, {base['prefetch_entries']} entries"
        for name, run in (
            (f"service, {workers} worker(s), 1 connection, 59 resources", found.get("base")),
            (f"echo, {workers} worker(s), 1 connection, 59 resources", echo.get("base")),
            (f"service, {workers} worker(s), 16 connections", found.get("concurrent_16")),
            (f"echo, {workers} worker(s), 16 connections", echo.get("concurrent_16")),
        ):
            if run:
                lines.append(f"| {name} | {label} " + _row(run))
        if found.get("curve"):
            for size, run in found["curve"].items():
                body = bodies[f"whole-{size}"]
                label = f"{body['bytes'] / 1e6:.2f} MB, {body['prefetch_entries']} entries"
                lines.append(f"| service, {size} resources sent whole | {label} " + _row(run))
                lines.append(
                    f"| echo, {size} resources sent whole | {label} "
                    + _row(echo.get("curve", {}).get(size))
                )
    fallback = one.get("fallback", {})
    for name, key in (("fallback, instant FHIR", "instant"), ("fallback, +50 ms", "slow_50ms")):
        if fallback.get(key):
            lines.append(f"| {name} (1 worker, 1 connection) | no prefetch " + _row(fallback[key]))
    lines += ["", "## Start-up, memory, FHIR connections, event loop", ""]
    for workers, found in results["by_workers"].items():
        start = found.get("start_up", {})
        keep = found.get("keepalive_16", {})
        lines.append(
            f"- {workers} worker(s): first hook call {start.get('first_ms')} ms, warm "
            f"{start.get('warm_p50_ms')} ms; RSS per worker {found.get('rss_mib')} MiB (echo "
            f"{found.get('echo', {}).get('rss_mib')} MiB); fallback at 16 callers: "
            f"{keep.get('fhir_requests')} FHIR requests opened {keep.get('tcp_connections')} new "
            f"TCP connections (share of requests on a reused connection: "
            f"{keep.get('connections_reused_share')}), "
            f"{keep.get('run', {}).get('throughput_rps')} calls/s; fallback cards equal the "
            f"prefetch's: {found.get('cards_equal_fallback')}"
        )
    beside = one.get("healthz_beside_large")
    if beside:
        lines.append(
            f"- `/healthz` alone p50 {beside['alone']['p50_ms']:.2f} ms, p99 "
            f"{beside['alone']['p99_ms']:.2f} ms; while 2 callers post the "
            f"{results['large']}-resource record: p50 {beside['beside_large'].get('p50_ms', 0):.2f}"
            f" ms, p99 {beside['beside_large'].get('p99_ms', 0):.2f} ms, max "
            f"{beside['beside_large'].get('max_ms', 0):.2f} ms"
        )
    if chart_path is not None:
        lines += ["", f"![p50 latency against record size]({chart_path.name})"]
    if NOTES_FILE.exists():
        lines += ["", NOTES_FILE.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def summary(results: dict[str, Any]) -> str:
    rows = []
    for budget in results["budgets"]:
        met = {True: "met", False: "MISSED", None: "-"}[budget["met"]]
        rows.append(
            f"{met:7} {budget['figure']!s:>8} {budget['unit']:2} <= {budget['limit']:<6} "
            f"{budget['budget']}"
        )
    return "\n".join(rows)
