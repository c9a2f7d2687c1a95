// The results dashboard's charts: each canvas carries its data (labels already translated) in
// data-chart; Chart.js is served by the app itself (static/vendor/chartjs), so the console's
// strict Content-Security-Policy (scripts from 'self' only) holds.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var lang = document.documentElement.lang || "en";
  var percent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
  var number = new Intl.NumberFormat(lang);
  var COLOURS = ["#075e54", "#25a18e", "#f4a259", "#bc4b51", "#5b8e7d", "#8cb369"];

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var format = function (v) { return spec.percent ? percent.format(v) : number.format(v); };
    var datasets = spec.series.map(function (s, i) {
      return {
        label: s.label,
        data: s.data,
        backgroundColor: COLOURS[i % COLOURS.length],
        borderColor: COLOURS[i % COLOURS.length],
        fill: false,
        tension: 0.2,
        pointRadius: spec.type === "line" ? 0 : 3
      };
    });
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var v = spec.horizontal ? ctx.parsed.x : ctx.parsed.y;
                return ctx.dataset.label + ": " + (v === null ? "—" : format(v));
              }
            }
          }
        },
        scales: spec.horizontal
          ? { x: { beginAtZero: true, ticks: { callback: format } } }
          : { y: { beginAtZero: true, ticks: { callback: format } } }
      }
    });
  });
})();
