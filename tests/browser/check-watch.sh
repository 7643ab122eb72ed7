#!/usr/bin/env bash
# Checks in headless Chromium that report.html's "Watch the cluster" slider shows, at an
# instant, the same pods as `kubesim get pods RUN_DIR --at T -A -o wide`: the page is opened
# with #t=SECONDS (as a reader's link would), its script runs, and every pod chip of the
# rendered DOM (name, READY, STATUS, RESTARTS, NODE) must match kubesim's table row for row —
# no pod missing, none extra. An instant with no pod must show none.
#
# usage: tests/browser/check-watch.sh KUBESIM RUN_DIR SECONDS...
# exit 0 when every instant matches, 1 when one does not, 2 on usage errors or a missing browser.
set -uo pipefail
kubesim=${1:?usage: check-watch.sh KUBESIM RUN_DIR SECONDS...}
run=${2:?usage: check-watch.sh KUBESIM RUN_DIR SECONDS...}
shift 2
[ $# -gt 0 ] || { echo "usage: check-watch.sh KUBESIM RUN_DIR SECONDS..." >&2; exit 2; }
report="$run/report.html"
me=check-watch
. "$(dirname "$0")/common.sh"
failed=0
for t in "$@"; do
  timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$profile" --disable-background-networking --disable-extensions \
    --dump-dom "$url#t=$t" >"$profile/page.html" 2>/dev/null || {
    echo "check-watch: chromium could not render $report"; exit 1; }
  # `No resources found` (exit 1) is an instant without pods: the page must show none too.
  "$kubesim" get pods "$run" --at "${t}s" -A -o wide >"$profile/get.txt" 2>"$profile/get.err"
  status=$?
  if [ $status -gt 1 ]; then
    echo "check-watch: kubesim get pods --at ${t}s failed:"; cat "$profile/get.err"; exit 1
  fi
  python3 - "$t" "$profile/page.html" "$profile/get.txt" <<'PY' || failed=1
import sys
from html.parser import HTMLParser

class Chips(HTMLParser):
    """Each pod chip's (name, READY, STATUS, RESTARTS, NODE), and the time the page shows."""
    def __init__(self):
        super().__init__()
        self.pods, self.at, self.in_at = [], None, False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-pod" in a:
            self.pods.append((a["data-pod"], a["data-ready"], a["data-status"],
                              a["data-restarts"], a["data-node"]))
        self.in_at = tag == "output" and a.get("id") == "watch-at"
    def handle_endtag(self, tag):
        self.in_at = False
    def handle_data(self, data):
        if self.in_at:
            self.at = (self.at or "") + data

t, page_file, get_file = sys.argv[1:]
page = Chips()
page.feed(open(page_file, encoding="utf-8").read())
if page.at is None:
    sys.exit(f"check-watch: #t={t}: the page shows no time: its script did not run")
if "past what this page holds" in page.at:
    sys.exit(f"check-watch: #t={t}: the page does not hold that instant ({page.at})")
lines = open(get_file, encoding="utf-8").read().splitlines()
expected = []
if lines:
    header = lines[0].split()
    want = [header.index(c) for c in ("NAME", "READY", "STATUS", "RESTARTS", "NODE")]
    for line in lines[1:]:
        cells = line.split()
        # RESTARTS may read `2 (5m ago)`: the two words after the count shift the columns.
        if len(cells) == len(header) + 2:
            r = header.index("RESTARTS")
            cells = cells[:r + 1] + cells[r + 3:]
        if len(cells) != len(header):
            sys.exit(f"check-watch: cannot read this line of `kubesim get pods`: {line!r}")
        expected.append(tuple(cells[i] for i in want))
shown, wanted = sorted(page.pods), sorted(expected)
if shown != wanted:
    missing = [p for p in wanted if p not in shown]
    extra = [p for p in shown if p not in wanted]
    sys.exit(f"check-watch: #t={t}: the page and `kubesim get pods` differ:\n"
             f"  only in kubesim get: {missing[:10]}\n  only on the page: {extra[:10]}")
print(f"check-watch: t={t}s ({page.at}): the page shows the {len(shown)} pods kubesim get lists")
PY
done
exit $failed
