// Draws the analytics page's charts with the vendored Chart.js (static/vendor/chartjs).
// The figures come from the page's JSON data block (#analytics-data); the tables under the
// charts carry the same numbers, so the page still reads without this script.
(function () {
  "use strict";

  var COLORS = {
    inbound: "#128c7e",
    outbound: "#34b7f1",
    sent: "#7cc4b9",
    delivered: "#25a18e",
    read: "#075e54",
    failed: "#b42318",
    p50: "#075e54",
    p90: "#b54708",
    first: "#6941c6",
    slow: "rgba(180, 35, 24, 0.35)",
    resolved: "#25a18e",
    handed: "#f79009",
    other: "#c9d3d0",
    poor: "#d92d20",
    ok: "#fdb022",
    great: "#12b76a"
  };

  function shortDay(iso) {
    var parts = iso.split("-");
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return Number(parts[2]) + " " + months[Number(parts[1]) - 1];
  }

  function base(extra) {
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
    };
    return Object.assign(options, extra || {});
  }

  var builders = {
    volume: function (d) {
      return {
        type: "bar",
        data: {
          labels: d.labels.map(shortDay),
          datasets: [
            { label: "Inbound", data: d.inbound, backgroundColor: COLORS.inbound },
            { label: "Outbound", data: d.outbound, backgroundColor: COLORS.outbound }
          ]
        },
        options: base()
      };
    },
    funnel: function (d) {
      return {
        type: "bar",
        data: {
          labels: d.labels,
          datasets: [{
            label: "Messages",
            data: d.values,
            backgroundColor: [COLORS.outbound, COLORS.sent, COLORS.delivered, COLORS.read, COLORS.failed]
          }]
        },
        options: base({ indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })
      };
    },
    failures: function (d) {
      return {
        type: "bar",
        data: { labels: d.labels, datasets: [{ label: "Failed messages", data: d.values, backgroundColor: COLORS.failed }] },
        options: base({ indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })
      };
    },
    response: function (d) {
      // Slow turns are few: their bars keep to the lower third so the lines stay readable.
      var slowMax = Math.max.apply(null, d.slow.concat([1])) * 3;
      return {
        type: "line",
        data: {
          labels: d.labels.map(shortDay),
          datasets: [
            { label: "Per reply p50 (s)", data: d.p50, borderColor: COLORS.p50, backgroundColor: COLORS.p50, spanGaps: true, yAxisID: "y" },
            { label: "Per reply p90 (s)", data: d.p90, borderColor: COLORS.p90, backgroundColor: COLORS.p90, spanGaps: true, yAxisID: "y" },
            { label: "First response p50 (s)", data: d.first_p50, borderColor: COLORS.first, backgroundColor: COLORS.first, borderDash: [6, 4], spanGaps: true, yAxisID: "y" },
            { label: "First response p90 (s)", data: d.first_p90, borderColor: COLORS.first, backgroundColor: COLORS.first, borderDash: [2, 3], spanGaps: true, yAxisID: "y" },
            { type: "bar", label: "Slow turns (over " + d.slow_seconds + " s)", data: d.slow, backgroundColor: COLORS.slow, yAxisID: "slow" }
          ]
        },
        options: base({
          scales: {
            y: { beginAtZero: true, title: { display: true, text: "seconds" } },
            slow: { beginAtZero: true, max: slowMax, position: "right", grid: { drawOnChartArea: false }, ticks: { precision: 0 }, title: { display: true, text: "slow turns" } }
          }
        })
      };
    },
    conversations: function (d) {
      return {
        type: "bar",
        data: {
          labels: d.labels.map(shortDay),
          datasets: [
            { label: "Resolved by the agent alone", data: d.resolved, backgroundColor: COLORS.resolved },
            { label: "Handed to a human", data: d.handed_off, backgroundColor: COLORS.handed },
            { label: "Other (no answer from the agent, or still settling)", data: d.other, backgroundColor: COLORS.other }
          ]
        },
        options: base({ scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } })
      };
    },
    satisfaction: function (d) {
      var palette = { 1: COLORS.poor, 3: COLORS.ok, 5: COLORS.great };
      return {
        type: "bar",
        data: {
          labels: d.labels,
          datasets: [{
            label: "Ratings",
            data: d.values,
            backgroundColor: d.labels.map(function (label) { return palette[parseInt(label, 10)] || COLORS.other; })
          }]
        },
        options: base({ plugins: { legend: { display: false } } })
      };
    }
  };

  function draw() {
    var block = document.getElementById("analytics-data");
    if (!block || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(block.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var name = canvas.getAttribute("data-chart");
      if (builders[name] && data[name]) {
        new window.Chart(canvas, builders[name](data[name]));
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
