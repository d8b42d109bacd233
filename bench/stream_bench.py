"""Section 7 of bench/run.py: live data (the streams toolset).

* Event-to-answer latency: the fake emits a trade event; we time how long until a pending
  ``read_stream`` long poll (through the server, over stdio) returns it, and, in the same run for
  the same event, until a bare ``websockets`` client subscribed to the same stream receives it.
  The target compares with a bare client in its own process, as our server is and as any real
  client is (the fake runs inside this process, so a client here receives without crossing
  processes at all); the in-process client's figure is reported beside it. Measured in
  ``LATENCY_ROUNDS`` rounds, each with a fresh server process, and pooled.
  Target: median added latency <= 2 ms.
* RSS of the server process with 100 open subscriptions (over 20 distinct streams, with the
  fake's periodic tickers, depth and klines flowing). Target: <= 120 MB.
* Time to resubscribe after a drop: the fake aborts the market connection; time until every
  stream is subscribed again on a new one. Baseline: a bare client opening a connection and
  subscribing the same streams once.

Like the rest of the benchmark it never imports the package and never fails on a number.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio
from websockets.asyncio.client import connect as ws_connect

STREAM = "btcusdt@trade"
SYMBOLS = ("btcusdt", "ethusdt", "bnbusdt", "ethbtc")
KINDS = ("trade", "bookTicker", "ticker", "depth5", "kline_1m")
SUBSCRIPTIONS = 100
LATENCY_ADDED_TARGET_MS = 2.0
RSS_TARGET_MB = 120.0
LATENCY_ROUNDS = 3
POLL_HEAD_START_S = 0.05  # lets the long poll reach its wait before the event is emitted
FLOW_S = 2.0  # periodic streams flowing into the 100 subscriptions before RSS is read
# The bare client in its own process, as a real one runs: it stamps each message on receipt
# (time.perf_counter is the system-wide monotonic clock on Linux and macOS) and reports the stamps
# only after the last one, so its output never competes with the measurement.
BARE_CLIENT = """
import asyncio, json, sys, time
from websockets.asyncio.client import connect
async def main(url, count):
    async with connect(url) as ws:
        print("ready", flush=True)
        stamps = []
        for _ in range(count):
            await ws.recv()
            stamps.append(time.perf_counter())
    print(json.dumps(stamps), flush=True)
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def stream_section(
    world: Any,
    samples: int,
    quick: bool,
    open_client: Callable[[], Any],
    open_floor: Callable[[], Any],
    rss_of_server: Callable[[], float],
    helpers: dict[str, Callable[..., Any]],
) -> tuple[list[Any], dict[str, Any]]:
    Row, median, pct, check = helpers["Row"], helpers["median"], helpers["pct"], helpers["check"]
    streams = world.fake.streams

    url = f"{world.fake.stream_url}/stream?streams={STREAM}"

    async def latency_round(count: int) -> tuple[list[float], list[float], list[float]]:
        """``count`` events through one fresh server process, timed against two bare clients."""
        ours: list[float] = []
        bare: list[float] = []  # in this process, the fake's own
        starts: list[float] = []
        async with await anyio.open_process([sys.executable, "-c", BARE_CLIENT, url, str(count + 1)]) as other:
            assert other.stdout is not None
            output = b""
            while b"\n" not in output:
                output += await other.stdout.receive()
            async with open_client() as client, ws_connect(url) as ws:
                sub = await client.call_tool("subscribe_stream", {"streams": [STREAM], "environment": "testnet"})
                check(sub)
                sid = json.loads(sub.content[0].text)["subscription"]
                cursor = json.loads(sub.content[0].text)["next_cursor"]
                for _ in range(count + 1):  # the first event warms up and is not counted
                    got: dict[str, float] = {}

                    async def poll() -> None:
                        nonlocal cursor
                        result = await client.call_tool(
                            "read_stream", {"subscription": sid, "cursor": cursor, "wait_seconds": 10})
                        got["ours"] = time.perf_counter()
                        check(result)
                        cursor = json.loads(result.content[0].text)["next_cursor"]

                    async def listen() -> None:
                        await ws.recv()
                        got["bare"] = time.perf_counter()

                    async with anyio.create_task_group() as tg:
                        tg.start_soon(poll)
                        tg.start_soon(listen)
                        await anyio.sleep(POLL_HEAD_START_S)
                        start = time.perf_counter()
                        streams.flood(STREAM, 1)
                    starts.append(start)
                    ours.append((got["ours"] - start) * 1000)
                    bare.append((got["bare"] - start) * 1000)
                check(await client.call_tool("unsubscribe_stream", {"subscription": sid}))
            async for chunk in other.stdout:
                output += chunk
        stamps = json.loads(output.split(b"\n", 1)[1])
        own = [(stamp - start) * 1000 for stamp, start in zip(stamps, starts)]
        return ours[1:], own[1:], bare[1:]

    # Several rounds, each with its own server process: where the OS places the processes (one CPU
    # or two) moves a whole round's median by a millisecond on a small VM; pooling rounds keeps one
    # placement from deciding the figure. Every round's median is reported too.
    rounds = 1 if quick else LATENCY_ROUNDS
    ours, own, bare, round_medians = [], [], [], []
    for index in range(rounds):
        count = samples // rounds + (1 if index < samples % rounds else 0)
        round_ours, round_own, round_bare = await latency_round(max(1, count))
        ours += round_ours
        own += round_own
        bare += round_bare
        round_medians.append(median([o - b for o, b in zip(round_ours, round_own)]))
    added = [o - b for o, b in zip(ours, own)]
    added_in_process = [o - b for o, b in zip(ours, bare)]

    async with open_client() as client:
        names = [f"{symbol}@{kind}" for symbol in SYMBOLS for kind in KINDS][: 5 if quick else None]
        count = SUBSCRIPTIONS // 5 if quick else SUBSCRIPTIONS
        for i in range(count):
            check(await client.call_tool("subscribe_stream", {"streams": [names[i % len(names)]], "environment": "testnet"}))
        await anyio.sleep(FLOW_S / 10 if quick else FLOW_S)
        rss = rss_of_server()

        opened = streams.connections_opened["market"]
        start = time.perf_counter()
        streams.drop("market")
        everything = sorted(names)
        restored = await anyio.to_thread.run_sync(
            streams.wait_until,
            lambda: streams.connections_opened["market"] > opened and streams.market_streams() == everything, 30.0)
        resubscribe_ms = (time.perf_counter() - start) * 1000 if restored else float("nan")

    floor: list[float] = []
    async with open_floor() as floor_client:  # what one stdio hop costs on this machine right now
        for i in range(samples + 1):
            start = time.perf_counter()
            check(await floor_client.call_tool("echo", {"text": str(i)}))
            floor.append((time.perf_counter() - start) * 1000)
    floor = floor[1:]

    start = time.perf_counter()
    async with ws_connect(f"{world.fake.stream_url}/stream") as fresh:
        await fresh.send(json.dumps({"method": "SUBSCRIBE", "params": names, "id": 1}))
        while json.loads(await fresh.recv()).get("id") != 1:
            pass
    bare_subscribe_ms = (time.perf_counter() - start) * 1000

    added_median = median(added)
    rows = [
        Row("7", f"event -> read_stream long poll returns vs a bare client in its own process, median of "
            f"{len(added)} in {rounds} rounds (ms)", median(ours), median(own), f"+{added_median:.2f} ms",
            f"<= +{LATENCY_ADDED_TARGET_MS:.0f} ms", "yes" if added_median <= LATENCY_ADDED_TARGET_MS else "NO"),
        Row("7", "event -> read_stream long poll returns, p99 (ms)", pct(ours, 99), pct(own, 99),
            f"+{pct(added, 99):.2f} ms (p99 of the differences)"),
        Row("7", "added latency, median of each round (its own server process) (ms)",
            " / ".join(f"+{m:.2f}" for m in round_medians), "—", "—", "info"),
        Row("7", "same events vs a bare client inside the benchmark's process (the fake's own), median (ms)",
            median(ours), median(bare), f"+{median(added_in_process):.2f} ms", "info"),
        Row("7", "SDK floor in the same run: one no-op tool call over stdio, median (ms)", median(floor), "—", "—",
            "info"),
        Row("7", "added latency as a share of that no-op round trip, median", added_median / median(floor),
            "—", "—", "info"),
        Row("7", f"RSS with {count} open subscriptions (MB)", rss, "—", "—",
            f"<= {RSS_TARGET_MB:.0f} MB", "yes" if rss <= RSS_TARGET_MB else "NO"),
        Row("7", f"resubscribe {len(names)} streams after a dropped connection (ms)", resubscribe_ms,
            bare_subscribe_ms, f"{resubscribe_ms / bare_subscribe_ms:.2f}x", "info"),
    ]
    return rows, {"stream_latency_ms": {"ours": ours, "bare_own_process": own, "bare_in_process": bare, "floor": floor,
                                        "round_medians": round_medians},
                  "stream_rss_mb": rss,
                  "resubscribe_ms": resubscribe_ms, "bare_subscribe_ms": bare_subscribe_ms}

