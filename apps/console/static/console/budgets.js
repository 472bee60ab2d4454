// A budget's burn-down: cumulative spend so far, the forecast to the period's end, the straight line, the amount.
(function () {
  "use strict";
  function draw() {
    const node = document.getElementById("burndown-chart");
    const data = JSON.parse(document.getElementById("burndown-data").textContent);
    const value = (text) => (text === null ? null : Number(text));
    const days = data.days.map((day) => day.day);
    const amount = Number(data.amount);
    const chart = echarts.init(node);
    chart.setOption({
      animation: false,
      title: { text: node.dataset.title + " (" + data.currency + ")", left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 60, right: 20, top: 40, bottom: 50 },
      xAxis: { type: "category", data: days },
      yAxis: { type: "value" },
      series: [
        { name: node.dataset.spent, type: "line", data: data.days.map((d) => value(d.spent)) },
        { name: node.dataset.forecast, type: "line", lineStyle: { type: "dashed" }, data: data.days.map((d) => value(d.forecast)) },
        { name: node.dataset.linear, type: "line", lineStyle: { type: "dotted" }, data: data.days.map((d) => value(d.linear)) },
        { name: node.dataset.amount, type: "line", symbol: "none", data: days.map(() => amount) },
      ],
    });
    window.addEventListener("resize", () => chart.resize());
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
