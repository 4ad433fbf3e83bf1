"""A model server: loads a model and answers HTTP requests with its predictions, on the GPU when there is one."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import torch

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
MODEL = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)).to(DEVICE).eval()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with torch.no_grad():
            scores = MODEL(torch.tensor(body["inputs"], dtype=torch.float32, device=DEVICE)).tolist()
        payload = json.dumps({"scores": scores}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


if __name__ == "__main__":
    # `docker stop` sends SIGTERM: shut down as in production, so a recording ends complete.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
