# Sourced by the browser checks: finds Chromium and the page, and makes a throw-away profile.
# Expects $report (the page) and $me (the script's name for messages); sets $browser, $url and
# $profile (removed on exit). Exits 2 when the browser or the page is missing.
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "$me: no chromium on PATH" >&2; exit 2; }
[ -f "$report" ] || { echo "$me: $report: no such file" >&2; exit 2; }
url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
