#!/usr/bin/env bash
# Installs the Debian packages a target needs when run as root; otherwise names exactly what to install.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
case "${1:-base}" in
  base)
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
    ;;
  test)
    have mariadbd || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
    have chromium || [ -x /usr/bin/chromium ] || need+=(chromium)
    have initdb || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
    have redis-server || need+=(redis-server)
    have php || need+=(php8.2-cli)  # the OpenCart extension: php -l and its harness (tests/extension)
    ;;
esac
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && have apt-get; then
  echo "installing system packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "missing system packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
