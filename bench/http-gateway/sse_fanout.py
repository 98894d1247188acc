#!/usr/bin/env python3
"""SSE fan-out: N connections watch GET /v1/books:watch on a cqmux HTTP
gateway; then books are inserted one at a time (POST /v1/books on another
connection) and, for each insert, the time from sending the POST to each
watcher's reading of the event is recorded. Prints one JSON object with the
delivery latency percentiles over all (insert, watcher) pairs and the time
until the last watcher had each book.

  sse_fanout.py --port=8080 --watchers=1000 --inserts=20

Python asyncio on one core: reading 1,000 events costs the client itself
some milliseconds per insert, which is included (an upper bound on the
server's part)."""
import argparse
import asyncio
import json
import resource
import statistics
import time


async def open_watch(port, ready):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/books:watch HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
    await writer.drain()
    status = await reader.readline()
    assert b" 200 " in status, status
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    ready.append(1)
    return reader, writer


async def watch(reader, arrivals):
    """Records (book id, time) per event; chunk framing lines are skipped."""
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.startswith(b"data: "):
            book = json.loads(line[6:])
            arrivals[book["id"]].append(time.perf_counter())


async def insert(port, book_id):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"id": book_id, "title": "fan-out %d" % book_id, "author": "bench"}).encode()
    writer.write(b"POST /v1/books HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    start = time.perf_counter()
    await writer.drain()
    status = await reader.readline()
    assert b" 200 " in status, status
    writer.close()
    return start


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100.0 * len(values)))]


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--watchers", type=int, default=1000)
    p.add_argument("--inserts", type=int, default=20)
    p.add_argument("--first-id", type=int, default=900000)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, a.watchers + 256)), hard))

    ready = []
    conns = []
    for batch in range(0, a.watchers, 100):  # connect in batches of 100
        conns += await asyncio.gather(*(open_watch(a.port, ready)
                                        for _ in range(min(100, a.watchers - batch))))
    arrivals = {a.first_id + i: [] for i in range(a.inserts)}
    tasks = [asyncio.create_task(watch(r, arrivals)) for r, _ in conns]
    latencies, last = [], []
    for i in range(a.inserts):
        book_id = a.first_id + i
        start = await insert(a.port, book_id)
        while len(arrivals[book_id]) < a.watchers:  # every watcher has it
            await asyncio.sleep(0.001)
        latencies += [(t - start) * 1000 for t in arrivals[book_id]]
        last.append((max(arrivals[book_id]) - start) * 1000)
    for t in tasks:
        t.cancel()
    for _, w in conns:
        w.close()
    print(json.dumps({
        "watchers": a.watchers, "inserts": a.inserts, "deliveries": len(latencies),
        "p50_ms": round(pct(latencies, 50), 2), "p99_ms": round(pct(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
        "all_watchers_median_ms": round(statistics.median(last), 2),
        "all_watchers_max_ms": round(max(last), 2),
    }))


if __name__ == "__main__":
    asyncio.run(main())
