#!/usr/bin/env bash
# `make run`: creates the demo database on first use, prints how to reach it,
# and serves it. The demo credentials live in fleetdesk.demo.json (mode 0600)
# so every later run can print them again.
set -euo pipefail
db=${1:-./fleetdesk.db}
listen=${2:-127.0.0.1:8080}
creds="${db%.db}.demo.json"
bin=build/fleetdesk

if [ ! -f "$db" ]; then
  echo "Creating the demo database $db ..."
  umask 077
  "$bin" --db "$db" demo --users 200 > "$creds.tmp"
  mv "$creds.tmp" "$creds"
fi

if [ -f "$creds" ]; then
  org=$(sed -n 's/.*"org_id": "\([^"]*\)".*/\1/p' "$creds")
  token=$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' "$creds")
  itoken=$(sed -n 's/.*"integration_token": "\([^"]*\)".*/\1/p' "$creds")
  semail=$(sed -n 's/.*"staff_email": "\([^"]*\)".*/\1/p' "$creds")
  spass=$(sed -n 's/.*"staff_password": "\([^"]*\)".*/\1/p' "$creds")
  cat <<MSG

  fleetdesk is serving http://$listen

  the web app:      http://$listen/
  sign in as:       ${semail:-(none: this demo predates the web app; delete $db to start afresh)}
  password:         ${spass:-}

  demo org id:      $org
  admin API token:  $token
  integration token: ${itoken:-(none: this demo predates devices)}

  try:  curl -H "Authorization: Bearer $token" \\
          "http://$listen/api/partners/v2.0/org/$org/users?limit=5"
        curl -H "Authorization: Bearer $token" \\
          "http://$listen/api/partners/v2.0/org/$org/devices?needs_attention=true&limit=5"
        FLEETDESK_URL=http://$listen FLEETDESK_TOKEN=$token build/fleetdesk users list --search anna

MSG
else
  echo "(no $creds: the database was not created by make run, so no demo credentials to show)"
fi
exec "$bin" --db "$db" serve --listen "$listen"
