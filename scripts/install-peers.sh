#!/usr/bin/env bash
# Install the real SMTP/IMAP peers and baseline filters the tests drive.
# Only as root with apt-get; elsewhere the tests that need them skip with
# the reason (CI fails on any skip).
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have smtp-source || need+=(postfix)
have swaks || need+=(swaks)
have mbsync || need+=(isync)
have offlineimap || need+=(offlineimap3)
have getmail || need+=(getmail6)
have fetchmail || need+=(fetchmail)
have curl || need+=(curl)
have bogofilter || need+=(bogofilter)
have spamassassin || need+=(spamassassin)

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "install-peers: missing ${need[*]}; not root with apt-get, skipping" >&2
  exit 0
fi

echo "install-peers: installing ${need[*]}" >&2
echo "postfix postfix/main_mailer_type select No configuration" \
  | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
