#!/usr/bin/env python3
"""A small MCP server for the bridge's MCP client tests, written from the Model Context Protocol
specification (modelcontextprotocol.io/specification/2025-06-18 and 2025-11-25: basic/lifecycle,
basic/transports, basic/utilities/cancellation, server/tools), not from the client it tests.

  mcp_test_server.py stdio LOG          newline-delimited JSON-RPC on stdin/stdout
  mcp_test_server.py http PORT LOG      Streamable HTTP on http://127.0.0.1:PORT/mcp

Tools (tools/list pages of two, with nextCursor):
  echo {text}   answers "echo: <text>"
  fail {}       a tool error (isError: true) the model should hear about
  slow {ms}     answers after ms milliseconds, or never if cancelled (notifications/cancelled)
  add_tool {}   adds the tool "extra" and sends notifications/tools/list_changed
  extra {}      (after add_tool) answers "extra"

LOG gets one line per event, flushed at once, for the test to wait on: "started <pid>",
"initialized", "call <name> <id>", "cancelled <id>", "list".
Python 3 standard library only.
"""
import json
import os
import queue
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
PAGE = 2

log_lock = threading.Lock()
log_path = None


def log(line):
    with log_lock:
        with open(log_path, "a") as f:
            f.write(line + "\n")


class Server:
    """The protocol, apart from the transport: handle() returns the response (or None)."""

    def __init__(self, notify):
        self.notify = notify  # sends a notification to the client
        self.tools = [
            {"name": "echo", "description": "Says the text back.",
             "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                             "required": ["text"]}},
            {"name": "fail", "description": "Always fails.",
             "inputSchema": {"type": "object", "properties": {}}},
            {"name": "slow", "description": "Answers after a while.",
             "inputSchema": {"type": "object", "properties": {"ms": {"type": "integer"}}}},
            {"name": "add_tool", "description": "Adds the tool extra.",
             "inputSchema": {"type": "object"}},
        ]
        self.cancelled = set()
        self.lock = threading.Lock()

    def handle(self, msg):
        method, mid = msg.get("method"), msg.get("id")
        if method is None:
            return None  # a response from the client: we send no requests
        if mid is None:  # a notification
            if method == "notifications/initialized":
                log("initialized")
            elif method == "notifications/cancelled":
                rid = msg.get("params", {}).get("requestId")
                with self.lock:
                    self.cancelled.add(rid)
                log("cancelled %s" % rid)
            return None
        params = msg.get("params") or {}
        if method == "initialize":
            asked = params.get("protocolVersion")
            return self.result(mid, {
                "protocolVersion": asked if asked in VERSIONS else VERSIONS[0],
                "capabilities": {"tools": {"listChanged": True}},
                "serverInfo": {"name": "earshot-test-server", "version": "1.0"}})
        if method == "ping":
            return self.result(mid, {})
        if method == "tools/list":
            log("list")
            start = int(params.get("cursor") or "0")
            with self.lock:
                page = self.tools[start:start + PAGE]
                more = start + PAGE < len(self.tools)
            result = {"tools": page}
            if more:
                result["nextCursor"] = str(start + PAGE)
            return self.result(mid, result)
        if method == "tools/call":
            return self.call(mid, params.get("name"), params.get("arguments") or {})
        return {"jsonrpc": "2.0", "id": mid,
                "error": {"code": -32601, "message": "Method not found: %s" % method}}

    def call(self, mid, name, args):
        log("call %s %s" % (name, mid))
        text = lambda t, error=False: self.result(
            mid, {"content": [{"type": "text", "text": t}], "isError": error})
        if name == "echo":
            return text("echo: %s" % args.get("text", ""))
        if name == "fail":
            return text("the lights are unreachable", error=True)
        if name == "slow":
            end = time.monotonic() + args.get("ms", 1000) / 1000.0
            while time.monotonic() < end:
                with self.lock:
                    if mid in self.cancelled:
                        return None  # cancelled: the specification says send no response
                time.sleep(0.01)
            return text("done after %d ms" % args.get("ms", 1000))
        if name == "add_tool":
            with self.lock:
                if not any(t["name"] == "extra" for t in self.tools):
                    self.tools.append({"name": "extra", "description": "Added later.",
                                       "inputSchema": {"type": "object"}})
            self.notify({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            return text("added")
        if name == "extra":
            return text("extra")
        return {"jsonrpc": "2.0", "id": mid,
                "error": {"code": -32602, "message": "Unknown tool: %s" % name}}

    @staticmethod
    def result(mid, result):
        return {"jsonrpc": "2.0", "id": mid, "result": result}


def run_stdio():
    out_lock = threading.Lock()

    def send(msg):
        with out_lock:
            sys.stdout.write(json.dumps(msg) + "\n")
            sys.stdout.flush()

    server = Server(send)

    def serve(msg):
        response = server.handle(msg)
        if response is not None:
            send(response)

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        # Each request on a thread of its own, so a slow call does not hold up a cancellation.
        threading.Thread(target=serve, args=(msg,), daemon=True).start()


def run_http(port):
    sessions = {}  # session id -> queue of messages for its GET stream
    sessions_lock = threading.Lock()

    def notify_all(msg):
        with sessions_lock:
            for q in sessions.values():
                q.put(msg)

    server = Server(notify_all)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"", content_type=None, headers=()):
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def session(self):
            sid = self.headers.get("Mcp-Session-Id")
            with sessions_lock:
                return sid if sid in sessions else None

        def do_POST(self):
            if self.path != "/mcp":
                return self.reply(404)
            accept = self.headers.get("Accept", "")
            if "application/json" not in accept or "text/event-stream" not in accept:
                return self.reply(406, b"Accept must list application/json and text/event-stream")
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            msg = json.loads(body)
            if msg.get("method") == "initialize":
                sid = uuid.uuid4().hex
                with sessions_lock:
                    sessions[sid] = queue.Queue()
                data = json.dumps(server.handle(msg)).encode()
                return self.reply(200, data, "application/json", [("Mcp-Session-Id", sid)])
            if self.headers.get("Mcp-Session-Id") is None:
                return self.reply(400, b"Mcp-Session-Id missing")
            if self.session() is None:
                return self.reply(404, b"no such session")
            if self.headers.get("MCP-Protocol-Version") not in VERSIONS:
                return self.reply(400, b"MCP-Protocol-Version missing or unsupported")
            response = server.handle(msg)
            if "id" not in msg or "method" not in msg:
                return self.reply(202)  # a notification or a response: accepted
            # Requests are answered as an SSE stream that carries a notification before the
            # response (a log message), then ends.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            note = {"jsonrpc": "2.0", "method": "notifications/message",
                    "params": {"level": "info", "data": "working on %s" % msg["method"]}}
            self.wfile.write(("event: message\ndata: %s\n\n" % json.dumps(note)).encode())
            self.wfile.flush()
            if response is not None:
                self.wfile.write(("id: 1\nevent: message\ndata: %s\n\n"
                                  % json.dumps(response)).encode())
            self.wfile.flush()
            self.close_connection = True

        def do_GET(self):
            sid = self.session()
            if self.path != "/mcp" or sid is None:
                return self.reply(404 if sid is None else 404)
            if "text/event-stream" not in self.headers.get("Accept", ""):
                return self.reply(406)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b": stream open\n\n")
            self.wfile.flush()
            self.close_connection = True
            with sessions_lock:
                q = sessions[sid]
            while True:
                try:
                    msg = q.get(timeout=0.5)
                except queue.Empty:
                    try:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
                    except OSError:
                        return
                    continue
                self.wfile.write(("data: %s\n\n" % json.dumps(msg)).encode())
                self.wfile.flush()

    # A test that crashes cannot stop us: leave when the parent is gone (we are re-parented).
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    log("listening %d" % port)
    httpd.serve_forever()


if __name__ == "__main__":
    log_path = sys.argv[-1]
    log("started %d" % os.getpid())
    if sys.argv[1] == "stdio":
        run_stdio()
    else:
        run_http(int(sys.argv[2]))
