#!/usr/bin/env python3
"""tests/interop/endpoint.py - one end of the socket_proxy test's stream.

  endpoint.py listen SOCKET SEND_FILE NBYTES DONE_FLAG PEER_FLAG
  endpoint.py spawn SEND_FILE NBYTES DONE_FLAG PEER_FLAG -- COMMAND...

Sends SEND_FILE and, at the same time, receives NBYTES, through a Unix
socket it listens on (accepting one connection) or through the stdin and
stdout of COMMAND. Prints the SHA-256 of what it received and its length.
It then creates DONE_FLAG and keeps its end open until PEER_FLAG exists,
because vchan-socket-proxy drops what is still in the ring when it sees
the other side close."""
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time

CHUNK = 1 << 16


def send_all(path, write):
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK)
            if not data:
                return
            write(data)


def receive(read, nbytes):
    h = hashlib.sha256()
    got = 0
    while got < nbytes:
        data = read(min(CHUNK, nbytes - got))
        if not data:
            break
        h.update(data)
        got += len(data)
    return h.hexdigest(), got


def wait_flag(path, limit=60.0):
    end = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit("endpoint: %s never appeared" % path)
        time.sleep(0.02)


def main():
    mode = sys.argv[1]
    if mode == "listen":
        sock_path, send_file, nbytes, done, peer = sys.argv[2:7]
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(sock_path)
        srv.listen(1)
        conn, _ = srv.accept()
        write, read = conn.sendall, conn.recv
        proc = None
    else:
        send_file, nbytes, done, peer = sys.argv[2:6]
        cmd = sys.argv[sys.argv.index("--") + 1:]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, bufsize=0)

        def write(data):
            proc.stdin.write(data)

        read = proc.stdout.read
    sender = threading.Thread(target=send_all, args=(send_file, write))
    sender.start()
    digest, got = receive(read, int(nbytes))
    sender.join()
    print(digest, got, flush=True)
    open(done, "w").close()
    wait_flag(peer)
    if proc is None:
        conn.close()
        srv.close()
    else:
        proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
