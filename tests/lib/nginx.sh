# shellcheck shell=bash
# Sourced by the tests that run the shipped nginx configuration outside Docker.
#
# nginx_local_copy SRC DEST HTTP_PORT HTTPS_PORT TLS_DIR WEBROOT: copies deploy/nginx
# (SRC) to DEST, changed only where the swarm's names and paths do not exist here:
# it listens on 127.0.0.1:HTTP_PORT and :HTTPS_PORT (instead of 80 and 443), reads
# TLS_DIR/fullchain.pem and privkey.pem, serves ACME challenges from WEBROOT, passes
# on to 127.0.0.1:8080 (gateway) and :3000 (Grafana), keeps its pid in DEST. The
# rest is checked and run exactly as shipped. Run it with `nginx -c DEST/nginx.conf`.
nginx_local_copy() {
    local src="$1" dest="$2" http="$3" https="$4" tls="$5" webroot="$6"
    mkdir -p "$dest"
    cp -R "$src/." "$dest/"
    rm -f "$dest/test.sh"
    # mime.types ships with nginx (the official image has it in /etc/nginx too)
    cp /etc/nginx/mime.types "$dest/mime.types"
    printf 'ssl_certificate     %s/fullchain.pem;\nssl_certificate_key %s/privkey.pem;\n' \
        "$tls" "$tls" >"$dest/minitwit/tls.conf"
    sed -i -e 's|http://tasks.gateway:8080|http://127.0.0.1:8080|' \
        -e 's|http://grafana:3000|http://127.0.0.1:3000|' "$dest/minitwit/upstream.conf"
    sed -i -e "s|listen 80 default_server;|listen 127.0.0.1:$http default_server;|" \
        -e "s|listen 443 ssl http2 default_server;|listen 127.0.0.1:$https ssl default_server;|" \
        -e '/listen \[::\]/d' -e "s|root /var/www/acme;|root $webroot;|" "$dest/minitwit/site.conf"
    sed -i -e "s|^error_log stderr warn;|&\npid $dest/nginx.pid;|" "$dest/nginx.conf"
    local missing=""
    grep -Eq 'http://(tasks\.gateway|grafana):' "$dest/minitwit/upstream.conf" && missing="upstreams"
    grep -q "listen 127.0.0.1:$https ssl" "$dest/minitwit/site.conf" || missing="$missing listen"
    grep -q "root $webroot;" "$dest/minitwit/site.conf" || missing="$missing webroot"
    grep -q "^pid $dest/nginx.pid;" "$dest/nginx.conf" || missing="$missing pid"
    if [ -n "$missing" ]; then
        echo "nginx_local_copy: the shipped config changed; could not substitute:$missing" >&2
        return 1
    fi
}
