#!/usr/bin/env bash
# make test's browser step.  The HTML reports are tested in a real headless browser
# (tests/test_html_browser.py), so `make test` needs a Chromium-family browser.  Found on PATH (or
# named by GROKLAB_BROWSER): nothing to do.  Missing on a Debian/Ubuntu machine: install Debian's
# chromium package once (as root, or with password-less sudo).  Anywhere else: say what to do and
# stop, unless GROKLAB_ALLOW_NO_BROWSER=1 says to skip the browser tests (local use only).
set -euo pipefail

if [ -n "${GROKLAB_BROWSER:-}" ]; then
    if [ -x "$GROKLAB_BROWSER" ]; then exit 0; fi
    echo "make test: GROKLAB_BROWSER=$GROKLAB_BROWSER is not an executable file" >&2
    exit 2
fi
for b in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if [ "${GROKLAB_ALLOW_NO_BROWSER:-}" = "1" ]; then
    echo "make test: no Chromium; GROKLAB_ALLOW_NO_BROWSER=1: the 4 browser tests are skipped" >&2
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if sudo -n true >/dev/null 2>&1; then
            SUDO="sudo -n"
        else
            echo "make test: Chromium is missing and installing it needs root: run" \
                 "'sudo apt-get install -y chromium' once (or set GROKLAB_BROWSER=/path/to/chrome," \
                 "or GROKLAB_ALLOW_NO_BROWSER=1 to skip the 4 browser tests)" >&2
            exit 2
        fi
    fi
    echo "make test: installing Chromium from the Debian packages (once; the HTML report tests run in it)"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
    exit 0
fi
echo "make test: no Chromium-family browser on PATH and no apt-get to install one: install" \
     "Chromium or Google Chrome and put it on PATH (or set GROKLAB_BROWSER=/path/to/chrome;" \
     "GROKLAB_ALLOW_NO_BROWSER=1 skips the 4 browser tests)" >&2
exit 2
