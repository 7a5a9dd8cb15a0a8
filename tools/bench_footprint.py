#!/usr/bin/python3
"""bench_footprint.py - what a shop's server costs: memory, disk, startup.

Starts `vitrine serve` with full-size CLIP ViT-B/32 weights (random values
of the real shapes, F32: tools/gen_weights.py writes them when the folder
is missing), then, while one client searches all the time:

  - ingests --items points (default 100000) with product payloads into one
    collection through Qdrant's API (named vectors `image` and `text`, the
    512-d `image` vector given, batches of --batch points, wait=true), and
  - adds --images photos (default 256, distinct BMPs made here) through
    PUT /v1/collections/{c}/items, so the model path runs too (decoding,
    both towers, thumbnails, the image cache).

It reports the server's peak resident memory (VmHWM of /proc/PID/status,
with the largest anonymous and file-backed parts seen while sampling),
the data directory's size per item, the ingest rate, search latency while
ingesting, and startup time (process start to the first 200 from
/readyz) with an empty data directory and again with the full one.

Not part of `make test` (it takes minutes). Usage:
  /usr/bin/python3 tools/bench_footprint.py [--bin ./vitrine]
      [--weights weights/random-b32] [--items 100000] [--images 256]
      [--batch 1000] [--work DIR] [--json FILE]
Standard library only (numpy only to generate the weights).
"""
import argparse
import base64
import http.client
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

COLLECTION = "products"
DIM = 512
CATEGORIES = ["shoes", "bags", "shirts", "dresses", "hats", "watches", "lamps", "mugs", "chairs", "rugs"]
COLORS = ["red", "blue", "green", "black", "white", "beige", "navy", "olive", "pink", "grey"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    """One keep-alive connection; JSON in and out, raises on a non-2xx."""

    def __init__(self, port, timeout=600):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, ok=(200,)):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                out = r.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.status not in ok:
            raise RuntimeError(f"{method} {path}: HTTP {r.status}: {out[:300]!r}")
        return json.loads(out) if out and r.getheader("Content-Type", "").startswith("application/json") else out


def proc_status(pid):
    """The memory lines of /proc/PID/status, in bytes."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0]) * 1024
    except FileNotFoundError:
        pass
    return out


def dir_size(path):
    """(apparent bytes, allocated bytes) of every file under path."""
    apparent = allocated = 0
    for root, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


def bmp(width, height, seed):
    """A distinct 24-bit BMP: a grid of coloured tiles (each photo's bytes,
    hence its SHA-256 and its embedding, differ)."""
    rnd = random.Random(seed)
    tile = 16
    cols = (width + tile - 1) // tile
    rows = []
    for ty in range((height + tile - 1) // tile):
        line = b"".join(bytes((rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))) * tile
                        for _ in range(cols))[: width * 3]
        line += b"\0" * ((4 - len(line) % 4) % 4)
        rows.extend([line] * min(tile, height - ty * tile))
    pixels = b"".join(rows)
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def payload(i, rnd):
    cat = CATEGORIES[i % len(CATEGORIES)]
    color = COLORS[(i // 10) % len(COLORS)]
    return {
        "title": f"{color.capitalize()} {cat[:-1]} no. {i}",
        "price": round(rnd.uniform(5, 500), 2),
        "category": cat,
        "sku": f"SKU-{i:07d}",
        "color": color,
        "in_stock": i % 7 != 0,
        "tags": [cat, color, "sale" if i % 5 == 0 else "new"],
    }


def vector(rnd):
    return [round(rnd.gauss(0, 1), 5) for _ in range(DIM)]


class Sampler(threading.Thread):
    """Samples the server's memory every 0.2 s; keeps the largest values."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for k, v in proc_status(self.pid).items():
                self.peak[k] = max(self.peak.get(k, 0), v)
            self.stop.wait(0.2)


class Searcher(threading.Thread):
    """Searches one query at a time until stopped: nine vector searches
    (random query, top 10 with payload) then one text search through
    /v1 (the text tower), and keeps the latencies."""

    def __init__(self, port, seed):
        super().__init__(daemon=True)
        self.client = Client(port)
        self.rnd = random.Random(seed)
        self.vector_ms = []
        self.text_ms = []
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            t = time.monotonic()
            try:
                if n % 10:
                    self.client.request("POST", f"/collections/{COLLECTION}/points/search", {
                        "vector": {"name": "image", "vector": vector(self.rnd)}, "limit": 10,
                        "with_payload": True})
                    self.vector_ms.append((time.monotonic() - t) * 1000)
                else:
                    self.client.request("POST", f"/v1/collections/{COLLECTION}/search", {
                        "text": f"a {COLORS[n % 10]} {CATEGORIES[(n // 10) % 10][:-1]} number {n}",
                        "limit": 10})
                    self.text_ms.append((time.monotonic() - t) * 1000)
            except Exception as e:  # noqa: BLE001 - reported at the end
                self.errors.append(str(e))
                time.sleep(0.5)


class MemoryCgroup:
    """A memory cgroup (v1's memory controller, else v2) with a limit, as
    `docker run --memory` sets one: the server's anonymous memory and the
    page cache it touches (the model's pages, LMDB's) are charged to it,
    and the kernel reclaims file pages before it kills. Needs root."""

    def __init__(self, limit):
        name = f"vitrine-footprint-{os.getpid()}"
        v1, v2 = "/sys/fs/cgroup/memory", "/sys/fs/cgroup"
        if os.path.isfile(os.path.join(v1, "memory.limit_in_bytes")):
            self.path, self.v1 = os.path.join(v1, name), True
        elif os.path.isfile(os.path.join(v2, "cgroup.controllers")):
            self.path, self.v1 = os.path.join(v2, name), False
        else:
            sys.exit("bench_footprint: --memory-limit needs a memory cgroup (none is mounted)")
        os.mkdir(self.path)
        self.write("memory.limit_in_bytes" if self.v1 else "memory.max", str(limit))
        if self.v1:
            # No swap for it either, as `docker run --memory X --memory-swap X`.
            try:
                self.write("memory.memsw.limit_in_bytes", str(limit))
            except OSError:
                pass

    def write(self, f, value):
        with open(os.path.join(self.path, f), "w") as fh:
            fh.write(value)

    def read(self, f):
        try:
            with open(os.path.join(self.path, f)) as fh:
                return fh.read()
        except OSError:
            return ""

    @staticmethod
    def uncache(folder):
        """Drops the clean page-cache pages of the files in folder, so the
        server's cgroup is charged for the model when it reads it (a page
        is charged to the cgroup that first brought it in, and an earlier
        run may have)."""
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)

    def enter(self):
        """Runs in the child before exec: the server starts inside."""
        self.write("cgroup.procs", str(os.getpid()))

    def stats(self):
        out = {}
        if self.v1:
            out["cgroup_peak_bytes"] = int(self.read("memory.max_usage_in_bytes") or 0)
            out["cgroup_failcnt"] = int(self.read("memory.failcnt") or 0)
            for line in self.read("memory.oom_control").splitlines():
                if line.startswith("oom_kill "):
                    out["cgroup_oom_kills"] = int(line.split()[1])
        else:
            out["cgroup_peak_bytes"] = int(self.read("memory.peak") or 0)
            for line in self.read("memory.events").splitlines():
                k, v = line.split()
                if k in ("max", "oom_kill"):
                    out["cgroup_" + k] = int(v)
        return out

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def start_server(args, data, log, cgroup=None):
    port = free_port()
    # The default limits: the upsert bodies (about 5 MB each) fit the
    # default body size, and a raised --max-body would need a raised
    # request memory budget (serve refuses one below 3 bodies).
    cmd = [args.bin, "serve", "--port", str(port), "--data", data, "--weights", args.weights]
    if cgroup:
        cgroup.uncache(args.weights)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, preexec_fn=cgroup.enter if cgroup else None)
    client = Client(port, timeout=5)
    while True:
        if proc.poll() is not None:
            sys.exit(f"bench_footprint: the server exited with {proc.returncode}; see {log.name}")
        try:
            client.request("GET", "/readyz")
            break
        except (OSError, RuntimeError, http.client.HTTPException):
            client.conn = None
            time.sleep(0.01)
    return proc, port, time.monotonic() - t0


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        sys.exit("bench_footprint: the server did not stop within 120 s of SIGTERM")


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="./vitrine")
    ap.add_argument("--weights", default="weights/random-b32")
    ap.add_argument("--items", type=int, default=100000)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--work", help="working folder (default: a new one under $TMPDIR, removed after)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--memory-limit", type=int, metavar="BYTES",
                    help="run the server in a memory cgroup with this limit (as docker --memory; root)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    if not os.path.exists(os.path.join(args.weights, "model.safetensors")):
        print(f"bench_footprint: generating random ViT-B/32 F32 weights in {args.weights}", flush=True)
        subprocess.run(["/usr/bin/python3", os.path.join(root, "tools/gen_weights.py"), "--out", args.weights,
                        "--arch", "b32", "--dtype", "f32"], check=True)
    work = args.work or tempfile.mkdtemp(prefix="vitrine-footprint.")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "data")
    shutil.rmtree(data, ignore_errors=True)
    log = open(os.path.join(work, "serve.log"), "w")
    res = {"items": args.items, "images": args.images, "batch": args.batch}

    # The request bodies are made before the server starts, so the ingest
    # rate is the server's, not this script's JSON encoder's.
    rnd = random.Random(0)
    bodies = []
    for start in range(0, args.items, args.batch):
        ids = range(start + 1, min(args.items, start + args.batch) + 1)
        bodies.append((ids[-1], json.dumps({"points": [
            {"id": i, "vector": {"image": vector(rnd)}, "payload": payload(i, rnd)} for i in ids]}).encode()))
    print(f"bench_footprint: {len(bodies)} upsert bodies made, {sum(len(b) for _, b in bodies) / 2**20:.0f} MiB",
          flush=True)

    cgroup = MemoryCgroup(args.memory_limit) if args.memory_limit else None
    res["memory_limit"] = args.memory_limit
    proc, port, res["startup_empty_s"] = start_server(args, data, log, cgroup)
    print(f"bench_footprint: server pid {proc.pid} ready in {res['startup_empty_s']:.2f} s "
          f"(empty data directory); idle RSS {proc_status(proc.pid).get('VmRSS', 0) / 2**20:.0f} MiB", flush=True)
    sampler = Sampler(proc.pid)
    sampler.start()
    c = Client(port)
    c.request("PUT", f"/collections/{COLLECTION}", {
        "vectors": {"image": {"size": DIM, "distance": "Cosine"}, "text": {"size": DIM, "distance": "Cosine"}}})

    # The photos go in beside the vector batches, eight per request.
    image_errors = []
    image_s = [0.0]

    def add_images():
        ic = Client(port)
        t = time.monotonic()
        try:
            for k in range(0, args.images, 8):
                items = []
                for j in range(k, min(args.images, k + 8)):
                    pid = args.items + 1 + j
                    items.append({"id": pid, "image": base64.b64encode(bmp(320, 240, pid)).decode(),
                                  "text": f"photo of product {pid}", "payload": payload(pid, random.Random(pid))})
                r = ic.request("PUT", f"/v1/collections/{COLLECTION}/items?wait=true", {"items": items})
                bad = [x for x in r["result"]["items"] if x["status"] != "ok"]
                if bad:
                    image_errors.append(str(bad[0]))
        except Exception as e:  # noqa: BLE001 - reported at the end
            image_errors.append(str(e))
        image_s[0] = time.monotonic() - t

    searcher = Searcher(port, 1)
    imager = threading.Thread(target=add_images, daemon=True)
    t_ingest = time.monotonic()
    searcher.start()
    imager.start()
    next_report = time.monotonic() + 30
    for last_id, body in bodies:
        try:
            c.request("PUT", f"/collections/{COLLECTION}/points?wait=true", body)
        except Exception as e:  # noqa: BLE001 - the server may have died
            if proc.poll() is None:
                raise
            st = cgroup.stats() if cgroup else {}
            sys.exit(f"bench_footprint: the server died (exit status {proc.returncode}) after "
                     f"{last_id - args.batch} points: {e}; peak RSS {sampler.peak.get('VmRSS', 0) / 2**20:.0f} MiB; "
                     f"cgroup {st}; see {log.name}")
        if time.monotonic() >= next_report:
            next_report += 30
            st = proc_status(proc.pid)
            print(f"bench_footprint: {last_id} points in {time.monotonic() - t_ingest:.0f} s, "
                  f"RSS {st.get('VmRSS', 0) / 2**20:.0f} MiB, peak {st.get('VmHWM', 0) / 2**20:.0f} MiB, "
                  f"{len(searcher.vector_ms)} searches", flush=True)
    res["ingest_points_s"] = time.monotonic() - t_ingest
    del bodies
    imager.join()
    res["ingest_images_s"] = image_s[0]
    # A few more seconds of searching the full collection.
    time.sleep(10)
    searcher.stop.set()
    searcher.join()
    count = c.request("POST", f"/collections/{COLLECTION}/points/count", {"exact": True})["result"]["count"]
    status = proc_status(proc.pid)
    sampler.stop.set()
    sampler.join()
    metrics = c.request("GET", "/metrics").decode()
    res["embeddings"] = sum(float(line.split()[-1]) for line in metrics.splitlines()
                            if line.startswith('vitrine_embeddings_total{kind="image"'))
    res["count"] = count
    res["peak_rss_bytes"] = status["VmHWM"]
    res["end_rss_bytes"] = status["VmRSS"]
    res["peak_anon_bytes"] = sampler.peak.get("RssAnon", 0)
    res["peak_file_bytes"] = sampler.peak.get("RssFile", 0)
    res["searches"] = len(searcher.vector_ms)
    res["search_p50_ms"] = percentile(searcher.vector_ms, 50)
    res["search_p99_ms"] = percentile(searcher.vector_ms, 99)
    res["text_searches"] = len(searcher.text_ms)
    res["text_search_p50_ms"] = percentile(searcher.text_ms, 50)
    res["search_errors"] = len(searcher.errors)
    if cgroup:
        res.update(cgroup.stats())
    rc = stop_server(proc)
    if rc != 0:
        sys.exit(f"bench_footprint: the server exited with {rc} after SIGTERM; see {log.name}")
    res["data_apparent_bytes"], res["data_allocated_bytes"] = dir_size(data)

    # Restart on the full data directory: open, graph load, model load.
    proc, port, res["startup_full_s"] = start_server(args, data, log, cgroup)
    Client(port).request("POST", f"/collections/{COLLECTION}/points/search", {
        "vector": {"name": "image", "vector": vector(rnd)}, "limit": 10})
    res["restart_rss_bytes"] = proc_status(proc.pid)["VmRSS"]
    stop_server(proc)
    log.close()
    if cgroup:
        cgroup.remove()

    mib = 2 ** 20
    n = count
    print(f"""
bench_footprint: {count} items ({args.items} points through Qdrant's API in batches of {args.batch},
  {args.images} photos through /v1 items: {res['embeddings']:.0f} images embedded), while searching
ingest:        {args.items / res['ingest_points_s']:.0f} points/s ({res['ingest_points_s']:.0f} s); photos {res['ingest_images_s']:.0f} s
peak RSS:      {res['peak_rss_bytes'] / mib:.0f} MiB (VmHWM; sampled peaks: anonymous {res['peak_anon_bytes'] / mib:.0f} MiB, file-backed {res['peak_file_bytes'] / mib:.0f} MiB)
RSS at end:    {res['end_rss_bytes'] / mib:.0f} MiB; after a restart and one search: {res['restart_rss_bytes'] / mib:.0f} MiB
data dir:      {res['data_apparent_bytes'] / mib:.0f} MiB ({res['data_apparent_bytes'] / n:.0f} bytes/item; {res['data_allocated_bytes'] / n:.0f} allocated)
search:        {res['searches']} vector searches while ingesting, p50 {res['search_p50_ms']:.1f} ms, p99 {res['search_p99_ms']:.1f} ms; {res['text_searches']} text searches p50 {res['text_search_p50_ms']:.0f} ms; {res['search_errors']} errors
startup:       {res['startup_empty_s']:.2f} s to /readyz with an empty data directory, {res['startup_full_s']:.2f} s with {count} items""")
    if cgroup:
        print(f"memory cgroup: limit {args.memory_limit / mib:.0f} MiB, peak charge {res['cgroup_peak_bytes'] / mib:.0f} MiB, "
              f"OOM kills {res.get('cgroup_oom_kills', res.get('cgroup_oom_kill', 0))}, "
              f"times at the limit {res.get('cgroup_failcnt', res.get('cgroup_max', 0))}")
    if image_errors:
        print(f"bench_footprint: photo errors: {image_errors[:3]}")
    if searcher.errors:
        print(f"bench_footprint: search errors: {searcher.errors[:3]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if image_errors or count != args.items + args.images else 0


if __name__ == "__main__":
    sys.exit(main())
