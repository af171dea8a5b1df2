// Ridethrough front end. htmx does the page work; this file adds what it does not:
// - live parts: one event stream per page; each part re-fetches itself when a change of its
//   kinds arrives, never while someone is filling it in, and never drops a change;
// - keyboard: focus stays where it was across refreshes; arrow keys move in the heatmap;
// - refusals: the server's reason is shown where the action was, not as a bare status;
// - trend charts (uPlot).
(function () {
  "use strict";

  var KINDS = ["telemetry", "alarms", "commands"];

  // ---- Live parts -------------------------------------------------------------------------

  var stream = null; // { url, source, lastId }

  function connectStream(resumeFrom) {
    var holder = document.querySelector("[data-live-stream]");
    var url = holder ? holder.getAttribute("data-live-stream") : null;
    if (stream && stream.url === url) return;
    if (stream) stream.source.close();
    stream = null;
    if (!url) return;
    var asked = resumeFrom ? url.replace(/since=\d+/, "since=" + resumeFrom) : url;
    var source = new EventSource(asked);
    var current = { url: url, source: source, lastId: null };
    KINDS.forEach(function (kind) {
      source.addEventListener(kind, function (event) {
        if (event.lastEventId) current.lastId = event.lastEventId;
        changed(kind);
      });
    });
    source.onerror = function () {
      // The browser retries by itself (sending Last-Event-ID) unless the stream was refused;
      // then start a new one, resuming from the last change this page saw.
      if (source.readyState !== EventSource.CLOSED) return;
      setTimeout(function () {
        if (stream !== current) return;
        stream = null;
        connectStream(current.lastId);
      }, 3000);
    };
    stream = current;
  }

  function changed(kind) {
    document.querySelectorAll("[data-live]").forEach(function (part) {
      if (part.getAttribute("data-live").split(" ").indexOf(kind) >= 0) refresh(part);
    });
  }

  // Where a press (mouse, finger, pen) is under way: a part must not be swapped between the
  // press and its release, or the click lands on nothing and is lost.
  var pressed = null;
  document.addEventListener("pointerdown", function (event) { pressed = event.target; }, true);
  ["pointerup", "pointercancel"].forEach(function (name) {
    document.addEventListener(name, function () {
      setTimeout(function () { pressed = null; refreshOwed(); }, 0); // after the click
    }, true);
  });

  // Requests that started inside a part (a form sent, a link followed) and are not answered yet:
  // swapping the part would throw away the element that asked, and with it what htmx does with
  // the answer (the page's new URL, the events the server sends back).
  var askedFrom = {};

  // A part is busy while someone works in it: pressing, typing, a choice open, rows ticked,
  // or a request sent from it still in flight.
  function busy(part) {
    if (askedFrom[part.id]) return true;
    if (pressed && part.contains(pressed)) return true;
    var active = document.activeElement;
    if (active && part.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName) &&
        active.type !== "checkbox") return true;
    if (part.querySelector("details[open]")) return true;
    if (part.querySelector('input[type="checkbox"]:checked')) return true;
    return Array.prototype.some.call(part.querySelectorAll("input[type=text], textarea"),
      function (input) { return input.value !== input.defaultValue; });
  }

  // Per live part (by id): requests aimed at it now, the newest such request, and whether it
  // still owes a refresh. A refresh never overwrites a newer answer (a filter chosen meanwhile)
  // nor a part someone started working in while it loaded; it is owed instead, and done later.
  var pending = {}, newest = {}, owed = {};

  function isLive(elt) {
    return elt && elt.id && elt.hasAttribute && elt.hasAttribute("data-live");
  }

  function refresh(part) {
    var id = part.id;
    owed[id] = true;
    if (busy(part)) { part.setAttribute("data-stale", ""); return; }
    if (pending[id]) return; // done when the request in flight ends
    owed[id] = false;
    part.removeAttribute("data-stale");
    htmx.ajax("GET", part.getAttribute("data-live-url"),
              { source: part, target: part, swap: "outerHTML", headers: { "X-Live-Refresh": "1" } })
      .catch(function () { owed[id] = true; });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt, xhr = event.detail.xhr;
    var from = elt.closest && elt.closest("[data-live]");
    if (from && from !== elt && xhr) {
      askedFrom[from.id] = (askedFrom[from.id] || 0) + 1;
      xhr.askedFrom = from.id;
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || !xhr.askedFrom) return;
    askedFrom[xhr.askedFrom] = Math.max(0, askedFrom[xhr.askedFrom] - 1);
    xhr.askedFrom = null; // counted once, whichever element htmx reports it on
    setTimeout(refreshOwed, 0);
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (!isLive(target)) return;
    pending[target.id] = (pending[target.id] || 0) + 1;
    newest[target.id] = event.detail.xhr;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target, xhr = event.detail.xhr;
    if (!isLive(target) || !xhr) return;
    var refreshing = event.detail.requestConfig.headers["X-Live-Refresh"] === "1";
    if (newest[target.id] !== xhr || (refreshing && busy(target))) {
      event.detail.shouldSwap = false;
      owed[target.id] = true;
      return;
    }
    xhr.focusKey = focusKey(target);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var xhr = event.detail.xhr, target = event.detail.target;
    if (!xhr || !xhr.focusKey || !target || !target.id) return;
    var fresh = document.getElementById(target.id);
    if (fresh) restoreFocus(fresh, xhr.focusKey);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (!isLive(target)) return;
    pending[target.id] = Math.max(0, (pending[target.id] || 0) - 1);
    if (!pending[target.id] && owed[target.id]) setTimeout(refreshOwed, 0);
  });

  // Parts that owe a refresh (busy, or overtaken while loading) get it once they can.
  function refreshOwed() {
    document.querySelectorAll("[data-live]").forEach(function (part) {
      if (owed[part.id] && !pending[part.id] && !busy(part)) refresh(part);
    });
  }
  setInterval(refreshOwed, 2000);
  ["focusout", "change", "toggle"].forEach(function (name) {
    document.addEventListener(name, function () { setTimeout(refreshOwed, 0); }, true);
  });
  document.addEventListener("alarms-changed", function () { changed("alarms"); });

  // A form that did its work inside a part is emptied, so the part is free to refresh.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!event.detail.successful || form.tagName !== "FORM" || !form.closest("[data-live]")) return;
    form.reset();
    var details = form.closest("details");
    if (details) details.open = false;
    setTimeout(refreshOwed, 0);
  });

  // ---- Focus across refreshes ----------------------------------------------------------------

  function focusKey(part) {
    var active = document.activeElement;
    if (!active || active === document.body || !part.contains(active)) return null;
    if (active.id) return { selector: "#" + CSS.escape(active.id), index: 0 };
    var attr = ["href", "name", "value"].filter(function (a) { return active.hasAttribute(a); })[0];
    var selector = active.tagName.toLowerCase() +
      (attr ? "[" + attr + '="' + CSS.escape(active.getAttribute(attr)) + '"]' : "");
    var same = Array.prototype.slice.call(part.querySelectorAll(selector));
    return { selector: selector, index: Math.max(0, same.indexOf(active)) };
  }

  function restoreFocus(part, key) {
    if (!key) return;
    var found = part.querySelectorAll(key.selector)[key.index];
    if (!found) return;
    if (found.matches(".heatmap a.hm")) makeCurrent(found);
    found.focus({ preventScroll: true });
  }

  // ---- Heatmap: one tab stop, arrow keys inside ----------------------------------------------

  function heatmapRows(grid) {
    var rows = [];
    Array.prototype.forEach.call(grid.children, function (child) {
      if (child.classList.contains("hm-label")) rows.push([]);
      else if (child.classList.contains("hm") && rows.length) rows[rows.length - 1].push(child);
    });
    return rows;
  }

  function makeCurrent(cell) {
    cell.closest(".heatmap").querySelectorAll("a.hm").forEach(function (c) {
      c.setAttribute("tabindex", c === cell ? "0" : "-1");
    });
  }

  function initHeatmaps(root) {
    root.querySelectorAll(".heatmap").forEach(function (grid) {
      var first = grid.querySelector("a.hm");
      if (first && !grid.querySelector('a.hm[tabindex="0"]')) makeCurrent(first);
    });
  }

  var MOVES = {
    ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0],
    Home: [0, -Infinity], End: [0, Infinity]
  };

  document.addEventListener("keydown", function (event) {
    var move = MOVES[event.key];
    var cell = move && event.target.closest && event.target.closest(".heatmap a.hm");
    if (!cell) return;
    var rows = heatmapRows(cell.closest(".heatmap"));
    var r = rows.findIndex(function (row) { return row.indexOf(cell) >= 0; });
    var c = rows[r].indexOf(cell);
    var row = rows[Math.min(rows.length - 1, Math.max(0, r + move[0]))];
    var target = row[Math.min(row.length - 1, Math.max(0, c + move[1]))];
    event.preventDefault();
    if (target) { makeCurrent(target); target.focus(); }
  });

  // ---- Refusals and errors -------------------------------------------------------------------

  function errorMessage(xhr) {
    try {
      return JSON.parse(xhr.responseText).error.message;
    } catch (e) {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var node = doc.querySelector("[data-error-message], .refusal");
      return node ? node.textContent.trim() : "the server answered " + xhr.status;
    }
  }

  function showError(text) {
    var box = document.getElementById("flash");
    if (!box) {
      box = document.createElement("div");
      box.id = "flash";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = text;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 8000);
  }

  // The reason goes where the action was: under the form that asked.
  function showRefusal(form, text) {
    var box = form.querySelector(".form-refusal");
    if (!box) {
      box = document.createElement("p");
      box.className = "form-refusal";
      box.setAttribute("role", "alert");
      form.appendChild(box);
    }
    box.textContent = "Not done: " + text;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form.tagName === "FORM") {
      form.querySelectorAll(".form-refusal").forEach(function (box) { box.remove(); });
    }
  });
  // A refusal inside a live part (the alarm was acknowledged meanwhile by someone else) is said
  // just above the part, naming the row, and the part then shows how things stand now.
  function refuseInPart(form, part, text) {
    var row = form.closest("tr");
    var what = row ? row.querySelector("td strong") : null;
    var box = document.createElement("p");
    box.className = "form-refusal";
    box.setAttribute("role", "alert");
    box.setAttribute("data-refusal-for", part.id);
    box.textContent = "Not done" + (what ? " (" + what.textContent.trim() + ")" : "") + ": " + text;
    document.querySelectorAll('[data-refusal-for="' + part.id + '"]').forEach(function (b) { b.remove(); });
    part.parentNode.insertBefore(box, part);
    setTimeout(function () { box.remove(); }, 15000);
    form.reset();
    refresh(part);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var elt = event.detail.elt, xhr = event.detail.xhr;
    if (elt.hasAttribute && elt.hasAttribute("data-live")) return; // retried when it can
    var form = elt.closest ? elt.closest("form") : null;
    var part = form ? form.closest("[data-live]") : null;
    if (part) refuseInPart(form, part, errorMessage(xhr));
    else if (form) showRefusal(form, errorMessage(xhr));
    else showError("Error " + xhr.status + ": " + errorMessage(xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    showError("The server cannot be reached; the page will update when it is back.");
  });

  // Command panels: a refusal (403, 409) or an incomplete request (422) is the answer itself.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ([403, 409, 422].indexOf(status) >= 0 && event.detail.target.closest(".command-slot")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) button.closest(".command-slot").innerHTML = "";
  });

  // Bulk acknowledgement: the button says how many rows are ticked, and is off at none.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.type !== "checkbox" || !box.form || box.form.id !== "alarm-bulk") return;
    var ticked = document.querySelectorAll('input[form="alarm-bulk"]:checked').length;
    var button = box.form.querySelector("[data-selected-count]");
    button.textContent = "Acknowledge selected (" + ticked + ")";
    button.disabled = ticked === 0;
  });

  // ---- Trend charts --------------------------------------------------------------------------

  var palette = "#2d4f73";
  var DAY_S = 86400;

  function timeFormat(span) {
    return uPlot.fmtDate(span > 2 * DAY_S ? "{D} {MMM}" : "{HH}:{mm}");
  }

  function chartOptions(fig, data, width) {
    var unit = fig.dataset.unit, tick = timeFormat(data.end - data.start);
    var stamp = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}");
    return {
      width: width, height: 160,
      scales: { x: { time: true, min: data.start, max: data.end } },
      legend: { show: true, live: true },
      cursor: { y: false },
      series: [
        { label: "Time", value: function (u, v) { return v == null ? "–" : stamp(new Date(v * 1000)); } },
        { label: fig.dataset.label, stroke: palette, width: 1.5, spanGaps: false,
          value: function (u, v) { return v == null ? "–" : v.toFixed(1) + " " + unit; } }
      ],
      axes: [
        { stroke: "#5c5c5c",
          values: function (u, splits) { return splits.map(function (s) { return tick(new Date(s * 1000)); }); } },
        { stroke: "#5c5c5c", size: 50 }
      ]
    };
  }

  function drawCharts(root) {
    root.querySelectorAll("[data-trend]").forEach(function (holder) {
      if (holder.dataset.drawn) return;
      holder.dataset.drawn = "1";
      fetch(holder.dataset.trend, { headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          holder.querySelectorAll("figure.chart").forEach(function (fig) {
            var plot = fig.querySelector(".plot");
            var width = Math.max(280, plot.clientWidth || fig.clientWidth || 600);
            plot.innerHTML = "";
            plot._chart = new uPlot(chartOptions(fig, data, width), [data.x, data[fig.dataset.series]], plot);
            fig.dataset.points = String(data.x.length);
          });
          holder.dataset.loaded = "1";
        })
        .catch(function (err) { showError("Trend data could not be loaded (" + err.message + ")."); });
    });
  }

  // ---- Start, and after every swap -----------------------------------------------------------

  function settle(root) {
    drawCharts(root);
    initHeatmaps(root);
    connectStream();
  }

  function start() {
    htmx.onLoad(function (elt) { settle(elt.querySelectorAll ? elt : document); });
    document.addEventListener("htmx:historyRestore", function () { settle(document); });
    settle(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
