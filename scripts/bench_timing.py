"""Timing helpers shared by the comparison scripts (compare_pytorch.py, bench_python.py): the
same loops `tmlp bench` runs (measure_inference, measure_latency), so figures from the C++
program and from Python workers are taken the same way."""
import statistics
import time


def timed_rounds(fn, rounds, min_time, items):
    """items/s of fn over `rounds` rounds of at least min_time seconds each, after one warm-up
    call."""
    fn()
    out = []
    for _ in range(rounds):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            t = time.perf_counter() - t0
            if t >= min_time:
                break
        out.append(n * items / t)
    return out


def latency_us(fn, n_rows, max_n, min_time):
    """p50 and p99 microseconds of fn(i) over single rows i (after 10 warm-up calls): at most
    max_n calls, at least 100, stopping after 5 x min_time seconds."""
    for i in range(10):
        fn(i)
    us, start = [], time.perf_counter()
    for i in range(max_n):
        t0 = time.perf_counter()
        fn(i % n_rows)
        us.append((time.perf_counter() - t0) * 1e6)
        if len(us) >= 100 and time.perf_counter() - start >= 5 * min_time:
            break
    us.sort()
    return {"p50_us": us[len(us) // 2], "p99_us": us[min(len(us) - 1, int(0.99 * len(us)))],
            "n": len(us)}


def stats(values):
    """Median, min and max."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}
