// Draws the dashboard's charts with Chart.js (served from our static files).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") { return; }
  var style = getComputedStyle(document.documentElement);
  var primary = style.getPropertyValue("--primary").trim() || "#79aec8";
  var palette = [primary, "#e0a800", "#d9534f", "#2e9e5b", "#6f42c1"];
  var lang = document.documentElement.lang || "en";
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    var number = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    spec.datasets.forEach(function (ds, i) {
      ds.backgroundColor = ds.backgroundColor || palette[i % palette.length];
      ds.borderColor = ds.borderColor || palette[i % palette.length];
    });
    new Chart(canvas, {
      type: spec.kind,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: spec.datasets.length > 1 } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0, callback: function (v) { return spec.money ? "¥" + number.format(v) : number.format(v); } } } }
      }
    });
  });
});
