#!/usr/bin/env bash
# Restore drill: restore the latest backup into a scratch database, compare every table's row
# count with the backup's manifest, drop the scratch database, and exit with aj's exit code
# (0 restored and verified, 1 failed, 3 configuration error, 4 verification found differences).
#
# Usage: scripts/restore-drill.sh [aj global options, e.g. --env-file /etc/aj/aj.env]
#
# Environment:
#   DRILL_SERVER_URL  PostgreSQL server for the scratch database, without a database name and
#                     without a password (use PGPASSFILE or PGPASSWORD), e.g. postgresql://drill@db-ci:5432
#   AJ                the aj executable (default: aj on PATH, else this checkout's bin/aj)
#   PSQL              psql (default: psql on PATH)
# aj itself reads its usual configuration (DATABASE_URL for the backup history, BACKUP_BUCKET, ...).
# The run is recorded as job `restore-drill`, which `aj status` counts as proof that backups restore.
set -uo pipefail

server=${DRILL_SERVER_URL:?set DRILL_SERVER_URL to the server that may host a scratch database, e.g. postgresql://drill@localhost:5432}
server=${server%/}
aj=${AJ:-$(command -v aj || echo "$(cd "$(dirname "$0")/.." && pwd)/bin/aj")}
psql=${PSQL:-psql}
scratch="aj_drill_$(date -u +%Y%m%d%H%M%S)_$$"

drop_scratch() {
  # WITH (FORCE) needs PostgreSQL 13; the drill's own connections are gone by now anyway.
  if ! "$psql" -X -q -v ON_ERROR_STOP=1 -d "$server/postgres" -c "DROP DATABASE IF EXISTS \"$scratch\"" >/dev/null; then
    echo "restore-drill: could not drop the scratch database $scratch (drop it by hand)" >&2
  fi
}
trap drop_scratch EXIT

echo "restore-drill: restoring the latest backup into $scratch" >&2
# The target travels in the environment, not argv, in case it ever carries a password.
AJ_RESTORE_TARGET_URL="$server/$scratch" "$aj" "$@" backup restore latest --create --verify --yes --json
code=$?
echo "restore-drill: aj exited $code" >&2
exit "$code"
