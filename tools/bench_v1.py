#!/usr/bin/env python3
"""bench_v1.py - load benchmark of POST /v1/embeddings on a running server.

Two measurements, each for a few seconds (keep them short on a shared box):

  images   C clients (for each C in --clients) send one image per request
           in a loop, over keep-alive connections; prints images/s.
  latency  4 clients upload images continuously (--uploaders) while one
           client sends a short text query at a time, each text new (no
           cache hits); prints the query latency p50 / p99.

Compare the images/s with `vitrine bench embed --image PHOTO` on the same
weights and photo: its "photo batch=1" and "photo batch=8" lines are the
engine's own figures for the photo's bytes (decode, preprocess, the tower),
the ceiling for 1 and 8 clients; the "image batch" lines start from
pixels, so the server's decoding is not in them. The server adds base64,
HTTP and JSON (and here the client, on the same cores).

The image clients are wrk (Debian's wrk, driven by tools/bench_http.lua,
which counts every answer that is not 200) when it is installed, else
Python threads (--client python). The client shares the server's cores:
on 2 vCPUs the Python threads took 5-15% of the rate wrk measures in the
same hour. wrk's rate counts from the first request, so the first round
(up to C inferences) is charged to the window: a slight underestimate.

Usage (server started with the weights to measure, e.g. tools/gen_weights.py
--arch b32 random weights):
  tools/bench_v1.py --url http://127.0.0.1:6333 --image photo.jpg \\
      [--model M] [--clients 1,8] [--seconds 10] [--uploaders 4] [--client wrk|python]
Standard library (plus wrk when present); the client asks for base64
answers (cheap to skip) and only checks the status.
"""
import argparse
import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)


def post(conn, body):
    conn.request("POST", "/v1/embeddings", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {data[:200]!r}")
    return data


def image_clients(url, body, clients, seconds):
    """Runs `clients` threads posting `body` for `seconds` and returns the
    steady-state rate: completions between the moment every client has
    had its first answer (connections open, everyone queued) and the
    stop, over that window. Counting from the start would charge the
    first round (up to `clients` inferences) to the window."""
    stop = time.monotonic() + seconds
    times = [[] for _ in range(clients)]
    errors = []

    def run(k):
        conn = connect(url)
        try:
            while time.monotonic() < stop:
                post(conn, body)
                times[k].append(time.monotonic())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(str(e))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"bench_v1: {errors[0]}")
    if any(len(t) < 2 for t in times):
        sys.exit("bench_v1: too few requests completed; give more --seconds")
    start = max(t[0] for t in times)
    done = sum(1 for t in times for x in t if start < x <= stop)
    return done / (stop - start)


def image_clients_wrk(url, body, clients, seconds):
    """image_clients with wrk: `clients` keep-alive connections, one wrk
    thread (a second thread would take a core from the server for
    nothing: wrk waits on the server). Exits on any answer but 200."""
    lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_http.lua")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(body + "\n")
        path = f.name
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s",
                              "-s", lua, url, "--", path, "/v1/embeddings"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    bad = re.search(r"non-200: (\d+)", out)
    if not rate or not bad:
        sys.exit(f"bench_v1: cannot read wrk's output:\n{out}")
    if int(bad.group(1)):
        sys.exit(f"bench_v1: answers other than 200 under load:\n{out}")
    return float(rate.group(1))


def metrics(url):
    """The embedder's image counters from /metrics: (batches' seconds, images)."""
    conn = connect(url)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    vals = {}
    for line in text.splitlines():
        for key in ('vitrine_embed_inference_seconds_sum{kind="image"}',
                    'vitrine_embed_batch_inputs_total{kind="image"}'):
            if line.startswith(key + " "):
                vals[key] = float(line.split()[-1])
    return (vals.get('vitrine_embed_inference_seconds_sum{kind="image"}', 0.0),
            vals.get('vitrine_embed_batch_inputs_total{kind="image"}', 0.0))


def percentile(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def text_latency(url, model, image_body, uploaders, seconds):
    stop = threading.Event()
    done = [0]
    errors = []

    def upload():
        conn = connect(url)
        try:
            while not stop.is_set():
                post(conn, image_body)
                done[0] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(str(e))

    threads = [threading.Thread(target=upload) for _ in range(uploaders)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # let the uploads fill the queue first
    conn = connect(url)
    lat = []
    t_end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < t_end:
        body = json.dumps({"model": model, "input": f"a photo of product {i} {time.time_ns()}",
                           "encoding_format": "base64"})
        t0 = time.monotonic()
        post(conn, body)
        lat.append(time.monotonic() - t0)
        i += 1
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"bench_v1: {errors[0]}")
    return lat, done[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:6333")
    ap.add_argument("--image", required=True, help="an image file to upload")
    ap.add_argument("--model", default=None, help="default: the first id of GET /v1/models")
    ap.add_argument("--clients", default="1,8")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--uploaders", type=int, default=4)
    ap.add_argument("--client", choices=("wrk", "python"),
                    default="wrk" if shutil.which("wrk") else "python",
                    help="the image clients (default: wrk when installed)")
    ap.add_argument("--skip-images", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    a = ap.parse_args()
    model = a.model
    if not model:
        conn = connect(a.url)
        conn.request("GET", "/v1/models")
        model = json.loads(conn.getresponse().read())["data"][0]["id"]
    img = base64.b64encode(open(a.image, "rb").read()).decode()
    body = json.dumps({"model": model, "input": [{"image": img}], "encoding_format": "base64"})
    if not a.skip_images:
        for c in [int(x) for x in a.clients.split(",")]:
            s0, n0 = metrics(a.url)
            t0 = time.monotonic()
            run = image_clients_wrk if a.client == "wrk" else image_clients
            rate = run(a.url, body, c, a.seconds)
            wall = time.monotonic() - t0
            s1, n1 = metrics(a.url)
            # The engine's own time per image in this very run (the box is
            # shared, so only same-run ratios mean much), and how busy the
            # batcher was: what the server adds shows as idle batcher time.
            infer = (s1 - s0) / max(n1 - n0, 1)
            print(f"images clients={c} ({a.client}): {rate:.2f} images/s ({1000 / rate:.1f} ms/image); "
                  f"inference {infer * 1000:.1f} ms/image in the same run "
                  f"({1 / infer:.2f} images/s), batcher busy {100 * (s1 - s0) / wall:.0f}%",
                  flush=True)
    if not a.skip_latency:
        lat, uploaded = text_latency(a.url, model, body, a.uploaders, a.seconds)
        ms = [x * 1000 for x in lat]
        print(f"text latency with {a.uploaders} uploaders: p50 {percentile(ms, 50):.1f} ms, "
              f"p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms over {len(ms)} queries "
              f"({uploaded} images uploaded meanwhile)", flush=True)


if __name__ == "__main__":
    main()
