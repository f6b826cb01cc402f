"""Render bench/RESULTS.md (or RESULTS-quick.md) from bench/results/<mode>/*.json."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench import common

ANALYSIS = common.BENCH / "analysis.md"


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _mean(values) -> float:
    values = list(values)
    return statistics.fmean(values) if values else float("nan")


def _web_settings(settings: dict) -> str:
    if settings.get("web_worker_class", "gthread") == "gthread":
        return f"gthread, {settings['web_concurrency']} processes x {settings['web_threads']} threads"
    return (f"{settings['web_worker_class']}, {settings['web_concurrency']} processes, "
            f"up to {settings['web_connections']} connections each")


def _ingest(lines: list[str], summary: list, data: dict, sqlite: bool) -> None:
    settings = data["settings"]
    title = "SQLite, `medic run`" if sqlite else "PostgreSQL, `medic serve` and the baseline"
    lines += [f"### Ingest: {title}", ""]
    lines.append(
        f"{settings['services']} registered services, wrk posting heartbeats spread over them, "
        f"{settings['seconds']} s per run, {settings['runs']} runs (targets interleaved run by run), "
        + (_web_settings(settings) + ". " if "web_concurrency" in settings
           else f"one process, {settings['web_threads']} threads. ")
        + "Stored/s is rows counted in the database before and after each run, divided by wrk's duration. "
        "CPU per stored heartbeat: CPU time of the server's processes (and, on PostgreSQL, of the database "
        "backends serving them) over the run, divided by rows stored; unlike requests/s it does not move "
        "with other load on the machine."
    )
    lines += ["", "| target | connections | run | requests/s | stored/s | p50 ms | p99 ms | errors | every 2xx stored | CPU ms per stored heartbeat |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    targets = [t for t in ("medic", "baseline", "baseline-sync") if t in data]
    for target in targets:
        for connections, runs in data[target].items():
            for i, r in enumerate(runs, 1):
                lines.append(
                    f"| {target} | {connections} | {i} | {_fmt(r['rps'])} | {_fmt(r['stored_per_s'])} | "
                    f"{_ms(r['p50_us'])} | {_ms(r['p99_us'])} | {r['errors']} | "
                    f"{'yes' if r['all_answers_stored'] else 'NO'} (+{r['unanswered_stored']} in flight) | "
                    + ", ".join(f"{k} {v:.2f}" for k, v in r.get("cpu_ms_per_stored", {}).items()) + " |"
                )
    lines.append("")
    if sqlite:
        # `medic run`, the one-command default: at least 1,500 stored/s at every concurrency,
        # in every run (the spread is the point), and p99 < 50 ms at 64.
        for connections, runs in data["medic"].items():
            stored = [r["stored_per_s"] for r in runs]
            p99s = [r["p99_us"] / 1000 for r in runs]
            ok = min(stored) >= 1500 and (connections != "64" or max(p99s) < 50)
            summary.append((
                f"SQLite ingest at {connections} connections >= 1,500 stored/s" + (", p99 < 50 ms" if connections == "64" else ""),
                f"{_fmt(min(stored))}-{_fmt(max(stored))} stored/s over {len(runs)} runs, p99 "
                f"{', '.join(_ms(r['p99_us']) for r in runs)} ms",
                _verdict(ok),
            ))
        return
    lines += ["Ratio Medic / baseline, heartbeats stored per second (run i of Medic against run i of the baseline):", ""]
    for connections in data["medic"]:
        pairs = list(zip(data["medic"][connections], data["baseline"][connections]))
        ratios = [m["stored_per_s"] / b["stored_per_s"] for m, b in pairs]
        lines.append(f"- {connections} connections: " + ", ".join(f"{r:.2f}x" for r in ratios)
                     + f" (mean {_mean(ratios):.2f}x)")
        summary.append((
            f"Ingest PostgreSQL >= 2x baseline stored/s, {connections} connections",
            f"{_fmt(_mean(m['stored_per_s'] for m, _ in pairs))} vs {_fmt(_mean(b['stored_per_s'] for _, b in pairs))}"
            f"/s: {_mean(ratios):.2f}x",
            _verdict(min(ratios) >= 2),
        ))
    if "baseline-sync" in data:
        lines.append("")
        lines.append("For reference, against the baseline under the issue's own setting (`baseline-sync`: 4 sync workers), "
                     "not used for the target: " + "; ".join(
                         f"{c} connections " + ", ".join(f"{m['stored_per_s'] / b['stored_per_s']:.2f}x"
                                                         for m, b in zip(data["medic"][c], data["baseline-sync"][c]))
                         for c in data["medic"]))
    p99s = [r["p99_us"] / 1000 for r in data["medic"].get("64", [])]
    if p99s:
        summary.append(("Ingest p99 < 50 ms at 64 connections", ", ".join(f"{p:.1f}" for p in p99s) + " ms",
                        _verdict(max(p99s) < 50)))
    medic_runs = [r for runs in data["medic"].values() for r in runs]
    errors = sum(r["errors"] for r in medic_runs)
    stored = all(r["all_answers_stored"] for r in medic_runs)
    summary.append(("Ingest: no errors, every 201 stored", f"{errors} errors; every 2xx stored: {'yes' if stored else 'NO'}",
                    _verdict(errors == 0 and stored)))
    lines.append("")


def _layouts(lines: list[str], data: dict) -> None:
    lines += ["### gunicorn layouts: Medic and the baseline", ""]
    lines.append(
        "The ingest measurement (same databases, wrk load and counting) for Medic and the baseline under several "
        "gunicorn worker classes and process counts (bench/layouts.py): what chose `medic serve`'s defaults, and "
        f"the baseline's own best layout. {data['seconds']} s per run, {data['runs']} runs, interleaved."
    )
    lines += ["", "| server, layout | connections | run | stored/s | p50 ms | p99 ms | errors | CPU ms per stored heartbeat |",
              "|---|---|---|---|---|---|---|---|"]
    for name, by_conn in data["layouts"].items():
        for connections, runs in by_conn.items():
            for i, r in enumerate(runs, 1):
                lines.append(
                    f"| {name} | {connections} | {i} | {_fmt(r['stored_per_s'])} | {_ms(r['p50_us'])} | {_ms(r['p99_us'])} | "
                    f"{r['errors']} | " + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_stored"].items()) + " |"
                )
    lines.append("")
    medic = [n for n in data["layouts"] if n.startswith("medic")]
    baseline = [n for n in data["layouts"] if n.startswith("baseline")]
    for connections in next(iter(data["layouts"].values())):
        def mean(name):
            return _mean(r["stored_per_s"] for r in data["layouts"][name][connections])
        best_medic, best_base = max(medic, key=mean), max(baseline, key=mean)
        lines.append(f"- {connections} connections: best Medic layout `{best_medic}` {_fmt(mean(best_medic))}/s, "
                     f"best baseline layout `{best_base}` {_fmt(mean(best_base))}/s: "
                     f"{mean(best_medic) / mean(best_base):.2f}x")
    lines.append("")


def _ceilings(lines: list[str], data: dict) -> None:
    lines += ["### Ceilings: what the web stack costs before any storage", ""]
    lines.append(
        f"The same gunicorn settings ({_web_settings(data['settings']) if 'settings' in data else 'as ingest'}) "
        "and wrk load as the ingest runs, serving less and less "
        "(bench/ceilings.py): a raw WSGI app, a minimal Flask JSON POST with no database, and Medic's own app "
        "with the store replaced by an in-memory stub (validation, auth and rate-limit hooks, access log, "
        f"metrics and reply envelope all real). {data['seconds']} s per run."
    )
    lines += ["", "| app | connections | run | requests/s | p99 ms | CPU ms per request (server) |", "|---|---|---|---|---|---|"]
    for name, by_conn in data["apps"].items():
        for connections, runs in by_conn.items():
            for i, r in enumerate(runs, 1):
                lines.append(f"| {name} | {connections} | {i} | {_fmt(r['rps'])} | {_ms(r['p99_us'])} | "
                             f"{r['cpu_ms_per_request']:.2f} |")
    lines.append("")


def _profile(lines: list[str], data: dict) -> None:
    lines += ["### Profile: where a web process's CPU goes while storing heartbeats", ""]
    lines.append(
        f"py-spy on one `medic serve` worker process, GIL-holding samples only (CPU spent in Python), "
        f"{data['seconds']} s under wrk at {data['connections']} connections (`python -m bench.profile --gil`, "
        "grouped by `bench/profile_groups.py`: each sample goes to its innermost frame that belongs to a group)."
    )
    lines += ["", "| share of samples | where |", "|---|---|"]
    lines += [f"| {share:.1f}% | {name} |" for name, share in data["groups"]]
    lines.append("")


def _cycle(lines: list[str], summary: list, data: dict, backend: str) -> None:
    lines += [f"### Worker cycle: {backend}", ""]
    lines.append(
        "Services seeded in bulk, all healthy (steady state: nothing to transition), history rows "
        "spread evenly over the days. *First* is the first `Worker.run_once()` in a fresh process "
        "(connects, cold statement cache); *warm* is the second, what a running `medic worker` pays "
        "every WORKER_INTERVAL_SECONDS. `medic worker --once` is that command's wall time, "
        "interpreter start and imports included."
    )
    lines += ["", "| services | history | history rows | heartbeats/service/day | run | first s | warm s | `medic worker --once` s | peak RSS MiB |",
              "|---|---|---|---|---|---|---|---|---|"]
    for size in data["sizes"]:
        for point in size["points"]:
            for i, run in enumerate(point["runs"], 1):
                lines.append(
                    f"| {_fmt(size['services'])} | {point['days']} d | {_fmt(point['history_rows'])} | "
                    f"{size['history_per_service_per_day']} | {i} | {run['cycles'][0]['seconds']:.3f} | "
                    f"{run['cycles'][-1]['seconds']:.3f} | {run['medic_worker_once_wall_seconds']:.2f} | "
                    f"{run['max_rss_kib'] / 1024:.0f} |"
                )
    lines.append("")
    limits = {"postgresql": {100_000: 1.0, 1_000_000: 10.0}, "sqlite": {100_000: 3.0}}[backend]
    for size in data["sizes"]:
        worst = {p["days"]: max(max(c["seconds"] for c in r["cycles"]) for r in p["runs"]) for p in size["points"]}
        warm = {p["days"]: _mean(r["cycles"][-1]["seconds"] for r in p["runs"]) for p in size["points"]}
        limit = limits.get(size["services"])
        if limit is not None:
            summary.append((
                f"Worker cycle {backend}, {_fmt(size['services'])} services < {limit:g} s",
                f"warm {warm[1]:.3f} s (1 d) / {warm[30]:.3f} s (30 d); slowest first cycle {max(worst.values()):.3f} s",
                _verdict(max(worst.values()) < limit),
            ))
        if backend == "postgresql":
            ratio = warm[30] / warm[1]
            summary.append((
                f"Worker cycle {backend}, {_fmt(size['services'])} services: 30 d within 1.5x of 1 d",
                f"{ratio:.2f}x (warm cycles)",
                _verdict(ratio <= 1.5),
            ))


def _outage(lines: list[str], summary: list, data: dict) -> None:
    routes = data.get("routes", 0)
    lines += ["### Mass outage" + (f" with {routes} routes of two targets each" if routes else ""), ""]
    lines.append(
        f"{_fmt(data['silent'])} of {_fmt(data['total_services'])} services silent at once (deadline one second "
        "past), PagerDuty and Slack configured to local stand-ins (tests/fakes: real HTTP servers on 127.0.0.1 "
        "that accept everything). *Down* is one evaluation, from its start to the commit of every service marked "
        "down with its alert and its two outbox rows. Delivery: until the outbox is empty."
        + (f" The services are split over {routes} teams, each routed to a PagerDuty key and a Slack channel of "
           "its own, so every outbox row is a route target's." if routes else "")
    )
    lines += ["", "| run | down + alerts + outbox s | alerts opened | outbox rows | duplicate alerts | delivered | delivery s | worker peak RSS MiB |",
              "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(data["runs"], 1):
        c = r["counts"]
        delivered = (f"{c['notifications_delivered']} (stand-ins received {sum(r['received'].values())}, "
                     f"{r['distinct_pagerduty_dedup_keys']} distinct dedup keys)") if "deliver_seconds" in r else "not run"
        lines.append(
            f"| {i} | {r['evaluate']['seconds']:.2f} | {r['evaluate']['opened']} | {c['notifications']} | "
            f"{c['duplicate_alerts']} | {delivered} | "
            + (f"{r['deliver_seconds']:.1f}" if "deliver_seconds" in r else "-")
            + f" | {r['max_rss_kib'] / 1024:.0f} |"
        )
    lines.append("")
    secs = [r["evaluate"]["seconds"] for r in data["runs"]]
    complete = all(r["counts"]["services_down"] == data["silent"] and r["counts"]["active_alerts"] == data["silent"]
                   and r["counts"]["notifications"] == 2 * data["silent"] for r in data["runs"])
    summary.append((f"Mass outage{f' ({routes} routes)' if routes else ''}: {_fmt(data['silent'])} down with alerts and outbox rows < 2 s",
                    ", ".join(f"{s:.2f}" for s in secs) + f" s; complete: {'yes' if complete else 'NO'}",
                    _verdict(max(secs) < 2 and complete)))


def _recovery(lines: list[str], summary: list, data: dict) -> None:
    lines += ["### Recovery after a provider outage", ""]
    first = data["runs"][0]
    lines.append(
        f"{first['services']} services already overdue; a real `medic worker` opens their alerts while the "
        f"PagerDuty stand-in answers 500 for {first['outage_seconds']:.0f} s, so every trigger is in backoff. "
        "Then the stand-in accepts again: the figure is the time from that moment to the last trigger accepted."
    )
    lines += ["", "| run | failed attempts during the outage | delivered | accepted requests | distinct dedup keys | s to last delivery |",
              "|---|---|---|---|---|---|"]
    for i, r in enumerate(data["runs"], 1):
        lines.append(f"| {i} | {r['failed_attempts_during_outage']} | {r['delivered']} | {r['accepted_requests']} | "
                     f"{r['distinct_dedup_keys']} | {r['seconds_to_last_delivery']:.1f} |")
    lines.append("")
    worst = max(r["seconds_to_last_delivery"] for r in data["runs"])
    once = all(r["accepted_requests"] == r["distinct_dedup_keys"] == r["services"] for r in data["runs"])
    summary.append((f"Recovery: a backlog of {first['services']} delivered < 10 s after the provider is back, each once",
                    f"{worst:.1f} s; each once: {'yes' if once else 'NO'}", _verdict(worst < 10 and once)))


def _failover(lines: list[str], summary: list, data: dict) -> None:
    lines += ["### Failover: Medic on a three-node Patroni cluster", ""]
    lines.append(
        f"`make cluster-test` (bench/failover.py): {data['cluster']}; `medic serve` with the multi-host URL and a "
        f"read URL; {data['clients']} client threads posting heartbeats. *Without a 201*: the longest time in which "
        "no heartbeat was stored. *Lost*: heartbeats answered 201 without their row on the new primary. "
        "*Stored without a 201*: commits whose reply was lost (the client's retry stores them again). See "
        "docs/clustering.md."
    )
    lines += ["", "| fault | s without a 201 | replies | lost | stored without a 201 | notes |", "|---|---|---|---|---|---|"]
    for r in data["runs"]:
        kind = r["scenario"]
        if kind in ("crash", "switchover", "partition"):
            notes = f"{r['old_leader']} -> {r['new_leader']}"
            if kind == "partition":
                notes += (f"; old primary demoted after {r['seconds_to_old_primary_demoted']} s; rows left on it "
                          f"that the new one lacks: {r['unacknowledged_rows_left_on_old_primary']}")
            statuses = ", ".join(f"{n} x {s}" for s, n in sorted(r["statuses"].items()))
            lines.append(f"| {kind} | {r['seconds_without_a_201']:.1f} | {statuses} | {r['lost']} | "
                         f"{r['stored_without_201']} | {notes} |")
        elif kind == "replica":
            reads = ", ".join(f"{n} x {s}" for s, n in sorted(r["reads"].items()))
            writes = ", ".join(f"{n} x {s}" for s, n in sorted(r["writes_after_standby_crash"].items()))
            lines.append(
                f"| replica on {r['reading_from']}: replay stopped, then crashed | "
                f"{r['seconds_without_a_201_after_standby_crash']:.1f} (after the crash) | writes after the crash: "
                f"{writes}; reads: {reads} | - | - | reads moved to the primary {r['seconds_to_fall_back_when_lagging']} s "
                f"after its replay stopped; a write made then read back: {r['read_of_a_write_made_while_lagging']}; "
                f"replica used again {r['seconds_to_use_it_again']} s after resuming |")
        elif kind == "workers":
            lines.append(
                f"| primary crash under two workers, {r['incidents']} incidents | - | PagerDuty: "
                f"{r['pagerduty_triggers_distinct']} triggers, {r['pagerduty_resolves_distinct']} resolves, "
                f"{r['pagerduty_repeated_sends']} repeated; Slack: {r['slack_posts']} posts, "
                f"{r['slack_repeated_posts']} repeated | {r['incidents'] - min(r['pagerduty_triggers_distinct'], r['pagerduty_resolves_distinct'])} | - | "
                f"{r['alerts_opened']} alerts for {r['services_with_an_alert']} services; last trigger "
                f"{r['seconds_from_crash_to_last_trigger']} s after the crash |")
        elif kind == "no_standby":
            held = ", ".join(f"{n} x {s}" for s, n in sorted(r["statuses_with_no_standby"].items())) or "no reply (requests waited)"
            lines.append(
                f"| both standbys crashed | {r['held_seconds']:g} held + "
                f"{r['seconds_from_standby_start_to_first_201']} after one was back | with no standby: {held} "
                f"({r['acknowledged_with_no_standby']} acknowledged) | {r['lost']} | - | strict synchronous mode: "
                f"writes wait for a standby; first 201 {r['seconds_from_standby_start_to_first_201']} s after "
                f"`cluster.sh start` of one returned |")
    lines.append("")
    lost = sum(r.get("lost", 0) for r in data["runs"])
    summary.append(("Failover: no acknowledged heartbeat lost, every incident paged once",
                    f"lost {lost}; " + ", ".join(f"{r['scenario']} {r['seconds_without_a_201']:.1f} s"
                                                  for r in data["runs"] if "seconds_without_a_201" in r),
                    _verdict(lost == 0)))


def _cleanup(lines: list[str], summary: list, data: dict) -> None:
    lines += ["### Cleanup during ingest", ""]
    lines.append(
        f"{data['services']} services with {data['per_day']} heartbeats each per day over 60 days; `medic cleanup` "
        f"deletes the 30 days past retention while wrk posts heartbeats at {data['connections']} connections. "
        "Before: one 15 s wrk run. During: consecutive wrk windows for as long as the cleanup process lives."
    )
    lines += ["", "| run | rows deleted | cleanup s | p99 before ms | p99 during ms (each window) | req/s before | req/s during | errors |",
              "|---|---|---|---|---|---|---|---|"]
    ratios = []
    for i, r in enumerate(data["runs"], 1):
        ratios.append(r["p99_during_worst_ms"] / r["p99_before_ms"])
        lines.append(
            f"| {i} | {r['cleanup_output']} | {r['cleanup_seconds']:.1f} | {r['p99_before_ms']:.1f} | "
            f"{', '.join(f'{p:.1f}' for p in r['p99_during_windows_ms'])} | {_fmt(r['rps_before'])} | "
            f"{', '.join(_fmt(x) for x in r['rps_during'])} | {r['errors']} |"
        )
    lines.append("")
    summary.append(("Cleanup never more than doubles ingest p99",
                    ", ".join(f"{x:.2f}x" for x in ratios) + " (worst window / before)",
                    _verdict(max(ratios) <= 2)))


def _memory(lines: list[str], summary: list, data: dict, outage: dict | None) -> None:
    lines += ["### Memory at 100,000 services", ""]
    lines.append(
        "Peak RSS (VmHWM) of each gunicorn worker process after 15 s of heartbeats spread over all 100,000 "
        "services, then after the heavy reads (each four times): GET /metrics, /alerts, /heartbeat?maxCount=10000 "
        "and /service at its largest page (before commit c27066e paged it, the whole list: 46 MB and 309 MiB). "
        "Worker: two steady-state cycles in a fresh process."
    )
    lines += ["", "| run | web after heartbeats MiB | web after reads MiB | largest GET /service reply | worker MiB |", "|---|---|---|---|---|"]
    for i, r in enumerate(data["runs"], 1):
        listing = max((path for path in r["reads"] if path.startswith("/service")), key=lambda p: r["reads"][p]["bytes"])
        lines.append(
            f"| {i} | {r['web_peak_rss_mib_after_heartbeats']:.0f} | {r['web_peak_rss_mib_after_reads']:.0f} | "
            f"`{listing}`: {r['reads'][listing]['bytes'] / 1e6:.1f} MB | {r['worker_peak_rss_mib']:.0f} |"
        )
    lines.append("")
    heartbeats = max(r["web_peak_rss_mib_after_heartbeats"] for r in data["runs"])
    reads = max(r["web_peak_rss_mib_after_reads"] for r in data["runs"])
    summary.append(("Web worker process < 256 MiB at 100k services",
                    f"{heartbeats:.0f} MiB serving heartbeats; {reads:.0f} MiB after the heavy reads",
                    _verdict(reads < 256) if reads >= 256 else _verdict(True)))
    worker = max(r["worker_peak_rss_mib"] for r in data["runs"])
    outage_rss = max((r["max_rss_kib"] / 1024 for r in outage["runs"]), default=0) if outage else 0
    summary.append(("Worker < 384 MiB at 100k services",
                    f"{worker:.0f} MiB steady; {outage_rss:.0f} MiB through the 10k-service outage and its delivery",
                    _verdict(max(worker, outage_rss) < 384)))


def _soak(lines: list[str], summary: list, data: dict) -> None:
    plan, hb, dup, re_ = data["plan"], data["heartbeats"], data["duplicates"], data["resends_after_crash"]
    settings = data["settings"]
    lines += ["### Soak: a bounded bad day", ""]
    lines.append(
        f"`{data['command']}` (bench/soak.py, {plan['seconds'] / 60:g} minutes; the outbox was empty and every "
        f"service up {data['drain_seconds']:.0f} s after the end): {settings['web']}, two `medic worker` processes "
        f"(evaluation every {settings['worker_interval_seconds']} s, send timeout {settings['notify_timeout_seconds']} s, "
        f"lease {settings['lease_seconds']} s) on a PostgreSQL cluster of the soak's own. {_fmt(plan['services'])} services "
        f"(alert_interval {settings['alert_interval_minutes']} min, threshold {settings['threshold']}), heartbeats at "
        f"{plan['rate']:g}/s spread evenly over them; every {settings['wave_every']:g} s another 1% of the services "
        f"goes silent for {settings['silent_for']:g} s ({len(plan['waves'])} waves), so each is paged and resolved. "
        "PagerDuty and Slack stand-ins (tests/fakes, real HTTP servers on 127.0.0.1) fail in bursts: "
        + ", ".join(f"{ch} {mode} at {a:.0f}-{b:.0f} s" for a, b, ch, mode in plan["bursts"] if mode != "slow")
        + f", and answer in {settings['slow_seconds']:g} s for 20 s around each kill. One worker is killed with "
        f"SIGKILL at {', '.join(f'{k:.0f}' for k in plan['kills'])} s and restarted 5 s later; PostgreSQL is stopped "
        f"(fast) at {data['pg_restart'].get('at', 0):.0f} s and started again "
        f"{data['pg_restart'].get('seconds', 0):.0f} s later. Each worker process sends under its own URL prefix, "
        "so every delivery the stand-ins accept names its sender; a second delivery is in a crash window only "
        "when the killed process sent a copy and the row was still claimed right after the kill."
    )
    statuses = ", ".join(f"{k}: {_fmt(v)}" for k, v in sorted(hb["statuses"].items()))
    errors = ", ".join(f"{k}: {v}" for k, v in hb["errors"].items()) or "none"
    rss_s, rss_e = data["rss_start"], data["rss_end"]

    def mib(v):
        return "-" if v is None else f"{v / 1024:.0f}"

    web_s = " / ".join(mib(v) for v in rss_s["web_workers_kib"])
    web_e = " / ".join(mib(v) for v in rss_e["web_workers_kib"])
    lines += [
        "", "| measured | |", "|---|---|",
        f"| heartbeats answered 201 | {_fmt(hb['answered_201'])} (replies {statuses}; client errors {errors}; "
        f"{_fmt(hb.get('sent_per_s', 0))} requests/s on average) |",
        f"| heartbeats stored | {_fmt(hb['stored'])} |",
        f"| heartbeats lost (answered 201, not stored) | {hb['lost']} |",
        f"| alerts opened / resolved | {_fmt(data['alerts']['opened'])} / {_fmt(data['alerts']['resolved'])} |",
        f"| notifications | {_fmt(data['notifications']['rows'])} ({', '.join(f'{k} {v}' for k, v in data['notifications']['states'].items())}); "
        f"never reached a stand-in: {data['notifications']['never_reached_stand_in']} |",
        f"| deliveries accepted by the stand-ins | {_fmt(data['deliveries']['accepted'])} "
        f"({', '.join(f'{k} {v}' for k, v in data['deliveries']['by_channel'].items())}); refused in bursts: "
        f"{', '.join(f'{k} {v}' for k, v in data['deliveries']['refused_in_bursts'].items())} |",
        f"| extra copies in a crash window | {dup['extra_copies_in_crash_window']} |",
        f"| extra copies outside a crash window | {dup['extra_copies_outside_crash_window']} |",
        "| kills (claimed rows right after each) | "
        + ", ".join(f"{k['tag']} at {k['at_s']:.0f} s ({k['claimed_at_kill']})" for k in data["kills"]) + " |",
        f"| re-sends after a lost claim | {re_['reclaims_metric']:.0f} (medic_notification_reclaims_total, summed over the "
        f"processes), {re_['reclaims_logged']} logged; Slack re-sends avoided (found in history) "
        f"{re_['resends_avoided_metric']:.0f} |",
        f"| outcome records lost to the database restart | {re_['record_db_errors_logged']} logged; claims lost by live workers: "
        f"{re_['claim_lost_logged']} |",
        f"| RSS web processes, start -> end (MiB) | {web_s} -> {web_e} (master {mib(rss_s['web_master_kib'])} -> "
        f"{mib(rss_e['web_master_kib'])}) |",
        f"| RSS worker a (never killed), start -> end (MiB) | {mib(rss_s.get('worker_a_kib'))} -> {mib(rss_e.get('worker_a_kib'))} |",
        f"| RSS worker b, start -> end (MiB) | {mib(rss_s.get('worker_b_kib'))} ({rss_s.get('worker_b_tag')}) -> "
        f"{mib(rss_e.get('worker_b_kib'))} ({rss_e.get('worker_b_tag')}, restarted at the last kill) |",
        "",
    ]
    if dup["outside"]:
        lines += ["Extra copies outside a crash window (notification id: sender and time of each copy, s from start):", ""]
        t0 = data.get("t0", 0)
        for d in dup["outside"][:10]:
            lines.append(f"- {d['notification_id']}: " + ", ".join(f"{tag} {at - t0:.0f}" for tag, at in d["copies"]))
        lines.append("")
    summary.append(("Soak: no heartbeat lost", f"{hb['lost']} lost of {_fmt(hb['answered_201'])} answered 201",
                    _verdict(hb["lost"] == 0)))
    summary.append(("Soak: no page duplicated outside a crash window",
                    f"{dup['extra_copies_outside_crash_window']} outside, {dup['extra_copies_in_crash_window']} in crash windows "
                    f"({re_['reclaims_metric']:.0f} re-sends after a lost claim)",
                    _verdict(dup["extra_copies_outside_crash_window"] == 0)))


def _commands(lines: list[str], mode: str, ingest: dict | None) -> None:
    lines += ["## Reproduce", "", "```sh"]
    lines += ["make bench        # everything, about 22 minutes; writes bench/RESULTS.md",
              "make bench-quick  # about 2 minutes on small data; writes bench/RESULTS-quick.md",
              ".venv/bin/python -m bench --only ingest cycle   # some parts; the others keep their last results",
              ".venv/bin/python -m bench.profile --gil          # py-spy profile of one web process under load",
              "make soak         # the 20-minute soak (bench/soak.py); writes bench/results/soak.json and this file",
              "make soak-quick   # a 4-minute soak on 1,000 services; writes bench/results/soak-quick.json only"]
    lines += ["```", "", "What each part runs (all servers on 127.0.0.1, PostgreSQL databases `medic_bench*`):", ""]
    medic_env = ("MEDIC_DATABASE_URL=postgresql://postgres@127.0.0.1/medic_bench "
                 f"WEB_WORKER_CLASS={common.WEB_WORKER_CLASS} WEB_CONCURRENCY={common.WEB_CONCURRENCY} "
                 f"WEB_CONNECTIONS={common.WEB_CONNECTIONS} WEB_THREADS={common.WEB_THREADS} "
                 "LOG_FORMAT=json LOG_LEVEL=INFO MEDIC_AUTH=disabled MEDIC_ANONYMOUS_HEARTBEATS=true "
                 "MEDIC_RATE_LIMIT_ENABLED=false")
    wrk_cmd = ingest["medic"]["16"][0]["command"] if ingest else "wrk -t2 -cN -d15s --timeout 10s -s bench/heartbeat.lua"
    lines += [
        f"- ingest, Medic: `{medic_env} medic serve`, then `BENCH_SERVICES=1000 {wrk_cmd.replace('-c16', '-c16|64')} http://127.0.0.1:PORT`",
        "- ingest, baseline: `BASELINE_DATABASE_URL=postgresql://postgres@127.0.0.1/medic_bench_baseline "
        + (ingest["settings"]["baseline_argv"] if ingest else "gunicorn ... bench.baseline:app") + "`"
        + (f" (reference: `{ingest['settings']['baseline_sync_argv']}`)" if ingest and "baseline_sync_argv" in ingest["settings"] else ""),
        "- layouts: the same, with `WEB_WORKER_CLASS`/`WEB_CONCURRENCY` for Medic and gunicorn's `--worker-class`/`--workers` for the baseline (bench/layouts.py); "
        "Medic under gunicorn's own gevent worker (its HTTP parser): `gunicorn --worker-class gevent --workers 2 'bench.ceiling:medic_app()'`",
        "- ingest, SQLite: `MEDIC_DATABASE_URL=sqlite:////tmp/.../medic.db medic run` (waitress, 16 threads, worker thread), same wrk",
        "- worker cycle: `python -m bench.cycle --cycles 2` and `medic worker --once` against the seeded database (bench/seed.py)",
        "- mass outage: `python -m bench.cycle --cycles 0 --evaluate-first --deliver` with PAGERDUTY_*/SLACK_* pointing at the stand-ins",
        "- recovery: `python -m bench.recovery --outage 120`: `medic worker` (WORKER_INTERVAL_SECONDS=1) with PAGERDUTY_* pointing at a stand-in that answers 500, then 202",
        "- cleanup: `medic cleanup` while wrk runs against `medic serve`",
        "",
    ]


def _regions(lines: list[str], summary: list, data: dict) -> None:
    lines += ["### Two regions: a delayed link, workers in both, region A lost", ""]
    lat, workers, lost = data["latency"], data["workers"], data["region_a_lost"]
    lines.append(
        f"`python -m bench.regions` (bench/regions.py): nodes 1 and 2 in region A, node 3 in region B, "
        f"{data['delay_ms_each_way']:g} ms each way between them (a {data['round_trip_ms']:g} ms round trip); node 2 "
        f"tagged nosync so the synchronous standby is {', '.join(data['synchronous_standby']) or 'none'} across the link; "
        f"a `medic serve` per region, {data['clients_per_region']} client threads on each. See docs/clustering.md."
    )
    lines += ["", "| measure | region A | region B |", "|---|---|---|"]
    a, b = lat["region_a_client"], lat["region_b_client"]
    lines.append(f"| heartbeat p50 / p99 (ms) | {a['p50_ms']} / {a['p99_ms']} | {b['p50_ms']} / {b['p99_ms']} |")
    lines.append(f"| heartbeats stored per second | {a['per_second']} | {b['per_second']} |")
    lines.append(f"| worker mean cycle (ms) | {workers['mean_cycle_ms_region_a']} | {workers['mean_cycle_ms_region_b']} |")
    lines += ["", f"Two workers, one per region, {workers['incidents']} incidents: {workers['alerts_opened']} alerts, "
              f"{workers['pagerduty_triggers_distinct']} PagerDuty triggers, {workers['pagerduty_repeated_sends']} repeated. "
              f"Region A lost ({lost['old_leader']} and node 2 killed, region A's web stopped): {lost['new_leader']} "
              f"promoted after {lost['seconds_to_node3_promoted']} s but, alone in strict synchronous mode, it acknowledged "
              f"{lost['region_b_201s_before_relax']} heartbeats in the {lost['held_seconds']:g} s before an operator ran "
              f"`cluster.sh relax` (replies meanwhile: "
              + ", ".join(f"{n} x {s}" for s, n in sorted(lost["region_b_statuses_before_relax"].items()))
              + f"); first 201 {lost['seconds_from_relax_to_first_201']} s after the relax; "
              f"{lost['answered_201']} heartbeats answered 201, {lost['stored_rows']} stored, lost {lost['lost']}.", ""]
    summary.append(("Two regions: region A lost, no acknowledged heartbeat lost, each incident paged once",
                    f"lost {lost['lost']}; {lost['region_b_201s_before_relax']} acknowledged on one node; "
                    f"{workers['pagerduty_repeated_sends']} repeated pages",
                    _verdict(lost["lost"] == 0 and lost["region_b_201s_before_relax"] == 0 and workers["pagerduty_repeated_sends"] == 0
                             and workers["pagerduty_triggers_distinct"] == workers["incidents"])))


def _cron_share(lines: list[str], summary: list, data: dict) -> None:
    lines += ["### Ingest with cron services", ""]
    lines.append(
        f"`python -m bench.cron_share` (bench/cron_share.py): `medic serve` on two PostgreSQL databases of 1,000 "
        f"services, one all interval, one with {data['share']:.0%} on cron schedules in five zones; wrk at "
        f"{data['connections']} connections, {data['seconds']} s per run, runs interleaved. CPU: web processes and "
        "their PostgreSQL backends, per stored heartbeat."
    )
    lines += ["", "| run | interval: stored/s, p99 | cron share: stored/s, p99 | stored ratio | CPU ms/heartbeat (interval / cron) | errors (interval / cron) |",
              "|---|---|---|---|---|---|"]
    errors = 0
    for n, (i, c) in enumerate(zip(data["runs"]["interval"], data["runs"]["cron"]), 1):
        errors += i["errors"] + c["errors"]
        lines.append(f"| {n} | {i['stored_per_s']:.0f}, {i['p99_us'] / 1000:.1f} ms | {c['stored_per_s']:.0f}, "
                     f"{c['p99_us'] / 1000:.1f} ms | {data['stored_ratio_per_run'][n - 1]:.2f} | "
                     f"{data['cpu_ms_per_stored']['interval'][n - 1]:.3f} / {data['cpu_ms_per_stored']['cron'][n - 1]:.3f} | "
                     f"{i['errors']} / {c['errors']} |")
    lines.append("")
    summary.append((f"Cron services ({data['share']:.0%} of the fleet) do not dent ingest",
                    f"CPU per heartbeat x{data['cpu_ratio_median']:.2f} (median of runs); {errors} errors",
                    _verdict(data["cpu_ratio_median"] < 1.25 and errors == 0)))


def _production(lines: list[str], summary: list, data: dict) -> None:
    lines += ["### Ingest as in production: API keys, no keep-alive, idle connections", ""]
    lines.append(
        f"`python -m bench.production` (bench/production.py): `medic serve` on PostgreSQL, 1,000 services, wrk at "
        f"{data['connections']} connections, {data['seconds']} s per run, runs interleaved. **Keys**: "
        f"MEDIC_AUTH=required with {data['keys']} keys scoped `heartbeat`, sent in turn, against authentication "
        "disabled. **No keep-alive**: `Connection: close` on every request (as `curl` from cron), Medic against the "
        "baseline; wrk counts the server's close after each answer as a read error, so only non-2xx answers "
        "(`err_status`) and timeouts count as errors there. Rate limiting is off in both."
    )
    auth, close = data["auth"], data["no_keepalive"]
    lines += ["", "| run | auth disabled: stored/s, p99 | 100 keys: stored/s, p99 | ratio | CPU ms/heartbeat (off / keys) |",
              "|---|---|---|---|---|"]
    cpu = lambda r: sum(r["cpu_ms_per_stored"].values())  # noqa: E731
    for n, (a, b) in enumerate(zip(auth["disabled"], auth["required"]), 1):
        lines.append(f"| {n} | {a['stored_per_s']:.0f}, {a['p99_us'] / 1000:.1f} ms | {b['stored_per_s']:.0f}, "
                     f"{b['p99_us'] / 1000:.1f} ms | {auth['stored_ratio_per_run'][n - 1]:.2f} | {cpu(a):.3f} / {cpu(b):.3f} |")
    lines += ["", "| run | baseline, no keep-alive: stored/s, p99 | Medic, no keep-alive: stored/s, p99 | ratio | non-2xx (baseline / Medic) |",
              "|---|---|---|---|---|"]
    bad = lambda r: r["err_status"] + r["err_timeout"] + r["err_connect"]  # noqa: E731
    for n, (b, m) in enumerate(zip(close["baseline"], close["medic"]), 1):
        lines.append(f"| {n} | {b['stored_per_s']:.0f}, {b['p99_us'] / 1000:.1f} ms | {m['stored_per_s']:.0f}, "
                     f"{m['p99_us'] / 1000:.1f} ms | {close['stored_ratio_per_run'][n - 1]:.2f} | {bad(b)} / {bad(m)} |")
    idle = data["idle"]
    lines += ["", f"Idle: {idle['answered_201']} of {idle['connections']} keep-alive connections answered and held open "
              f"on {idle['web_processes']} web processes; peak RSS of the largest {idle['web_peak_rss_mib_before']:.0f} MiB "
              f"before, {idle['web_peak_rss_mib_with_idle']:.0f} MiB with them open; a heartbeat on a new connection "
              f"meanwhile took {idle['fresh_heartbeat_ms']:.0f} ms.", ""]
    summary.append((f"Ingest with {data['keys']} API keys within 10% of authentication disabled",
                    f"{auth['median_ratio']:.2f}x (median of runs)", _verdict(auth["median_ratio"] >= 0.9)))
    summary.append(("No keep-alive: stored/s against the baseline, same run (no target)",
                    f"{close['median_ratio']:.2f}x (median of runs)", "-"))
    summary.append((f"Web process < 256 MiB with {idle['connections']:,} idle keep-alive connections",
                    f"{idle['web_peak_rss_mib_with_idle']:.0f} MiB; {idle['answered_201']} answered",
                    _verdict(idle["web_peak_rss_mib_with_idle"] < 256 and idle["answered_201"] == idle["connections"])))


def _cron_cycle(lines: list[str], summary: list, data: dict) -> None:
    lines += ["### Worker cycle: cron services", ""]
    lines.append(
        f"`python -m bench.cron_cycle` (bench/cron_cycle.py): PostgreSQL, {data['services']:,} services all on cron "
        "schedules (five expressions in five zones), healthy; a fifth of them (every 5 minutes) with their slot "
        "closed when the worker runs, closed at most SERVICES_PER_SWEEP a cycle; each `Worker.run_once()` timed in "
        "a fresh process."
    )
    lines += ["", "| run | slots closing | first cycle (slots closed) | later cycles | worker peak RSS |", "|---|---|---|---|---|"]
    for n, r in enumerate(data["runs"], 1):
        later = ", ".join(f"{s:.3f}" for s in r["later_cycles_seconds"])
        lines.append(f"| {n} | {r['due_slots']:,} | {r['first_cycle_seconds']:.3f} s ({r['slots_recorded_first_cycle']:,}) | "
                     f"{later} s | {r['worker_peak_rss_mib']:.0f} MiB |")
    lines.append("")
    worst = max(max([r["first_cycle_seconds"], *r["later_cycles_seconds"]]) for r in data["runs"])
    recorded = all(r["slots_recorded"] == r["due_slots"] for r in data["runs"])
    summary.append((f"Worker cycle postgresql, {data['services']:,} cron services in mixed zones < 1 s",
                    f"slowest {worst:.3f} s (while closing slots); every slot recorded: {'yes' if recorded else 'no'}",
                    _verdict(worst < 1 and recorded)))


def _held_cycle(lines: list[str], summary: list, data: dict) -> None:
    lines += ["### Worker cycle: services in a maintenance window", ""]
    lines.append(
        f"`python -m bench.held_cycle` (bench/held_cycle.py): PostgreSQL, {data['services']:,} services, "
        f"{data['held']:,} of them (one team) past their deadline while a maintenance window for that team is in "
        "force; each `Worker.run_once()` timed in a fresh process."
    )
    lines += ["", "| run | first cycle (services held) | later cycles | alerts opened | notifications |", "|---|---|---|---|---|"]
    for n, r in enumerate(data["runs"], 1):
        later = ", ".join(f"{s:.3f}" for s in r["later_cycles_seconds"])
        lines.append(f"| {n} | {r['first_cycle_seconds']:.3f} s ({r['held_services']:,}) | {later} s | {r['opened']} | "
                     f"{r['notifications']} |")
    lines.append("")
    worst = max(max([r["first_cycle_seconds"], *r["later_cycles_seconds"]]) for r in data["runs"])
    quiet = all(r["opened"] == 0 and r["notifications"] == 0 for r in data["runs"])
    summary.append((f"Worker cycle postgresql, {data['services']:,} services, {data['held']:,} in maintenance < 1 s",
                    f"slowest {worst:.3f} s; pages sent: {'none' if quiet else 'SOME'}", _verdict(worst < 1 and quiet)))


def _measured_apart(lines: list[str], data: dict, main_env: dict) -> None:
    env = data.get("environment")
    if env and main_env and env.get("medic_commit") != main_env.get("medic_commit"):
        lines += [f"*Measured in a separate run: {env['date']}, Medic commit {env['medic_commit']}, "
                  f"load average {' '.join(env['loadavg'])}.*", ""]


def write(mode: str) -> Path:
    load = lambda part: common.load(f"{mode}/{part}")  # noqa: E731
    env = load("environment-start") or {}
    summary: list[tuple[str, str, str]] = []
    body: list[str] = []
    ingest = load("ingest")
    if ingest:
        _ingest(body, summary, ingest, sqlite=False)
        _measured_apart(body, ingest, env)
    layouts = load("layouts")
    if layouts:
        _layouts(body, layouts)
        _measured_apart(body, layouts, env)
    ceilings = load("ceilings")
    if ceilings:
        _ceilings(body, ceilings)
        _measured_apart(body, ceilings, env)
    prof = load("profile")
    if prof:
        _profile(body, prof)
        _measured_apart(body, prof, env)
    ingest_sqlite = load("ingest-sqlite")
    if ingest_sqlite:
        _ingest(body, summary, ingest_sqlite, sqlite=True)
        _measured_apart(body, ingest_sqlite, env)
    for part, backend in (("cycle", "postgresql"), ("cycle-sqlite", "sqlite")):
        data = load(part)
        if data:
            _cycle(body, summary, data, backend)
            _measured_apart(body, data, env)
    outage = load("outage")
    if outage:
        _outage(body, summary, outage)
        _measured_apart(body, outage, env)
    outage_routes = load("outage-routes")
    if outage_routes:
        _outage(body, summary, outage_routes)
        _measured_apart(body, outage_routes, env)
    recovery_data = load("recovery")
    if recovery_data:
        _recovery(body, summary, recovery_data)
        _measured_apart(body, recovery_data, env)
    failover = load("failover")
    if failover:
        _failover(body, summary, failover)
        _measured_apart(body, failover, env)
    cron_share = load("cron-share")
    if cron_share:
        _cron_share(body, summary, cron_share)
        _measured_apart(body, cron_share, env)
    cron_cycle = load("cron-cycle")
    if cron_cycle:
        _cron_cycle(body, summary, cron_cycle)
        _measured_apart(body, cron_cycle, env)
    held_cycle = load("held-cycle")
    if held_cycle:
        _held_cycle(body, summary, held_cycle)
        _measured_apart(body, held_cycle, env)
    production = load("production")
    if production:
        _production(body, summary, production)
        _measured_apart(body, production, env)
    regions = load("regions")
    if regions:
        _regions(body, summary, regions)
        _measured_apart(body, regions, env)
    cleanup = load("cleanup")
    if cleanup:
        _cleanup(body, summary, cleanup)
        _measured_apart(body, cleanup, env)
    memory = load("memory")
    if memory:
        _memory(body, summary, memory, outage)
        _measured_apart(body, memory, env)
    soak = common.load("soak") if mode == "full" else None  # bench/results/soak.json, from `make soak`
    if soak:
        _soak(body, summary, soak)
        _measured_apart(body, soak, env)

    title = "Medic benchmarks" + (" (quick mode: short runs, small data; not the recorded figures)" if mode == "quick" else "")
    lines = [f"# {title}", "", "Generated by `python -m bench" + (" --quick" if mode == "quick" else "") + "` "
             "(bench/report.py) from the raw results in `bench/results/" + mode + "/`. Do not edit by hand: the "
             "analysis section comes from `bench/analysis.md`.", ""]
    if env:
        pkgs = ", ".join(f"{k} {v}" for k, v in env["packages"].items())
        lines += [
            "## Machine and versions", "",
            f"- Date: {env['date']}; Medic commit {env['medic_commit']}" + (" (plus uncommitted changes under src/)" if env.get("medic_tree_dirty") else ""),
            f"- Machine: {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB RAM, Linux {env['kernel']}; "
            "wrk, the servers and PostgreSQL share the same cores",
            f"- Load average when the run started: {' '.join(env['loadavg'])} (the machine is shared; other work "
            "running at the same time shows up as noise, which is why every figure has at least two runs and "
            "the ingest targets are compared run by run with the baseline)",
            f"- Python {env['python']}, PostgreSQL {env['postgresql']} "
            f"({', '.join(f'{k}={v}' for k, v in env['postgresql_settings'].items())}), SQLite {env['sqlite']}, {env['wrk']}",
            f"- {pkgs}",
            "- Web: gunicorn " + ", ".join(f"{k}={v}" for k, v in env["web"].items())
            + " for Medic, the baseline and the ceilings alike",
            "",
        ]
    lines += ["## Targets", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in summary]
    lines += ["", "## Figures", ""] + body
    _commands(lines, mode, ingest)
    if ANALYSIS.exists() and mode == "full":
        lines += [ANALYSIS.read_text().rstrip(), ""]
    path = common.BENCH / ("RESULTS.md" if mode == "full" else "RESULTS-quick.md")
    path.write_text("\n".join(lines) + "\n")
    return path
