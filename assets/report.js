// Draws the dispatch report's two charts with the vendored ECharts (served by planatlas itself).
(function () {
  const data = window.PLANATLAS_REPORT;
  if (!data || !window.echarts) return;
  const colours = { '前期': '#9e9ac8', '新开工': '#74c476', '在建': '#fd8d3c', '竣工': '#3182bd', '投产运营': '#31a354', '暂停': '#de2d26', '未报告': '#d9d9d9' };
  const stages = echarts.init(document.getElementById('chart-stages'), null, { renderer: 'canvas' });
  stages.setOption({
    animation: false,
    title: { text: '项目阶段 Projects by stage', left: 'center', textStyle: { fontSize: 14 } },
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 90 },
    xAxis: { type: 'category', data: data.groups, axisLabel: { interval: 0, width: 100, overflow: 'break', rotate: data.groups.length > 6 ? 35 : 0 } },
    yAxis: { type: 'value', name: '项目数' },
    series: data.stages.map((s, i) => ({ name: s, type: 'bar', stack: 'stage', data: data.counts[i], itemStyle: { color: colours[s] } })),
  });
  const inv = echarts.init(document.getElementById('chart-investment'), null, { renderer: 'canvas' });
  inv.setOption({
    animation: false,
    title: { text: '投资完成率与时间进度 Investment vs time', left: 'center', textStyle: { fontSize: 14 } },
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 90 },
    xAxis: { type: 'category', data: data.groups, axisLabel: { interval: 0, width: 100, overflow: 'break', rotate: data.groups.length > 6 ? 35 : 0 } },
    yAxis: { type: 'value', name: '%', max: v => Math.max(100, Math.ceil(v.max / 10) * 10) },
    series: [
      { name: '投资完成率 completed', type: 'bar', data: data.completion.map(x => x == null ? null : Math.round(x * 1000) / 10), itemStyle: { color: '#3182bd' } },
      { name: '时间进度 time elapsed', type: 'line', data: data.groups.map(() => Math.round(data.time_progress * 1000) / 10), itemStyle: { color: '#de2d26' }, symbol: 'none' },
    ],
  });
  document.body.dataset.chartsReady = 'yes';
})();
