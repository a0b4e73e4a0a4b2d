# Sourced by `make test`: makes the services the tests need available and exports
# XIAOAN_TEST_DATABASE_URL. Where it can (root with apt) it installs the Debian packages
# postgresql-15-postgis-3, mosquitto, chromium, chromium-driver, fonts-noto-cjk and
# poppler-utils, starts PostgreSQL if it is not running, and creates the test database with
# the postgis extension.
# Set XIAOAN_TEST_DATABASE_URL yourself to use another PostGIS server.

_xiaoan_need=()
_xiaoan_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || _xiaoan_need+=("$1"); }
if command -v dpkg-query >/dev/null 2>&1; then
  [ -n "${XIAOAN_TEST_DATABASE_URL:-}" ] || _xiaoan_pkg postgresql-15-postgis-3
  _xiaoan_pkg mosquitto
  _xiaoan_pkg chromium
  _xiaoan_pkg chromium-driver
  _xiaoan_pkg fonts-noto-cjk   # Chinese text: headless Chromium, the PNG pictures, PDFs
  _xiaoan_pkg poppler-utils    # pdftoppm/pdftotext: tests look at the PDFs
  if [ ${#_xiaoan_need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "services: installing ${_xiaoan_need[*]} with apt-get" >&2
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${_xiaoan_need[@]}" >/dev/null 2>&1 \
        || echo "services: apt-get install ${_xiaoan_need[*]} failed; the tests that need them will skip (and fail in CI)" >&2
    else
      echo "services: missing ${_xiaoan_need[*]} (not root or no apt); tests that need them will skip" >&2
    fi
  fi
fi

if [ -z "${XIAOAN_TEST_DATABASE_URL:-}" ]; then
  _pg_host=127.0.0.1
  if ! pg_isready -q -h "$_pg_host" 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      echo "services: starting PostgreSQL" >&2
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start 2>/dev/null || true
      for _i in $(seq 1 30); do pg_isready -q -h "$_pg_host" && break; sleep 1; done
    fi
  fi
  if pg_isready -q -h "$_pg_host" 2>/dev/null; then
    _psql=(psql -h "$_pg_host" -U postgres -v ON_ERROR_STOP=1 -qtA)
    if ! "${_psql[@]}" -d postgres -c "select 1 from pg_database where datname='xiaoan_test'" | grep -q 1; then
      "${_psql[@]}" -d postgres -c "CREATE DATABASE xiaoan_test" >/dev/null
    fi
    if "${_psql[@]}" -d xiaoan_test -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null 2>&1; then
      export XIAOAN_TEST_DATABASE_URL="postgresql+psycopg://postgres@${_pg_host}:5432/xiaoan_test"
      echo "services: PostGIS test database ready: $XIAOAN_TEST_DATABASE_URL" >&2
    else
      echo "services: could not enable postgis in xiaoan_test; PostGIS tests will skip (and fail in CI)" >&2
    fi
  else
    echo "services: no PostgreSQL reachable on $_pg_host; PostGIS tests will skip (and fail in CI)" >&2
  fi
fi
unset _xiaoan_need _pg_host _psql _i
