"""qdrant_http.py - a vitrine server for the Python e2e scripts: start one on
a free port with a data folder in WORK, stop it, and send JSON requests.
Used by qdrant_facet.py and qdrant_strict.py."""
import atexit, json, os, re, subprocess, sys, time, urllib.error, urllib.request


class Server:
    def __init__(self, name, binary, work):
        self.name, self.binary, self.work = name, binary, work
        self.log = os.path.join(work, "serve.log")
        self.proc = None
        self.base = None
        self.headers = {}  # the last response's headers

    def fail(self, msg):
        print("%s: FAIL: %s" % (self.name, msg))
        try:
            print("--- server log")
            print("".join(open(self.log).readlines()[-20:]))
        except OSError:
            pass
        if self.proc:
            self.proc.kill()
        sys.exit(1)

    def start(self):
        logf = open(self.log, "w")
        # A script that dies of an exception must not leave its server running.
        atexit.register(self.kill)
        self.proc = subprocess.Popen([self.binary, "serve", "--port", "0", "--data",
                                      os.path.join(self.work, "data"), "--weights",
                                      os.path.join(self.work, "no-weights")], stderr=logf)
        for _ in range(100):
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(self.log).read())
            if m:
                self.base = "http://127.0.0.1:" + m.group(1)
                return
            if self.proc.poll() is not None:
                self.fail("server exited early")
            time.sleep(0.1)
        self.fail("no 'listening on' line")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        self.proc.terminate()
        if self.proc.wait(20) != 0:
            self.fail("server exit status %d" % self.proc.returncode)
        self.proc = None

    def req(self, method, path, body=None):
        """(status, parsed JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.base + path, data=data, method=method,
                                   headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                self.headers = dict(resp.headers)
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            self.headers = dict(e.headers)
            return e.code, json.loads(e.read())

    def ok(self, method, path, body=None):
        """The result of a request that must answer 200."""
        code, out = self.req(method, path, body)
        if code != 200:
            self.fail("%s %s: %d %s" % (method, path, code, out))
        return out["result"]
