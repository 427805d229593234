#!/usr/bin/env bash
# The internal CA of the swarm's mutual TLS, the certificates it signs, and the Docker
# secrets the stack reads them from (docker-stack.yml: internal_ca, <party>_tls).
# Each service serves its internal API only to callers holding a certificate of this
# CA, and proves its own name with one (deploy/README.md, Internal TLS).
#
# Usage: internal-tls.sh COMMAND [--dir DIR] [--env-file FILE] [--dry-run]
#
#   init          make the CA if there is none, and a certificate for each party that
#                 has none (the first deploy)
#   issue         a new certificate for every party, from the current CA (renewal;
#                 step 2 of a rotation of the CA)
#   new-ca        step 1 of a rotation of the CA: a new CA; the current one is kept as
#                 the old CA, trusted beside the new one until drop-old-ca
#   drop-old-ca   step 3: stop trusting the old CA (refused while a certificate it
#                 signed is still in use)
#   secrets       create the Docker secrets of version INTERNAL_TLS_SECRET_VERSION
#                 (from the deploy settings, default 1) that do not exist yet: the
#                 trust bundle (the CA, and the old CA during a rotation) and each
#                 party's key and certificate
#   status        each certificate's name, issuer and expiry; exit status 1 when one
#                 expires within 30 days or does not chain to a trusted CA
#
#   --dir DIR        where the CA's key and the certificates are kept (default
#                    /etc/minitwit/internal-tls, mode 0700: the CA's key signs
#                    certificates every service accepts)
#   --env-file FILE  the deploy settings (default /etc/minitwit/minitwit.env)
#   --dry-run        secrets: print what would be created, create nothing
#
# Parties: user-service, message-service, follow-service and postgres (server
# certificates for their service name and tasks.<name>), gateway and prometheus
# (client certificates). Keys are
# ECDSA P-256; the CA is valid for 10 years, the others for INTERNAL_TLS_DAYS (825).
# INTERNAL_TLS_EXTRA_SAN adds names to the services' certificates (DNS:localhost for
# services called on this machine: scripts/bench.sh).
# Exit status 2: a usage or state error; nothing was changed.
set -euo pipefail

refuse() {
    echo "internal-tls: $*" >&2
    exit 2
}
usage() { sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

command=""
dir=/etc/minitwit/internal-tls
env_file=/etc/minitwit/minitwit.env
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="${2:?--dir needs a directory}"; shift 2 ;;
        --env-file) env_file="${2:?--env-file needs a file}"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        init | issue | new-ca | drop-old-ca | secrets | status)
            [ -z "$command" ] || refuse "one command at a time"
            command="$1"; shift ;;
        *) usage >&2; exit 2 ;;
    esac
done
[ -n "$command" ] || { usage >&2; exit 2; }
command -v openssl >/dev/null 2>&1 || refuse "openssl is required"

services=(user-service message-service follow-service postgres)
clients=(gateway prometheus)
days="${INTERNAL_TLS_DAYS:-825}"
[[ "$days" =~ ^[1-9][0-9]*$ ]] || refuse "INTERNAL_TLS_DAYS must be a whole number of days, not '$days'"

# --- the CA ------------------------------------------------------------------------------
# new_ca PREFIX: PREFIX.key, PREFIX.pem. Its name is unique (a random part): during a
# rotation two CAs are trusted, and a certificate must name which one signed it.
new_ca() {
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null)
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 3650 \
        -subj "/O=MiniTwit/CN=MiniTwit internal CA $(date -u +%Y-%m-%d) $(openssl rand -hex 4)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# issue PARTY: PARTY.pem, its key and its certificate from the current CA
issue() {
    local party="$1" ext usage san="" tmp
    if [[ " ${services[*]} " == *" $party "* ]]; then
        usage=serverAuth
        san="subjectAltName=DNS:$party,DNS:tasks.$party${INTERNAL_TLS_EXTRA_SAN:+,$INTERNAL_TLS_EXTRA_SAN}"
    else
        usage=clientAuth
    fi
    tmp=$(mktemp -d)
    ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$usage
$san"
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/key" 2>/dev/null)
    openssl req -new -key "$tmp/key" -subj "/O=MiniTwit/CN=$party" -out "$tmp/csr" 2>/dev/null
    openssl x509 -req -in "$tmp/csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile <(printf '%s\n' "$ext") \
        -out "$tmp/crt" 2>/dev/null
    (umask 077 && cat "$tmp/key" "$tmp/crt" >"$dir/$party.pem.new")
    mv "$dir/$party.pem.new" "$dir/$party.pem"
    rm -rf "$tmp"
    echo "issued   $party ($usage, $days days, by $(subject_of "$dir/ca.pem"))"
}

subject_of() { openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p'; }

# signed_by CERT CA: whether CERT chains to CA (time checked too)
signed_by() { openssl verify -CAfile "$2" "$1" >/dev/null 2>&1; }

need_ca() { [ -s "$dir/ca.pem" ] && [ -s "$dir/ca.key" ] || refuse "no CA in $dir: run 'internal-tls.sh init' first"; }

# the trust bundle: the CA, and the old one during a rotation
bundle() {
    cat "$dir/ca.pem"
    if [ -s "$dir/old-ca.pem" ]; then cat "$dir/old-ca.pem"; fi
}

case "$command" in
    init)
        (umask 077 && mkdir -p "$dir")
        chmod 700 "$dir"
        if [ -s "$dir/ca.pem" ]; then
            echo "exists   CA $(subject_of "$dir/ca.pem") (kept)"
        else
            new_ca "$dir/ca"
            echo "created  CA $(subject_of "$dir/ca.pem")"
        fi
        for party in "${services[@]}" "${clients[@]}"; do
            if [ -s "$dir/$party.pem" ]; then echo "exists   $party (kept)"; else issue "$party"; fi
        done
        ;;
    issue)
        need_ca
        for party in "${services[@]}" "${clients[@]}"; do issue "$party"; done
        ;;
    new-ca)
        need_ca
        [ ! -e "$dir/old-ca.pem" ] || refuse "a rotation is under way ($dir/old-ca.pem): finish it with issue, secrets, deploy, drop-old-ca first"
        mv "$dir/ca.pem" "$dir/old-ca.pem"
        mv "$dir/ca.key" "$dir/old-ca.key"
        new_ca "$dir/ca"
        echo "created  CA $(subject_of "$dir/ca.pem"); $(subject_of "$dir/old-ca.pem") stays trusted until drop-old-ca"
        ;;
    drop-old-ca)
        need_ca
        [ -e "$dir/old-ca.pem" ] || refuse "no old CA in $dir: nothing to drop"
        stale=()
        for party in "${services[@]}" "${clients[@]}"; do
            signed_by "$dir/$party.pem" "$dir/ca.pem" || stale+=("$party")
        done
        [ "${#stale[@]}" -eq 0 ] || refuse "not signed by the new CA yet: ${stale[*]} (run issue, secrets and deploy first)"
        rm -f "$dir/old-ca.pem" "$dir/old-ca.key"
        echo "dropped  the old CA: only $(subject_of "$dir/ca.pem") is trusted from the next secrets version on"
        ;;
    secrets)
        need_ca
        if [ -r "$env_file" ]; then
            # shellcheck source=/dev/null
            . "$env_file"
        fi
        version="${INTERNAL_TLS_SECRET_VERSION:-1}"
        [[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] \
            || refuse "INTERNAL_TLS_SECRET_VERSION must be a version such as 2, not '$version'"
        for party in "${services[@]}" "${clients[@]}"; do
            [ -s "$dir/$party.pem" ] || refuse "no certificate for $party in $dir: run 'internal-tls.sh init'"
            signed_by "$dir/$party.pem" <(bundle) \
                || refuse "$party's certificate is not signed by a trusted CA, or expired: run 'internal-tls.sh issue'"
        done
        created=0
        kept=0
        secret() { # secret NAME FILE-OR-COMMAND-OUTPUT
            local name="minitwit_$1_$version"
            if docker secret inspect --format '{{.ID}}' "$name" >/dev/null 2>&1; then
                echo "exists   $name (kept)"
                kept=$((kept + 1))
            elif [ "$dry_run" = 1 ]; then
                echo "would create $name"
                created=$((created + 1))
            else
                docker secret create "$name" - <"$2" >/dev/null
                echo "created  $name"
                created=$((created + 1))
            fi
        }
        secret internal_ca <(bundle)
        for party in "${services[@]}" "${clients[@]}"; do
            secret "${party//-/_}_tls" "$dir/$party.pem"
        done
        echo "internal-tls: $created $([ "$dry_run" = 1 ] && echo "to create" || echo created), $kept kept (version $version)"
        ;;
    status)
        need_ca
        failing=0
        soon=$(( $(date +%s) + 30 * 86400 ))
        for cert in ca old-ca "${services[@]}" "${clients[@]}"; do
            [ -s "$dir/$cert.pem" ] || continue
            end=$(openssl x509 -in "$dir/$cert.pem" -noout -enddate | cut -d= -f2)
            end_s=$(date -d "$end" +%s)
            note=""
            if [ "$end_s" -lt "$soon" ]; then note=" EXPIRES WITHIN 30 DAYS"; failing=1; fi
            if [[ "$cert" != *ca ]] && ! signed_by "$dir/$cert.pem" <(bundle); then
                note="$note NOT SIGNED BY A TRUSTED CA"
                failing=1
            fi
            printf '%-16s %-40s until %s%s\n' "$cert" "$(subject_of "$dir/$cert.pem")" "$(date -u -d "$end" +%Y-%m-%d)" "$note"
        done
        exit "$failing"
        ;;
esac
