"""A loopback HTTP server for tests of outbound calls (PACS): it counts what reaches it."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class Listener:
    """A loopback HTTP server that counts connections and answers every request with
    ``status``, ``body`` and ``headers``, or with what ``answer(path)`` returns for them."""

    def __init__(self, status=200, body=b"[]", headers=None, answer=None):
        listener = self
        self.connections = 0
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                listener.requests += 1
                code, content, extra = answer(self.path) if answer else (status, body, headers)
                extra = {"Content-Type": "application/dicom+json", **(extra or {})}
                self.send_response(code)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        class CountingServer(HTTPServer):
            def get_request(self):
                request = super().get_request()
                listener.connections += 1
                return request

        self.server = CountingServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
