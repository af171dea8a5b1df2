// Ridethrough front end: htmx does the page work; this file only adds the trend charts (uPlot),
// keeps live refreshes from wiping a form being filled in, and shows request errors.
(function () {
  "use strict";

  // A live part of a page refreshes itself on server events; not while someone is typing in it.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt.hasAttribute || !elt.hasAttribute("data-live")) return;
    var active = document.activeElement;
    var busy = active && elt.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
    if (busy || elt.querySelector("details[open]")) event.preventDefault();
  });

  // Failed requests (a refused action, a lost connection) are said, not swallowed.
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
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr, message = xhr.statusText;
    try {
      var json = JSON.parse(xhr.responseText);
      message = json.error.message;
    } catch (e) {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var node = doc.querySelector("[data-error-message]");
      if (node) message = node.textContent;
    }
    showError("Error " + xhr.status + ": " + message);
  });
  document.addEventListener("htmx:sendError", function () {
    showError("The server cannot be reached; the page will update when it is back.");
  });

  var palette = "#2d4f73";

  function drawCharts(root) {
    root.querySelectorAll("[data-trend]").forEach(function (holder) {
      if (holder.dataset.drawn) return;
      holder.dataset.drawn = "1";
      fetch(holder.dataset.trend, { headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          holder.querySelectorAll("figure.chart").forEach(function (fig) {
            var plot = fig.querySelector(".plot");
            var key = fig.dataset.series;
            var width = Math.max(280, plot.clientWidth || fig.clientWidth || 600);
            var opts = {
              width: width, height: 160,
              scales: { x: { time: true, min: data.start, max: data.end } },
              legend: { show: false },
              cursor: { y: false },
              series: [{}, { label: fig.dataset.label, stroke: palette, width: 1.5, spanGaps: false,
                             value: function (u, v) { return v == null ? "–" : v.toFixed(1) + " " + fig.dataset.unit; } }],
              axes: [{ stroke: "#5c5c5c" }, { stroke: "#5c5c5c", size: 50 }]
            };
            plot.innerHTML = "";
            plot._chart = new uPlot(opts, [data.x, data[key]], plot);
            fig.dataset.points = String(data.x.length);
          });
          holder.dataset.loaded = "1";
        })
        .catch(function (err) { showError("Trend data could not be loaded (" + err.message + ")."); });
    });
  }

  function start() {
    htmx.onLoad(function (elt) { drawCharts(elt.querySelectorAll ? elt : document); });
    drawCharts(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

// Command panels: a refusal (409) or an incomplete request (422) is the answer to show in place.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if ((status === 409 || status === 422) && event.detail.target.closest(".command-slot")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-dismiss]");
  if (button) button.closest(".command-slot").innerHTML = "";
});
