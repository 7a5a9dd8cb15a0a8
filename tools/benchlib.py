"""benchlib.py - what tools/bench_ingest.py and tools/bench_quant_rss.py share:
reading .fvecs / .ivecs files, starting `vitrine serve` on a free port, a
process's CPU time, and the upsert bodies encoded before a benchmark's
clock starts. Standard library and numpy (Debian's python3-numpy);
imported from the scripts' own folder."""
import os
import re
import subprocess
import sys
import time

import numpy as np


def read_vecs(path, dtype=np.float32, n=None):
    """The rows of an .fvecs (float32) or .ivecs (int32) file: per row an
    int32 dimension, then the values; the first n rows when n is given."""
    raw = np.fromfile(path, dtype=np.int32)
    dim = raw[0]
    rows = raw.reshape(-1, dim + 1)[:n]
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def start_server(vitrine, data, log_path):
    """Starts `vitrine serve` without a model on data, on a port the kernel
    picks, its output appended to log_path; returns (process, port, seconds
    until it listened). Each start's lines follow the previous ones, so a
    caller looking for the last "points loaded" reads this start's."""
    skip = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    log = open(log_path, "a")
    p = subprocess.Popen([vitrine, "serve", "--port", "0", "--data", data,
                          "--weights", "/nonexistent"],
                         stdout=log, stderr=subprocess.STDOUT)
    log.close()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 600:
        time.sleep(0.05)
        with open(log_path) as f:
            f.seek(skip)
            m = re.search(r"listening on [^ ]*:(\d+)", f.read())
        if m:
            return p, int(m.group(1)), time.perf_counter() - t0
        if p.poll() is not None:
            sys.exit("vitrine serve exited; see " + log_path)
    sys.exit("vitrine serve did not start; see " + log_path)


def cpu_seconds(pid):
    """user + system CPU time of a process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def upsert_bodies(base, batch):
    """Qdrant upsert bodies (JSON bytes) for the rows of base, batch points
    each, ids from 0: encoded once, so that a benchmark times the server,
    not Python's JSON."""
    bodies = []
    for s in range(0, len(base), batch):
        rows = base[s:s + batch]
        pts = ",".join('{"id":%d,"vector":[%s]}' % (s + i, ",".join("%.8g" % x for x in row))
                       for i, row in enumerate(rows.tolist()))
        bodies.append(('{"points":[' + pts + "]}").encode())
    return bodies
