#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `start DIR` makes one in DIR (which must
# be empty) listening only on a Unix socket in DIR, and prints the libpq connection
# string the tests read from RULEWATCH_TEST_POSTGRES; `stop DIR` stops it and removes DIR.
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
        "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
            -o "-k $dir -c listen_addresses='' -c fsync=off -c max_connections=200" start >/dev/null ||
            { cat "$dir/server.log" >&2; exit 1; }
        echo "host=$dir user=rulewatch dbname=postgres"
        ;;
    stop)
        if [[ -d "$dir/data" ]]; then
            "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
        ;;
esac
