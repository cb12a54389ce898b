// The churn report's trend chart: churn and recovery rates (lines, left axis) and
// revenue at risk (bars, right axis) per month. Data comes from json_script.
(function () {
  "use strict";
  var source = document.getElementById("churn-chart-data");
  var canvas = document.getElementById("churn-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "line", label: data.names.churn_rate, data: data.churn_rate, yAxisID: "rate", borderColor: "#c62828", backgroundColor: "#c62828", spanGaps: true },
        { type: "line", label: data.names.recovery_rate, data: data.recovery_rate, yAxisID: "rate", borderColor: "#2e7d32", backgroundColor: "#2e7d32", spanGaps: true },
        { type: "bar", label: data.names.revenue_at_risk, data: data.revenue_at_risk, yAxisID: "money", backgroundColor: "rgba(239, 108, 0, 0.35)" }
      ]
    },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        rate: { type: "linear", position: "left", beginAtZero: true, ticks: { callback: function (v) { return v + "%"; } } },
        money: { type: "linear", position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } }
      }
    }
  });
})();
