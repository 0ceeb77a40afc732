#!/usr/bin/env python3
"""Wyoming peers for the bridge's tests, written from the protocol's documents (rhasspy/wyoming
README "Format" and "Event Flow"; rhasspy/wyoming-satellite README and its satellite's event
handling), not from the bridge's code. Python 3 standard library only.

  satellite  listens like wyoming-satellite (tcp, one server at a time): describe -> info with a
             satellite section; on run-satellite it says `detection`, then `run-pipeline` (asr ->
             tts, snd_format 22050 Hz) and streams a WAV in real time as audio-chunk events,
             then silence, until the server's `transcript`; it saves the reply audio
             (audio-start/chunk/stop) as a WAV and answers `played`. Every event it gets is
             logged to OUT/events.jsonl; OUT/connected.N marks the N-th run-satellite. With
             --start-when PATH it hears its wake word only once PATH exists (a test starting
             several devices at once). With --play-realtime it plays the reply as a speaker
             does: a chunk takes its own duration, and the next is read only after it (a small
             receive buffer, as a device has), so the server's audio backs up in its socket.
  client     a Home Assistant-like client of the bridge's Wyoming services: describe,
             transcribe a WAV, synthesize text to a WAV, or send malformed framing.
"""
import argparse
import json
import os
import socket
import sys
import time
import wave


def write_event(sock, etype, data=None, payload=b""):
    header = {"type": etype, "version": "1.5.2"}
    data_bytes = b""
    if data:
        data_bytes = json.dumps(data).encode("utf-8")
        header["data_length"] = len(data_bytes)
    if payload:
        header["payload_length"] = len(payload)
    sock.sendall(json.dumps(header).encode("utf-8") + b"\n" + data_bytes + payload)


class Reader:
    """Reads events: a JSON header line, then data_length bytes merged into data, then
    payload_length bytes of payload."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        header = json.loads(line)
        data = header.get("data") or {}
        n = header.get("data_length") or 0
        if n:
            self._fill(n)
            data.update(json.loads(self.buf[:n]))
            self.buf = self.buf[n:]
        m = header.get("payload_length") or 0
        payload = b""
        if m:
            self._fill(m)
            payload, self.buf = self.buf[:m], self.buf[m:]
        return header["type"], data, payload


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2, "16-bit WAV expected"
        return w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())


def write_wav(path, rate, pcm):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def log(out, record):
    with open(os.path.join(out, "events.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")


def satellite(args):
    rate, channels, pcm = read_wav(args.wav) if args.wav else (16000, 1, b"")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.play_realtime:  # before listen: accepted connections inherit it
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    server.bind(("127.0.0.1", args.port))
    server.listen(1)
    open(os.path.join(args.out, "listening"), "w").close()
    runs = 0
    turns_done = 0
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = Reader(conn)
        try:
            while True:
                etype, data, payload = reader.read()
                log(args.out, {"type": etype, "data": data, "bytes": len(payload)})
                if etype == "describe":
                    write_event(conn, "info", {
                        "asr": [], "tts": [], "handle": [], "intent": [], "wake": [],
                        "satellite": {
                            "name": "test satellite", "area": "Kitchen", "installed": True,
                            "attribution": {"name": "test", "url": ""}, "description": None,
                            "version": None,
                            "snd_format": {"rate": args.snd_rate, "width": 2, "channels": 1}}})
                elif etype == "ping":
                    write_event(conn, "pong", {"text": data.get("text")})
                elif etype == "run-satellite":
                    runs += 1
                    open(os.path.join(args.out, "connected.%d" % runs), "w").close()
                    if turns_done < args.turns:
                        turns_done += 1
                        while args.start_when and not os.path.exists(args.start_when):
                            time.sleep(0.01)  # the test says when; the bridge waits meanwhile
                        run_pipeline(conn, reader, args, rate, channels, pcm)
        except (EOFError, ConnectionError, OSError) as e:
            log(args.out, {"type": "(disconnected)", "data": {"why": str(e)}, "bytes": 0})
        conn.close()


def run_pipeline(conn, reader, args, rate, channels, pcm):
    """One voice command, as a satellite with a local wake word runs it."""
    write_event(conn, "detection", {"name": "ok_nabu", "timestamp": 0})
    write_event(conn, "run-pipeline", {
        "start_stage": "asr", "end_stage": "tts", "restart_on_end": False,
        "snd_format": {"rate": args.snd_rate, "width": 2, "channels": 1}})
    # The microphone: 1024 samples per chunk, in real time; then silence until the transcript.
    samples = 1024
    step = samples * 2 * channels
    silence = b"\0" * step
    start = time.monotonic()
    sent = 0
    conn.setblocking(False)
    pending = b""
    streaming = True
    reply = bytearray()
    reply_rate = None
    woken_over_reply = False
    deadline = start + 120
    while time.monotonic() < deadline:
        if streaming:
            at = sent * step
            chunk = pcm[at:at + step] if at < len(pcm) else silence
            write_event_blocking(conn, "audio-chunk", {"rate": rate, "width": 2, "channels": channels},
                                 chunk)
            sent += 1
            due = start + sent * samples / rate
        else:
            due = time.monotonic() + 0.05
        # Read whatever the server said meanwhile, until the next chunk is due.
        while True:
            left = due - time.monotonic()
            if left <= 0:
                break
            conn.settimeout(left)
            try:
                got = conn.recv(65536)
            except socket.timeout:
                break
            if not got:
                raise EOFError("connection closed")
            reader.buf += got
            while has_event(reader):
                etype, data, payload = reader.read()
                log(args.out, {"type": etype, "data": data, "bytes": len(payload)})
                if etype == "transcript":
                    streaming = False  # a satellite stops streaming at the transcript
                elif etype == "ping":
                    write_event_blocking(conn, "pong", {"text": data.get("text")})
                elif etype == "audio-start":
                    reply_rate = data["rate"]
                elif etype == "audio-chunk":
                    reply_rate = data["rate"]
                    reply.extend(payload)
                    heard_ms = 1000.0 * len(reply) / (2.0 * data.get("channels", 1) * reply_rate)
                    if (args.wake_over_reply_ms is not None and not woken_over_reply
                            and heard_ms >= args.wake_over_reply_ms):
                        # The wake word said over the reply: a new pipeline, no audio for it.
                        woken_over_reply = True
                        write_event_blocking(conn, "detection", {"name": "ok_nabu", "timestamp": 0})
                        write_event_blocking(conn, "run-pipeline", {
                            "start_stage": "asr", "end_stage": "tts", "restart_on_end": False,
                            "snd_format": {"rate": args.snd_rate, "width": 2, "channels": 1}})
                        log(args.out, {"type": "(run-pipeline sent over the reply)", "data": {},
                                       "bytes": len(reply)})
                    if args.play_realtime:  # the speaker takes it at its own pace
                        time.sleep(len(payload) / (2.0 * data.get("channels", 1) * reply_rate))
                elif etype == "audio-stop":
                    write_wav(os.path.join(args.out, "reply.wav"), reply_rate or args.snd_rate,
                              bytes(reply))
                    write_event_blocking(conn, "played")
                    log(args.out, {"type": "(played sent)", "data": {}, "bytes": len(reply)})
                    conn.setblocking(True)
                    return
                elif etype == "error":
                    log(args.out, {"type": "(pipeline error)", "data": data, "bytes": 0})
    conn.setblocking(True)


def has_event(reader):
    """True if reader.buf holds one whole event (header, data and payload)."""
    if b"\n" not in reader.buf:
        return False
    line, rest = reader.buf.split(b"\n", 1)
    header = json.loads(line)
    return len(rest) >= (header.get("data_length") or 0) + (header.get("payload_length") or 0)


def write_event_blocking(conn, etype, data=None, payload=b""):
    conn.setblocking(True)
    write_event(conn, etype, data, payload)
    conn.setblocking(False)


def client(args):
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=60)
    reader = Reader(sock)
    result = {}
    if args.action == "describe":
        write_event(sock, "describe")
        etype, data, _ = reader.read()
        result = {"type": etype, "data": data}
    elif args.action == "transcribe":
        rate, channels, pcm = read_wav(args.wav)
        write_event(sock, "transcribe", {"language": "en"})
        write_event(sock, "audio-start", {"rate": rate, "width": 2, "channels": channels})
        step = 1024 * 2 * channels
        for at in range(0, len(pcm), step):
            write_event(sock, "audio-chunk", {"rate": rate, "width": 2, "channels": channels},
                        pcm[at:at + step])
        write_event(sock, "audio-stop")
        etype, data, _ = reader.read()
        result = {"type": etype, "data": data}
    elif args.action == "synthesize":
        write_event(sock, "synthesize", {"text": args.text})
        pcm = bytearray()
        rate = None
        events = []
        while True:
            etype, data, payload = reader.read()
            events.append(etype)
            if etype in ("audio-start", "audio-chunk"):
                rate = data["rate"]
            if etype == "audio-chunk":
                pcm.extend(payload)
            if etype in ("audio-stop", "error"):
                result = {"type": etype, "data": data, "rate": rate, "events": sorted(set(events))}
                break
        if rate:
            write_wav(args.out, rate, bytes(pcm))
    elif args.action == "bad-header":  # a header line that never ends
        try:
            sock.sendall(b"{\"type\":\"" + b"a" * 100000)
        except OSError:
            pass  # the server may stop reading once the limit is passed
        etype, data, _ = reader.read()
        result = {"type": etype, "data": data}
    elif args.action == "bad-payload":  # a payload over any sane limit
        sock.sendall(b"{\"type\":\"audio-chunk\",\"payload_length\":1000000000}\n")
        etype, data, _ = reader.read()
        result = {"type": etype, "data": data}
    elif args.action == "hold":  # keeps a connection open (describe first) until killed
        write_event(sock, "describe")
        etype, data, _ = reader.read()
        print(json.dumps({"type": etype}), flush=True)
        while sock.recv(1024):
            pass
        return
    try:  # after an error the server closes framing-broken connections
        sock.settimeout(2)
        result["closed"] = sock.recv(1) == b""
    except socket.timeout:
        result["closed"] = False
    print(json.dumps(result), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("satellite")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--wav")
    s.add_argument("--turns", type=int, default=1)
    s.add_argument("--snd-rate", type=int, default=22050)
    s.add_argument("--start-when")
    s.add_argument("--play-realtime", action="store_true")
    s.add_argument("--wake-over-reply-ms", type=float)  # that far into the reply
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("action")
    c.add_argument("--wav")
    c.add_argument("--text")
    c.add_argument("--out")
    args = p.parse_args()
    if args.mode == "satellite":
        os.makedirs(args.out, exist_ok=True)
        satellite(args)
    else:
        client(args)


if __name__ == "__main__":
    sys.exit(main())
