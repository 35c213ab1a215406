#!/usr/bin/env python3
"""Hostile client for benchmarks/attack_bench.sh (python3 standard library).

    attack_client.py HOST PORT SECONDS [--slow N] [--idle N] [--workers N]

For SECONDS it keeps, at the same time:
  - N slow connections (default 300) that send a request's headers one
    byte at a time, a byte per connection every second or so, and never
    finish them;
  - N idle connections (default 100) that send nothing;
  - N workers (default 4) sending malformed and hostile requests back to
    back: oversized and truncated bodies, invalid UTF-8 and deeply nested
    JSON to POST /v1/events, absurd k and offset, path tricks, huge headers.
Then it prints one JSON line: requests sent per kind, answers per kind and
status, answers per status class, the 5xx count, and connections the
server closed without an answer.
"""
import json
import select
import socket
import sys
import threading
import time

HOST, PORT, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))
N_SLOW = int(opts.get("--slow", 300))
N_IDLE = int(opts.get("--idle", 100))
N_WORKERS = int(opts.get("--workers", 4))

lock = threading.Lock()
stats = {"sent": {}, "status": {}, "answers": {}, "closed_without_answer": 0,
         "connect_errors": 0, "slow_reconnects": 0, "idle_reconnects": 0}
deadline = time.monotonic() + SECONDS


def count(group, key, n=1):
    with lock:
        d = stats[group] if group else stats
        d[key] = d.get(key, 0) + n


def request(method, target, headers=(), body=b"", length=None):
    head = f"{method} {target} HTTP/1.1\r\nHost: {HOST}\r\n"
    head += "Connection: close\r\n"
    for h in headers:
        head += h + "\r\n"
    if body or length is not None:
        head += f"Content-Length: {len(body) if length is None else length}\r\n"
        if method == "POST":
            head += "Content-Type: application/json\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def bad_utf8_events():
    return (b'{"events":[{"user_id":"u\xff\xfe","item_id":"i\xc0\xaf",'
            b'"type":"view"}]}')


def nested(depth):
    return b'{"events":' + b"[" * depth + b"]" * depth + b"}"


# (kind, bytes to send, whether to hang up without reading the answer)
CASES = [
    ("huge_body_413", request("POST", "/v1/events", length=50 << 20,
                              body=b"") + b"[" * (256 << 10), False),
    ("truncated_body", request("POST", "/v1/events", length=5000) +
     b'{"events":[', True),
    ("invalid_utf8", request("POST", "/v1/events", body=bad_utf8_events()),
     False),
    ("deep_nesting", request("POST", "/v1/events", body=nested(100000)),
     False),
    ("not_json", request("POST", "/v1/events", body=b"\x00\x01garbage}"),
     False),
    ("absurd_k", request("GET", "/v1/users/u1/recommendations"
                         "?k=99999999999999999999999&offset=-7"), False),
    ("bad_k_text", request("GET", "/v1/users/u1/recommendations"
                           "?k=abc&offset=1e9&exclude_seen=maybe"), False),
    ("path_dotdot", request("GET", "/v1/users/..%2F..%2Fetc%2Fpasswd/"
                            "recommendations"), False),
    ("path_nul", request("GET", "/v1/users/%00/recommendations"), False),
    ("path_double", request("GET", "/v1/users/%252e%252e/recommendations"),
     False),
    ("path_overlong", request("GET", "/v1/users/%C0%AE%C0%AE/"
                              "recommendations"), False),
    ("path_200k", request("GET", "/v1/users/" + "a" * 200000 +
                          "/recommendations"), False),
    ("header_200k", request("GET", "/v1/users/u1/recommendations",
                            headers=["X-Big: " + "b" * 200000]), False),
    ("bad_method", request("BREW", "/v1/users/u1/recommendations"), False),
    ("garbage_line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 20,
     False),
]


def status_of(reply):
    if not reply.startswith(b"HTTP/"):
        return None
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def one(kind, data, hang_up):
    try:
        s = socket.create_connection((HOST, PORT), timeout=10)
    except OSError:
        count(None, "connect_errors")
        return
    count("sent", kind)
    reply = b""
    try:
        s.sendall(data)
        # A complete request is not followed by shutdown(SHUT_WR): like
        # Go's and hyper's, the server takes a read EOF for a client that
        # has gone away and drops a request still being searched. Bytes
        # that are no request are, or the server would wait for the rest.
        if not hang_up:
            if b"\r\n\r\n" not in data:
                s.shutdown(socket.SHUT_WR)
            while len(reply) < 64:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        pass  # the server may close a hostile request mid-send
    finally:
        s.close()
    if hang_up:
        return
    code = status_of(reply)
    count("answers", f"{kind}:{code if code is not None else 'closed'}")
    if code is None:
        count(None, "closed_without_answer")
    else:
        count("status", f"{code // 100}xx")
        if code >= 500:
            count("status", f"5xx_{kind}")


def worker(offset):
    i = offset
    while time.monotonic() < deadline:
        kind, data, hang_up = CASES[i % len(CASES)]
        one(kind, data, hang_up)
        i += 1
        time.sleep(0.01)


def connect_nonblocking():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((HOST, PORT))
    return s


def holders():
    """Slow and idle connections, reopened whenever the server drops one."""
    slow_text = (b"GET /v1/users/u1/recommendations HTTP/1.1\r\nHost: x\r\n" +
                 b"".join(b"X-Trickle-%d: y\r\n" % n for n in range(10000)))
    slow = [[connect_nonblocking(), 0] for _ in range(N_SLOW)]
    idle = [connect_nonblocking() for _ in range(N_IDLE)]
    step = 1.0 / max(N_SLOW, 1)
    while time.monotonic() < deadline:
        for entry in slow:
            s, pos = entry
            try:
                if s.send(slow_text[pos:pos + 1]) == 1:
                    entry[1] = pos + 1
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                entry[0], entry[1] = connect_nonblocking(), 0
                count(None, "slow_reconnects")
            time.sleep(step)
            if time.monotonic() >= deadline:
                break
        # Idle sockets the server closed read as end of file: reopen them.
        # (poll, not select: there may be more than 1024 descriptors.)
        poller = select.poll()
        by_fd = {}
        for s in idle:
            poller.register(s, select.POLLIN)
            by_fd[s.fileno()] = s
        for fd, _ in poller.poll(0):
            s = by_fd[fd]
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                idle[idle.index(s)] = connect_nonblocking()
                s.close()
                count(None, "idle_reconnects")
            elif status_of(data) is not None and status_of(data) >= 500:
                count("status", "5xx_idle")
    for s, _ in slow:
        s.close()
    for s in idle:
        s.close()


threads = [threading.Thread(target=holders)]
threads += [threading.Thread(target=worker, args=(k * 3,))
            for k in range(N_WORKERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
stats["5xx"] = stats["status"].get("5xx", 0)
print(json.dumps(stats, sort_keys=True))
