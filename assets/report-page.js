// The HTML report's own script (src/report/html.ts inlines it after Chart.js and assets/chart-config.cjs): a
// classic browser script, never loaded by node. Draws every chart spec of the page's #chart-data element into
// #charts and keeps the Chart instances in window.mlaBenchCharts (the HTML test counts them).
(function () {
  'use strict';
  var specs = JSON.parse(document.getElementById('chart-data').textContent);
  var white = {
    id: 'white-background',
    beforeDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.globalCompositeOperation = 'destination-over';
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, chart.width, chart.height);
      ctx.restore();
    },
  };
  var holder = document.getElementById('charts');
  window.mlaBenchCharts = [];
  specs.forEach(function (spec) {
    var box = document.createElement('div');
    box.className = 'chart';
    box.style.height = Math.min(spec.height, 900) + 'px';
    var canvas = document.createElement('canvas');
    canvas.id = 'chart-' + spec.id;
    canvas.setAttribute('aria-label', spec.title);
    box.appendChild(canvas);
    holder.appendChild(box);
    var config = finalizeChartConfig(spec.config, { fontFamily: "system-ui, 'DejaVu Sans', sans-serif", responsive: true });
    config.plugins = (config.plugins || []).concat([white]);
    window.mlaBenchCharts.push(new Chart(canvas, config));
  });
})();
