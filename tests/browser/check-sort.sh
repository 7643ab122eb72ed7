#!/usr/bin/env bash
# Checks in headless Chromium that a sweep's report.html sorts its variants table: the page is
# opened with #sort=KEY and with #sort=-KEY (as a reader's link would), its script runs, and the
# rows of the rendered DOM must then be in ascending, and descending, order of that column's
# values (unmeasured values last), and the two orders must differ.
#
# usage: tests/browser/check-sort.sh REPORT.html KEY
# exit 0 when both orders are right, 1 when not, 2 on usage errors or a missing browser.
set -uo pipefail
report=${1:?usage: check-sort.sh REPORT.html KEY}
key=${2:?usage: check-sort.sh REPORT.html KEY}
me=check-sort
. "$(dirname "$0")/common.sh"
dump() {
  timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$profile" --disable-background-networking --disable-extensions \
    --dump-dom "$url#sort=$1" 2>/dev/null
}
dump "$key" >"$profile/ascending.html" && dump "-$key" >"$profile/descending.html" || {
  echo "check-sort: chromium could not render $report"; exit 1; }
python3 - "$key" "$profile/ascending.html" "$profile/descending.html" <<'PY'
import sys
from html.parser import HTMLParser

class Rows(HTMLParser):
    """The variants table's header keys and, per body row, each cell's data-v (or text)."""
    def __init__(self):
        super().__init__()
        self.keys, self.rows, self.inside, self.cell = [], [], False, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "variants":
            self.inside = True
        elif self.inside and tag == "th":
            self.keys.append(a.get("data-key"))
        elif self.inside and tag == "tr" and self.keys:
            self.rows.append([])
        elif self.inside and tag == "td":
            self.cell = a.get("data-v")
            self.rows[-1].append(self.cell)
    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False

key, files = sys.argv[1], sys.argv[2:]
orders = []
for path, descending in zip(files, (False, True)):
    page = Rows()
    page.feed(open(path, encoding="utf-8").read())
    if key not in page.keys:
        sys.exit(f"check-sort: no column {key!r} among {page.keys}")
    column = page.keys.index(key)
    values = [row[column] for row in page.rows]
    measured = [float(v) for v in values if v not in (None, "")]
    if values[:len(measured)] != [v for v in values if v not in (None, "")]:
        sys.exit(f"check-sort: unmeasured values are not last: {values}")
    if measured != sorted(measured, reverse=descending):
        sys.exit(f"check-sort: #sort={'-' if descending else ''}{key} left {measured}")
    orders.append(values)
if len(set(orders[0])) > 1 and orders[0] == orders[1]:
    sys.exit("check-sort: the ascending and descending orders are the same")
print(f"check-sort: {len(orders[0])} rows sort both ways by {key}")
PY
