"""A small HTTP/1.1 server for the serving benchmark: one thread, keep-alive, a short body per request, and
`GET /quit` to end (so a recorder around it writes its trace)."""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, each response waits for a delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/quit":
            self.server.running = False

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.running = True
while server.running:
    server.handle_request()
