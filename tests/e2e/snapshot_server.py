"""snapshot_server.py DIR PORTFILE - the http.server that
qdrant_snapshots_http.sh recovers snapshots from: DIR's files as
SimpleHTTPRequestHandler serves them (Qdrant's own tests use that), plus a
few paths that answer what a real server may: a redirect, a redirect loop,
a chunked body, a file that needs an api-key header, and a redirect to the
same port under another host name (which must not receive the key). The
port it listens on (127.0.0.1, chosen by the kernel) goes to PORTFILE."""
import http.server
import os
import socketserver
import sys

root, portfile = sys.argv[1], sys.argv[2]
KEY = "k1"


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)

    def log_message(self, *args):
        pass

    def redirect(self, to, code=302):
        self.send_response(code)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def body(self, name):
        with open(os.path.join(root, name), "rb") as f:
            return f.read()

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/redirect":
            return self.redirect("/snap.snapshot")
        if self.path == "/redirect-relative/x":
            return self.redirect("../snap.snapshot", 301)
        if self.path == "/loop":
            return self.redirect("/loop")
        if self.path == "/chunked":
            data = self.body("snap.snapshot")
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 1000):
                part = data[i:i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/keyed":
            if self.headers.get("api-key") != KEY:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = self.body("snap.snapshot")
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.path == "/keyed-elsewhere":
            return self.redirect(f"http://localhost:{port}/keyed")
        if self.path == "/keyed-same":
            return self.redirect("/keyed")
        return super().do_GET()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


with Server(("127.0.0.1", 0), Handler) as httpd:
    with open(portfile + ".tmp", "w") as f:
        f.write(str(httpd.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    httpd.serve_forever()
