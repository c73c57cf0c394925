"""A loopback OpenAI-compatible /chat/completions server for backend and CLI tests."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubServer:
    """A loopback OpenAI-compatible server that answers with `reply` (a dict, raw bytes, or a
    function of the request body) and records the requests."""

    def __init__(self, reply, status=200):
        self.reply, self.status, self.requests = reply, status, []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                reply = stub.reply(stub.requests[-1]["body"]) if callable(stub.reply) else stub.reply
                payload = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def chat_reply(text, prompt_tokens=120, completion_tokens=30, cached=100):
    return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "prompt_tokens_details": {"cached_tokens": cached}}}
