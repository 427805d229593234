# shellcheck shell=bash
# Sourced by the end-to-end tests that make databases of their own on the admin
# connection scripts/postgres.sh gives (MINITWIT_TEST_DATABASE_URL).
#
# pg_db_url ADMIN_URL DATABASE [USER PASSWORD]: prints ADMIN_URL with DATABASE as its
# database and, when USER is given, USER and PASSWORD (percent-encoded) as its
# credentials; scheme, host, port and query stay. Needs python3.
pg_db_url() {
    python3 - "$@" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit, quote
admin, db, user, pw = (sys.argv[1:] + ["", ""])[:4]
u = urlsplit(admin)
if user:
    netloc = "%s:%s@%s" % (quote(user, safe=""), quote(pw, safe=""), u.hostname)
    if u.port:
        netloc += ":%d" % u.port
else:
    netloc = u.netloc
print(urlunsplit((u.scheme, netloc, "/" + db, u.query, "")))
PY
}
