// Readable defaults for a chart spec (src/report/charts.ts) and the callbacks JSON cannot carry.
// Plain JavaScript, never compiled: the PNG renderer loads it in node (src/report/chart-assets.ts, through
// require) and the HTML report inlines this very file as a classic <script>, where it defines the global
// function finalizeChartConfig. Keep it to syntax every current browser runs, with no imports.
'use strict';

/**
 * @param {object} config a Chart.js configuration holding data only (JSON)
 * @param {{ fontFamily: string, responsive: boolean }} opts
 * @returns {object} a copy, ready for new Chart()
 */
function finalizeChartConfig(config, opts) {
  const cfg = JSON.parse(JSON.stringify(config));
  const options = (cfg.options = cfg.options || {});
  options.animation = false;
  options.responsive = opts.responsive;
  options.maintainAspectRatio = false;
  options.layout = { padding: { top: 8, right: 24, bottom: 8, left: 8 } };
  const plugins = (options.plugins = options.plugins || {});
  plugins.title = Object.assign({ font: { size: 20, weight: 'bold', family: opts.fontFamily }, color: '#111' }, plugins.title || {});
  plugins.subtitle = Object.assign(
    { font: { size: 14, family: opts.fontFamily }, color: '#444', padding: { bottom: 10 } },
    plugins.subtitle || {},
  );
  plugins.legend = plugins.legend || {};
  plugins.legend.labels = Object.assign(
    {
      font: { size: 14, family: opts.fontFamily },
      color: '#222',
      boxWidth: 28,
      padding: 12,
      usePointStyle: cfg.type === 'scatter',
      filter: (item, data) => !data.datasets[item.datasetIndex].band,
    },
    plugins.legend.labels || {},
  );
  const fmt = (v) => {
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
    if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
    if (a >= 1e5) return `${+(v / 1e3).toPrecision(3)}k`;
    if (Number.isInteger(v)) return String(v);
    if (a >= 1e-3) return String(+v.toPrecision(3));
    return v.toExponential(0);
  };
  plugins.tooltip = Object.assign(
    {
      filter: (item) => !item.dataset.band,
      callbacks: {
        label: (ctx) => {
          const raw = ctx.raw;
          const key = raw && typeof raw === 'object' && raw.key ? ` ${raw.key}` : '';
          const y = ctx.chart.options.indexAxis === 'y' ? ctx.parsed.x : ctx.parsed.y;
          const x = ctx.chart.config.type === 'scatter' ? ` at ${fmt(ctx.parsed.x)}` : '';
          return `${ctx.dataset.label}:${key} ${fmt(y)}${x}`;
        },
      },
    },
    plugins.tooltip || {},
  );
  // `plugins.valueLabels.display`: each bar's value written above it (the KV-bytes chart), where an axis alone
  // would leave a reader estimating bytes off a log scale.
  if (plugins.valueLabels && plugins.valueLabels.display) {
    cfg.plugins = (cfg.plugins || []).concat([
      {
        id: 'valueLabels',
        afterDatasetsDraw: (chart) => {
          const ctx = chart.ctx;
          ctx.save();
          ctx.font = `12px ${opts.fontFamily}`;
          ctx.fillStyle = '#333';
          ctx.textAlign = 'center';
          ctx.textBaseline = 'bottom';
          chart.data.datasets.forEach((dataset, i) => {
            if (!chart.isDatasetVisible(i)) return;
            chart.getDatasetMeta(i).data.forEach((bar, j) => {
              const value = dataset.data[j];
              if (typeof value === 'number') ctx.fillText(value.toLocaleString('en-US'), bar.x, bar.y - 3);
            });
          });
          ctx.restore();
        },
      },
    ]);
  }
  const scales = options.scales || {};
  for (const id of Object.keys(scales)) {
    const scale = scales[id];
    scale.title = Object.assign({ font: { size: 15, family: opts.fontFamily }, color: '#222' }, scale.title || {});
    scale.ticks = Object.assign({ font: { size: 13, family: opts.fontFamily }, color: '#333' }, scale.ticks || {});
    scale.grid = Object.assign({ color: 'rgba(0,0,0,0.12)' }, scale.grid || {});
    if (scale.type === 'logarithmic') {
      const at = scale.ticksAt;
      delete scale.ticksAt;
      if (at && at.length) {
        scale.min = scale.min ?? Math.min(...at) / 1.15;
        scale.max = scale.max ?? Math.max(...at) * 1.15;
        scale.afterBuildTicks = (axis) => {
          axis.ticks = at.map((value) => ({ value }));
        };
        scale.ticks.callback = (value) => fmt(value);
        scale.ticks.autoSkip = false;
      } else {
        scale.ticks.callback = function (value) {
          const mantissa = value / Math.pow(10, Math.floor(Math.log10(value) + 1e-9));
          const m = Math.round(mantissa * 100) / 100;
          // Over many decades only powers of ten get a label, else 1-2-5.
          const decades = this && this.max > 0 && this.min > 0 ? Math.log10(this.max / this.min) : 0;
          if (decades > 4.5) return m === 1 ? fmt(value) : '';
          return m === 1 || m === 2 || m === 5 ? fmt(value) : '';
        };
        scale.ticks.autoSkip = false;
      }
      scale.ticks.maxRotation = 0;
    }
  }
  return cfg;
}

if (typeof module === 'object' && module.exports) module.exports = { finalizeChartConfig };
