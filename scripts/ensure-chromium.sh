#!/usr/bin/env bash
# Install Debian's chromium for the browser tests of the HTML report, if it is missing.
# Never fails the build: where it cannot be installed, the browser tests skip loudly.
set -u
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser tests (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  if (apt-get update -qq && apt-get install -y -qq chromium) >/tmp/tts-bench-chromium.log 2>&1; then
    echo "chromium installed: $(command -v chromium)"
    exit 0
  fi
  echo "!!! could not install chromium (see /tmp/tts-bench-chromium.log)" >&2
else
  echo "!!! chromium is missing and this user cannot apt-get install it" >&2
fi
echo "!!! BROWSER TESTS OF THE HTML REPORT WILL BE SKIPPED" >&2
exit 0
