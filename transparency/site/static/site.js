/* The public transparency site: draws every <canvas data-chart> with the vendored Chart.js, and makes the
   regency menu navigate. Data comes from data attributes only: the Content-Security-Policy allows no inline
   script, no eval and no other origin. */
"use strict";

(function () {
  var lang = document.documentElement.lang || "id";
  var locale = lang === "id" ? "id-ID" : "en-GB";

  function format(value, unit) {
    if (value === null || value === undefined) { return "\u2013"; }
    return value.toLocaleString(locale) + (unit ? " " + unit : "");
  }

  function draw(canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var unit = spec.unit || "";
    var valueAxis = {
      beginAtZero: true,
      ticks: { callback: function (v) { return format(v, unit); } }
    };
    if (unit === "%") { valueAxis.max = 100; }
    var scales = spec.horizontal ? { x: valueAxis } : { y: valueAxis };
    canvas.chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: {
          legend: { display: spec.datasets.length > 1 },
          tooltip: { callbacks: { label: function (ctx) {
            return ctx.dataset.label + ": " + format(ctx.parsed[spec.horizontal ? "x" : "y"], unit);
          } } }
        }
      }
    });
    canvas.setAttribute("data-rendered", "true");
  }

  function start() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
    var nav = document.getElementById("regency-nav");
    if (nav) {
      nav.addEventListener("change", function () {
        if (nav.value) { window.location.href = nav.getAttribute("data-root") + nav.value; }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
