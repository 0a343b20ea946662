"""A slow network link on loopback, for tests: a TCP proxy that forwards what a client sends at
once and what the server sends at RATE bytes per second.

Loopback is no real network: its 64 KB segments let the kernel take megabytes from a sender
whatever the reader does, so a server never sees backpressure. This proxy's server-side socket
announces a 1400-byte segment size and a small receive buffer before it connects, as a client
across the internet would, so the server's kernel buffers little and the server's own send
buffer fills when the client is slow. Node cannot set these socket options, hence Python.

Usage: python3 slow-link.py <server host> <server port> <bytes per second>
Prints the port it listens on (127.0.0.1), then serves until killed.
"""
import socket
import sys
import threading
import time

SERVER_HOST, SERVER_PORT, RATE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MSS = 1400
RECEIVE_BUFFER = 32 * 1024
CHUNK = 4096


def pump(source, target, rate):
    """Copy until either side closes; at `rate` bytes per second when given."""
    try:
        while True:
            data = source.recv(CHUNK)
            if not data:
                break
            target.sendall(data)
            if rate:
                time.sleep(len(data) / rate)
    except OSError:
        pass
    for s in (source, target):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    try:
        server.connect((SERVER_HOST, SERVER_PORT))
    except OSError:
        client.close()
        return
    threading.Thread(target=pump, args=(client, server, 0), daemon=True).start()
    pump(server, client, RATE)
    client.close()
    server.close()


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
