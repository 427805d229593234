# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/scripts/smoke.sh against a local HTTP server standing in for nginx.

# site STATUS_LATEST BODY_LATEST: serve /health, /public and /latest on a free
# port; sets $SITE (base URL). The server dies with the case's subshell.
site() {
  printf '%s' "$2" >"$FAKE/latest.body"
  python3 - "$1" "$FAKE/latest.body" "$FAKE/port" <<'PY' &
import http.server, sys
status, body_file, port_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            code, body, kind = 200, b"ok", "text/plain"
        elif self.path == "/public":
            code, body, kind = 200, b"<h2>Public Timeline</h2>", "text/html"
        elif self.path == "/latest":
            code, body, kind = status, open(body_file, "rb").read(), "application/json"
        else:
            code, body, kind = 404, b"not found", "text/plain"
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file + ".tmp", "w").write(str(srv.server_port))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
  SITE_PID=$!
  trap 'kill "$SITE_PID" 2>/dev/null; rm -rf "$FAKE"' EXIT
  local _
  for _ in $(seq 1 50); do
    [ -s "$FAKE/port" ] && break
    sleep 0.1
  done
  SITE="http://127.0.0.1:$(cat "$FAKE/port")"
}

smoke() { SMOKE_ATTEMPTS=1 run "$SCRIPTS/smoke.sh" "$SITE"; }

smoke_passes_when_on_the_allow_list() {
  site 200 '{"latest": 1234}'
  smoke
  expect_status "$rc" 0
  expect_in "$out" "this client is on the allow-list"
}
register smoke_passes_when_on_the_allow_list

# The review's defect: a real allow-list made every deploy's smoke test fail.
smoke_passes_when_the_allow_list_refuses_this_client() {
  site 403 '{"status": 403, "error_msg": "You are not authorized to use this resource!"}'
  smoke
  expect_status "$rc" 0
  expect_in "$out" "the simulator API refused this client"
  # and an operator who knows which it must be can say so
  SMOKE_LATEST=allowed smoke
  expect_status "$rc" 1
  expect_in "$out" "GET /latest: HTTP 403 (expected allowed)"
}
register smoke_passes_when_the_allow_list_refuses_this_client

smoke_fails_on_a_403_that_is_not_the_gateways() {
  site 403 '<html><body>403 Forbidden</body></html>'
  smoke
  expect_status "$rc" 1
  expect_in "$out" "a 403 that is not the simulator API's"
}
register smoke_fails_on_a_403_that_is_not_the_gateways

smoke_fails_on_a_bad_gateway() {
  site 502 '<html>502 Bad Gateway</html>'
  smoke
  expect_status "$rc" 1
  expect_in "$out" "GET /latest: HTTP 502"
}
register smoke_fails_on_a_bad_gateway
