// report.html's "Watch the cluster": replays the changes in #watch-data up to the chosen
// instant ("at t" is after every change at t, as `kubesim get --at` replays history.jsonl) and
// draws the workloads, the nodes holding their pods, the pods on no node and the events of the
// minute before. The data's layout is described in src/output/watch/mod.rs. Logs nothing.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("watch-data").textContent);
  var slider = document.getElementById("watch-time");
  var seconds = document.getElementById("watch-seconds");
  var playButton = document.getElementById("watch-play");
  var view = document.getElementById("watch-view");
  var label = document.getElementById("watch-at");
  var last = Number(slider.max);
  var changes = data.changes;
  var gone = data.podStatuses.indexOf("Gone");
  var listedNode = [data.nodeStatuses.indexOf("Ready"), data.nodeStatuses.indexOf("NotReady")];
  var timer = null;

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clock(t) {
    var s = Math.floor(t);
    var text = two(Math.floor(s / 3600)) + ":" + two(Math.floor(s / 60) % 60) + ":" + two(s % 60);
    var ms = Math.round((t - s) * 1000);
    return ms > 0 && ms < 1000 ? text + "." + String(ms).padStart(3, "0") : text;
  }

  function replay(t) {
    var s = {
      nodes: [],
      pods: [],
      workloads: data.workloads.map(function () { return null; }),
      hpas: data.hpas.map(function () { return null; }),
      events: []
    };
    for (var i = 0; i < changes.length && changes[i][0] <= t; i++) {
      var c = changes[i];
      if (c[1] === 0) {
        s.nodes.push({ name: c[2], pool: c[3], status: 0, cordoned: false, down: false, pods: [] });
      } else if (c[1] === 1) {
        var n = s.nodes[c[2]];
        n.status = c[3];
        n.cordoned = c[4] === 1;
        n.down = c[5] === 1;
      } else if (c[1] === 2) {
        s.pods.push({ name: c[2], workload: c[3], containers: c[4], status: 0, ready: false, node: -1, restarts: 0 });
      } else if (c[1] === 3) {
        var p = s.pods[c[2]];
        p.status = c[3];
        p.ready = c[4] === 1;
        p.node = c[5];
        p.restarts = c[6];
      } else if (c[1] === 4) {
        s.workloads[c[2]] = [c[3], c[4]];
      } else if (c[1] === 5) {
        s.hpas[c[2]] = [c[3], c[4], c[0]];
      } else if (c[1] === 6) {
        s.events.push([c[0], c[2]]);
      }
    }
    return s;
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) {
      e.className = className;
    }
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  function chip(p, nodeName, named) {
    var status = data.podStatuses[p.status];
    var ready = (p.ready ? p.containers : 0) + "/" + p.containers;
    var e = el("span", "pod " + status + (p.ready ? "" : " unready"), named ? p.name : "");
    e.setAttribute("data-pod", p.name);
    e.setAttribute("data-status", status);
    e.setAttribute("data-ready", ready);
    e.setAttribute("data-restarts", String(p.restarts));
    e.setAttribute("data-node", nodeName);
    e.title = p.name + ": " + status + ", " + ready + " ready, " + p.restarts + " restarts";
    return e;
  }

  function row(table, cells, tag) {
    var tr = el("tr");
    cells.forEach(function (cell) {
      tr.appendChild(el(tag || "td", null, String(cell)));
    });
    table.appendChild(tr);
  }

  function workloads(s) {
    var table = el("table");
    row(table, ["workload", "desired", "ready", "its HPA's last decision (current → desired)"], "th");
    data.workloads.forEach(function (name, i) {
      var counts = s.workloads[i];
      var hpa = [];
      data.hpas.forEach(function (h, j) {
        var d = s.hpas[j];
        if (h[1] === i && d) {
          hpa.push(h[0] + ": " + d[0] + " → " + d[1] + " since " + clock(d[2]));
        }
      });
      row(table, [name, counts ? counts[0] : "–", counts ? counts[1] : "–", hpa.join("; ") || "–"]);
    });
    return table;
  }

  function nodes(s, named) {
    var box = el("div", "watch-nodes");
    s.nodes.forEach(function (n) {
      if (listedNode.indexOf(n.status) < 0 && n.pods.length === 0) {
        return;
      }
      var status = data.nodeStatuses[n.status];
      var node = el("div", "watch-node " + status + (n.cordoned ? " cordoned" : ""));
      var words = status + (n.cordoned ? ",SchedulingDisabled" : "") + (n.down ? ", machine down" : "");
      node.appendChild(el("h3", null, n.name));
      node.appendChild(el("div", "muted", n.pool + " · " + words + " · " + n.pods.length + " pods"));
      n.pods.forEach(function (p) {
        node.appendChild(chip(p, n.name, named));
      });
      box.appendChild(node);
    });
    return box;
  }

  function events(s, t) {
    var recent = s.events.filter(function (e) { return e[0] > t - 60; }).slice(-10);
    if (recent.length === 0) {
      return el("p", "muted", "No event in the minute before.");
    }
    var list = el("ul");
    recent.forEach(function (e) {
      list.appendChild(el("li", null, clock(e[0]) + " " + e[1]));
    });
    return list;
  }

  function draw(t, asked) {
    var s = replay(t);
    var visible = s.pods.filter(function (p) { return p.status !== gone; });
    var named = visible.length <= 80;
    var unbound = [];
    visible.forEach(function (p) {
      if (p.node >= 0) {
        s.nodes[p.node].pods.push(p);
      } else {
        unbound.push(p);
      }
    });
    label.textContent = clock(t) + (asked === null ? "" : " (" + clock(asked) + " is past what this page holds)");
    view.textContent = "";
    view.appendChild(el("h3", null, "Workloads"));
    view.appendChild(workloads(s));
    view.appendChild(el("h3", null, "Nodes and their pods (" + visible.length + " pods)"));
    view.appendChild(nodes(s, named));
    view.appendChild(el("h3", null, "Pods on no node (" + unbound.length + ")"));
    var waiting = el("div", "watch-unbound");
    unbound.forEach(function (p) {
      waiting.appendChild(chip(p, "<none>", named));
    });
    view.appendChild(waiting);
    view.appendChild(el("h3", null, "Events of the minute before"));
    view.appendChild(events(s, t));
  }

  function go(asked) {
    var t = Math.min(Math.max(asked, 0), last);
    slider.value = String(t);
    seconds.value = String(Math.floor(t));
    draw(t, asked > last ? asked : null);
  }

  function stop() {
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
    playButton.textContent = "play";
  }

  function play() {
    if (timer !== null) {
      stop();
      return;
    }
    var t = Number(slider.value);
    if (t >= last) {
      t = 0;
    }
    playButton.textContent = "pause";
    go(t);
    timer = setInterval(function () {
      t = Math.min(t + last / 200, last);
      go(t);
      if (t >= last) {
        stop();
      }
    }, 150);
  }

  function fromHash() {
    var m = /(?:^#|&)t=([0-9]+(?:\.[0-9]+)?)/.exec(window.location.hash);
    return m ? Number(m[1]) : null;
  }

  slider.addEventListener("input", function () {
    stop();
    go(Number(slider.value));
  });
  seconds.addEventListener("change", function () {
    stop();
    go(Number(seconds.value));
  });
  playButton.addEventListener("click", play);
  window.addEventListener("hashchange", function () {
    var t = fromHash();
    if (t !== null) {
      stop();
      go(t);
    }
  });
  var initial = fromHash();
  go(initial === null ? last : initial);
})();
