#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `start DIR` makes one in DIR (which must
# be empty) listening only on a Unix socket in DIR, and prints the libpq connection
# string the tests read from RULEWATCH_TEST_POSTGRES; `stop DIR` stops it and removes DIR.
# The cluster also listens on 127.0.0.1 (the port in DIR/port) for TLS only, with a
# certificate for "localhost" from a CA of its own (DIR/tls/ca.pem), and asks for the
# password `team-test-password` there: the tests of `rulewatch team join` connect so.
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user
# that Debian's package creates.
set -euo pipefail
action=${1:-}
dir=${2:-}
if [[ -z "$dir" || ( "$action" != start && "$action" != stop ) ]]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z "$bin" ]]; then
    echo "PostgreSQL's server is not installed: run scripts/install-deps.sh test" >&2
    exit 1
fi
as=()
if [[ $(id -u) == 0 ]]; then
    as=(runuser -u postgres --)
fi
case "$action" in
    start)
        chown "$( [[ ${#as[@]} -gt 0 ]] && echo postgres || id -un )" "$dir"
        chmod 700 "$dir"
        # trust: only this user can reach the socket in a private folder. fsync off:
        # the cluster is thrown away, and the tests then spend their time on the store.
        "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U rulewatch -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
        mkdir "$dir/tls"
        (
            cd "$dir/tls"
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Rulewatch test CA" \
                -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE \
                -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key \
                -out server.csr 2>/dev/null
            printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                -extfile ext -out server.pem 2>/dev/null
            chmod 600 server.key ca.key
        )
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        echo "$port" >"$dir/port"
        cat >"$dir/hba" <<HBA
local all all trust
hostssl all all 127.0.0.1/32 scram-sha-256
host all all 0.0.0.0/0 reject
HBA
        [[ ${#as[@]} -gt 0 ]] && chown -R postgres "$dir/tls" "$dir/hba" "$dir/port"
        "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
            -o "-k $dir -c listen_addresses=127.0.0.1 -c port=$port -c fsync=off -c max_connections=200 \
                -c ssl=on -c ssl_cert_file=$dir/tls/server.pem -c ssl_key_file=$dir/tls/server.key \
                -c hba_file=$dir/hba" start >/dev/null ||
            { cat "$dir/server.log" >&2; exit 1; }
        "${as[@]}" psql -q -h "$dir" -p "$port" -U rulewatch -d postgres \
            -c "ALTER ROLE rulewatch PASSWORD 'team-test-password'" >/dev/null
        echo "host=$dir port=$port user=rulewatch dbname=postgres"
        ;;
    stop)
        if [[ -d "$dir/data" ]]; then
            "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
        ;;
esac
