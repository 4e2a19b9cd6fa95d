#!/bin/sh
# Installs what Nimbus needs on a fresh Debian 12 machine (idempotent, fast when nothing changed),
# then builds dist/. Called by `npm start` and `npm test`.
set -eu
cd "$(dirname "$0")/.."

need_apt=""
command -v node >/dev/null 2>&1 || need_apt="$need_apt nodejs npm"
command -v python3 >/dev/null 2>&1 || need_apt="$need_apt python3"
if [ -n "$need_apt" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq $need_apt
  else
    echo "nimbus: missing$need_apt; install them (as root: apt-get install$need_apt)" >&2
    exit 1
  fi
fi

# Debian packages for engines and test clients (scripts/debian-packages.txt), when root with apt.
pkgs=$(sed -e 's/#.*//' scripts/debian-packages.txt | tr -s ' \t' '\n' | grep -v '^$' || true)
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "nimbus: installing Debian packages:$missing" >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null; }
  else
    echo "nimbus: missing Debian packages:$missing (as root: apt-get install$missing); services needing them report unavailable" >&2
  fi
fi

# npm dependencies: reinstall when package-lock.json changed since the last install.
stamp=node_modules/.nimbus-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# Python test clients: a virtualenv in .venv, reinstalled when requirements-test.txt changed.
pystamp=.venv/.nimbus-requirements
if [ ! -x .venv/bin/python ] || [ ! -f "$pystamp" ] || ! cmp -s requirements-test.txt "$pystamp"; then
  if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    rm -rf .venv
    if ! python3 -m venv .venv >/dev/null 2>&1; then
      # Debian ships venv's ensurepip separately (python3-venv).
      rm -rf .venv
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq python3-venv >/dev/null
        python3 -m venv .venv
      else
        echo "nimbus: python3 -m venv failed; install python3-venv (as root: apt-get install python3-venv)" >&2
        exit 1
      fi
    fi
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
  cp requirements-test.txt "$pystamp"
fi

# Build the bundle when any source is newer than it.
if [ ! -f dist/nimbus.js ] || [ -n "$(find src package-lock.json -newer dist/nimbus.js -print -quit)" ]; then
  node scripts/build.mjs
fi

# Build the web console (console/ -> console/dist, served at /) when any of its sources is newer.
if [ ! -f console/dist/index.html ] || [ -n "$(find console/src console/index.html console/vite.config.ts package-lock.json -newer console/dist/index.html -print -quit)" ]; then
  node node_modules/vite/bin/vite.js build console
fi
