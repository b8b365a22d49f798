// The task-space explorer (taskspace_core/explorer.py writes the data and the heatmap template into
// the page; the book's bundle, taskspace-vega.js, provides vegaEmbed). Everything runs offline.
(function () {
  "use strict";
  const root = document.getElementById("taskspace-explorer");
  // inline in the executed notebook; the book build moves it into a script file of its own
  // (sphinx_ext.unembed_explorer_data) that sets window.taskspaceExplorerData before this runs
  const inline = document.getElementById("taskspace-explorer-data");
  const data = inline && inline.textContent.trim() ? JSON.parse(inline.textContent) : window.taskspaceExplorerData;
  // one heatmap spec per set of paradigms (a space names its own: benchmarks differ in paradigms)
  const templates = JSON.parse(document.getElementById("taskspace-explorer-heatmap").textContent);
  const EMBED = {renderer: "svg", actions: {export: true, source: false, compiled: false, editor: false}};
  const state = {metric: data.metrics[0], paradigm: data.paradigms[0], ...(data.initial || {})};
  const selects = {};
  let view = null;
  let shownParadigms = data.paradigms;  // the paradigms of the space on show (benchmarks differ in them)

  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    Object.entries(attributes || {}).forEach(([key, value]) => node.setAttribute(key, value));
    return node;
  }

  function fill(select, options, chosen, labelOf) {
    select.replaceChildren(...options.map((option) => {
      const node = element("option", labelOf ? labelOf(option) : option, {value: option});
      node.selected = option === chosen;
      return node;
    }));
  }

  function table(caption, headers, rows, name) {
    const node = element("table", null, {class: "table taskspace-explorer-table", "data-table": name});
    node.append(element("caption", caption));
    const head = element("tr");
    headers.forEach((h) => head.append(element("th", h)));
    node.append(head);
    rows.forEach((row) => {
      const tr = element("tr");
      row.forEach((cell) => tr.append(element("td", cell)));
      node.append(tr);
    });
    return node;
  }

  // the spaces that agree with the choices before field number `upTo`
  function matching(upTo) {
    return data.spaces.filter((space) => data.fields.slice(0, upTo).every((f) => space[f] === state[f]));
  }

  // each choice offers only what exists under the choices above it
  function refreshChoices() {
    data.fields.forEach((field, i) => {
      const options = [...new Set(matching(i).map((space) => space[field]))];
      if (!options.includes(state[field])) state[field] = options[0];
      fill(selects[field], options, state[field]);
    });
  }

  function strongest(values, k) {
    return values.map((value, j) => [j, value]).filter(([j, value]) => value !== null && shownParadigms[j] !== state.paradigm)
      .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, k);
  }

  function render() {
    refreshChoices();
    const space = matching(data.fields.length)[0];
    const paradigms = space.paradigms, phenomena = space.phenomena, n = paradigms.length;
    if (paradigms !== shownParadigms) {  // another benchmark: its own paradigms to choose from
      shownParadigms = paradigms;
      if (!paradigms.includes(state.paradigm)) state.paradigm = paradigms[0];
      fill(selects.paradigm, paradigms, state.paradigm, (p) => `${phenomena[paradigms.indexOf(p)]} · ${p}`);
    }
    const values = space.transfer[state.metric];
    const out = document.getElementById("taskspace-explorer-output");
    out.replaceChildren();

    out.append(element("p", Object.entries(space.headline).map(([label, value]) => `${label}: ${value}`).join(" · "),
                       {class: "taskspace-explorer-headline"}));
    out.append(element("p", `Committed results: results/${data.preset}/spaces/${space.name}`,
                       {class: "taskspace-explorer-source"}));

    const chart = element("div", null, {class: "taskspace-explorer-heatmap", id: "taskspace-explorer-heatmap-chart"});
    out.append(chart);
    const spec = JSON.parse(JSON.stringify(templates[space.heatmap]));
    const cells = spec.layer[0];
    cells.data.values[0].transfer = values;
    cells.encoding.color.scale.domain = space.domain[state.metric];  // plots.colour_domain, from Python
    cells.encoding.color.title = state.metric;
    spec.title = `${space.size}, ${space.checkpoint}, ${space.method}: ${state.metric} transfer (row: fine-tuned, column: evaluated)`;
    if (view) view.finalize();
    vegaEmbed(chart, spec, EMBED).then((result) => { view = result; }).catch((error) => {
      chart.textContent = "The heatmap could not be drawn: " + error;
      console.error(error);
    });

    const p = paradigms.indexOf(state.paradigm);
    const row = values.slice(p * n, (p + 1) * n);
    const column = paradigms.map((_, i) => values[i * n + p]);
    const format = (v) => (v >= 0 ? "+" : "") + v.toFixed(3);
    const self = values[p * n + p];
    out.append(element("p", `Fine-tuning on ${state.paradigm} moves its own test pairs by ` +
                       `${self === null ? "n/a" : format(self)} (${state.metric}).`));
    out.append(table(`Strongest transfers out of ${state.paradigm}: fine-tuning on it moves these targets`,
                     ["target", "phenomenon", state.metric],
                     strongest(row, 8).map(([j, v]) => [paradigms[j], phenomena[j], format(v)]), "out"));
    out.append(table(`Strongest transfers into ${state.paradigm}: fine-tuning on these sources moves it`,
                     ["source", "phenomenon", state.metric],
                     strongest(column, 8).map(([j, v]) => [paradigms[j], phenomena[j], format(v)]), "in"));
    out.append(table(`Within-phenomenon similarity (${space.similarity}): mean and spread over each phenomenon's pairs of paradigms`,
                     ["phenomenon", "paradigms", "mean", "std"],
                     space.within.map((r) => [r.phenomenon, r.n_paradigms, r.mean === null ? "n/a" : r.mean.toFixed(3),
                                               r.std === null ? "n/a" : r.std.toFixed(3)]), "within"));
  }

  function start() {
    const controls = element("div", null, {class: "taskspace-explorer-controls"});
    const make = (name, options, labelOf) => {
      const label = element("label", name + " ");
      const select = element("select", null, {"data-field": name});
      fill(select, options, state[name], labelOf);
      select.addEventListener("change", () => { state[name] = select.value; render(); });
      label.append(select);
      controls.append(label, " ");
      selects[name] = select;
    };
    data.fields.forEach((field) => make(field, []));
    make("metric", data.metrics);
    make("paradigm", data.paradigms, (p) => `${data.phenomena[data.paradigms.indexOf(p)]} · ${p}`);
    root.replaceChildren(controls, element("div", null, {id: "taskspace-explorer-output"}));
    render();
  }

  if (window.vegaEmbed) start(); else window.addEventListener("load", start);
})();
