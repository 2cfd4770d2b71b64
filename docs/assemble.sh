#!/usr/bin/env bash
# README.md is assembled from the topic pages in docs/ (each written next to the code it
# documents): `bash docs/assemble.sh` after editing one of them.
set -euo pipefail
cd "$(dirname "$0")"
{
  cat intro.md
  for topic in sync daemon monitor; do
    [ -f "$topic.md" ] && { echo; cat "$topic.md"; }
  done
  echo
  echo "## Services"
  echo
  echo "Each service has a connector speaking its real protocol and a sandbox server in"
  echo "\`tether/sandbox/\` speaking the same protocol on loopback (\`tether sandbox serve\`)."
  for topic in shopify bigquery redshift trackstar brewman; do
    [ -f "$topic.md" ] && { echo; sed -e 's/^### /#### /' -e 's/^## /### /' "$topic.md"; }
  done
  for extra in benchmarks zz_development; do
    [ -f "$extra.md" ] && { echo; cat "$extra.md"; }
  done
} > ../README.md
