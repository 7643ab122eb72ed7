#!/usr/bin/env bash
# Opens an HTML report in headless Chromium and checks that it renders offline: a screenshot is
# taken (kept as an artifact), no console message at all is logged (a run's page has only its
# inline "Watch the cluster" script and a sweep's only its inline sorting script, both of which
# log nothing, so any message — an error,
# a blocked resource — is a fault; Chromium's log does not keep the level of console messages
# apart), and the
# page asks for nothing over the network (every request Chromium's network stack made on the
# page's behalf is listed from its net log; the browser's own background requests, which have
# no initiating origin, are not the page's).
#
# usage: tests/browser/check-report.sh REPORT.html ARTIFACT_DIR
# exit 0 when the page passes, 1 when it does not, 2 on usage errors or a missing browser.
set -uo pipefail
report=${1:?usage: check-report.sh REPORT.html ARTIFACT_DIR}
out=${2:?usage: check-report.sh REPORT.html ARTIFACT_DIR}
me=check-report
. "$(dirname "$0")/common.sh"
mkdir -p "$out"
name=$(basename "$report" .html)
flags=(--headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir="$profile"
  --disable-background-networking --disable-component-update --disable-sync
  --disable-default-apps --disable-extensions --enable-logging=stderr --v=0
  --log-net-log="$out/$name.netlog.json" --window-size=1100,4000)
timeout 120 "$browser" "${flags[@]}" --screenshot="$out/$name.png" "$url" >"$out/$name.chromium.log" 2>&1
status=$?
failed=0
if [ $status -ne 0 ] || [ ! -s "$out/$name.png" ]; then
  echo "check-report: $report: chromium exited $status without a screenshot (see $out/$name.chromium.log)"
  failed=1
fi
# Console messages: Chromium logs them as `…:CONSOLE:line] "text", source: …`.
if grep -E ':CONSOLE[:(]' "$out/$name.chromium.log" >"$out/$name.console.txt"; then
  echo "check-report: $report: console messages:"; cat "$out/$name.console.txt"
  failed=1
fi
python3 - "$out/$name.netlog.json" >"$out/$name.requests.txt" <<'PY'
import json, sys
try:
    log = json.load(open(sys.argv[1]))
except ValueError:  # Chromium leaves the closing brackets off a log it is killed while writing
    text = open(sys.argv[1]).read().rstrip().rstrip(",")
    log = json.loads(text + "]}")
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
for e in log["events"]:
    p = e.get("params", {})
    started = names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in p
    if started and p.get("initiator") != "not an origin":
        print(p.get("url"))
PY
if [ -s "$out/$name.requests.txt" ]; then
  echo "check-report: $report: the page made network requests:"; cat "$out/$name.requests.txt"
  failed=1
fi
[ $failed -eq 0 ] && echo "check-report: $report renders offline with no console messages ($out/$name.png)"
exit $failed
