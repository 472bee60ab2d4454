// The costs page: reads GET /api/v1/costs/?step=day (the API scripts use) and draws it with ECharts.
(function () {
  "use strict";
  function query(form) {
    const params = new URLSearchParams();
    const data = new FormData(form);
    params.set("group_by", data.get("group_by"));
    params.set("step", "day");
    if (data.get("start")) params.set("start", data.get("start") + "T00:00:00Z");
    if (data.get("end")) params.set("end", data.get("end") + "T00:00:00Z");
    if (data.get("currency")) params.set("currency", data.get("currency").toUpperCase());
    return params;
  }
  // Figures in the page's language, keeping the API's decimals (the API's string is the exact amount).
  const language = document.documentElement.lang || "en";
  function figure(text) {
    if (text === null || text === undefined || text === "") return "–";
    const decimals = (String(text).split(".")[1] || "").length;
    return new Intl.NumberFormat(language, { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
      .format(Number(text));
  }
  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }
  function draw(chart, answer, title) {
    const days = answer.series.map((bucket) => bucket.start.slice(0, 10));
    const keys = [...new Set(answer.series.flatMap((bucket) => bucket.rows.map((row) => row.key)))];
    const series = keys.map((key) => ({
      name: key,
      type: "bar",
      stack: "cost",
      data: answer.series.map((bucket) => {
        const row = bucket.rows.find((r) => r.key === key);
        return row ? Number(row.cost) : 0;
      }),
    }));
    chart.setOption({
      animation: false,
      title: { text: title + " (" + answer.currency + ")", left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 60, right: 20, top: 40, bottom: 50 },
      xAxis: { type: "category", data: days },
      yAxis: { type: "value" },
      series: series,
    }, true);
  }
  function table(answer) {
    const body = document.querySelector("#cost-rows tbody");
    body.replaceChildren();
    for (const row of answer.rows) {
      const tr = document.createElement("tr");
      cell(tr, row.key);
      cell(tr, figure(row.cost) + " " + answer.currency);
      cell(tr, figure(row.host_hours));
      cell(tr, figure(row.unpriced_host_hours));
      body.appendChild(tr);
    }
    document.getElementById("cost-empty").hidden = answer.rows.length > 0;
  }
  function load(form, chart) {
    const status = document.getElementById("cost-status");
    const params = query(form);
    status.textContent = status.dataset.loading;
    const csv = new URLSearchParams(params);
    csv.delete("step");
    csv.set("format", "csv");
    document.getElementById("cost-csv").href = form.dataset.api + "?" + csv.toString();
    history.replaceState(null, "", "?" + new URLSearchParams(new FormData(form)).toString());
    fetch(form.dataset.api + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => response.json().then((body) => ({ ok: response.ok, body: body })))
      .then(({ ok, body }) => {
        if (!ok) {
          status.textContent = status.dataset.failed + " " + JSON.stringify(body);
          return;
        }
        status.textContent = "";
        document.getElementById("cost-total").textContent = figure(body.total) + " " + body.currency;
        document.getElementById("cost-unpriced").textContent = figure(body.unpriced_host_hours);
        draw(chart, body, document.getElementById("cost-chart").dataset.title);
        table(body);
      })
      .catch((error) => { status.textContent = status.dataset.failed + " " + error; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("cost-form");
    // ECharts' own words (tooltips, toolbox) in the page's language: it ships Chinese and English.
    const locale = language.startsWith("zh") ? "ZH" : "EN";
    const chart = echarts.init(document.getElementById("cost-chart"), null, { locale: locale });
    window.addEventListener("resize", () => chart.resize());
    form.addEventListener("submit", (event) => { event.preventDefault(); load(form, chart); });
    load(form, chart);
  });
})();
