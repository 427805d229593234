# shellcheck shell=bash
# Sourced by the end-to-end tests: free_ports N prints N free TCP ports on 127.0.0.1,
# on one line (bound at once so they differ, then released for the processes).

free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}
