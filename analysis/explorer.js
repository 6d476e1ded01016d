// The embedding explorer (analysis/explorer.py writes its data). One scatter plot per layer, all
// drawing the same rows: hover shows the picture (where the data are images), its true and predicted class; the legend toggles a
// class everywhere; a selection in one layer highlights those rows in every layer and method.
function mlpExplorer(root) {
  const spec = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  const methods = Object.keys(spec.methods);
  root.insertAdjacentHTML('beforeend',
    `<div class="explorer-bar"><label>method <select>${methods.map(m => `<option>${m}</option>`).join('')}</select></label>
     <span class="explorer-status"></span></div><div class="explorer-plot"></div>
     <div class="explorer-tip" hidden><div class="picture ${spec.sheet}"></div><div class="text"></div></div>`);
  const [choose, status, gd, tip] = ['select', '.explorer-status', '.explorer-plot', '.explorer-tip'].map(s => root.querySelector(s));
  const byClass = spec.classes.map((_, c) => spec.true.flatMap((y, i) => (y === c ? [i] : [])));
  let chosen = null;  // the selected rows, or null

  const decode = text => new Uint16Array(Uint8Array.from(atob(text), ch => ch.charCodeAt(0)).buffer);
  function traces(method) {
    const hidden = new Set((gd.data || []).filter(t => t.visible === 'legendonly').map(t => Number(t.legendgroup)));
    return Object.entries(spec.methods[method]).flatMap(([, emb], j) => {
      const q = decode(emb.xy), [x0, x1, y0, y1] = emb.range, axis = j ? String(j + 1) : '';
      return byClass.map((rows, c) => ({
        type: 'scattergl', mode: 'markers', name: spec.classes[c], legendgroup: String(c), showlegend: j === 0,
        visible: hidden.has(c) ? 'legendonly' : true, xaxis: 'x' + axis, yaxis: 'y' + axis, hoverinfo: 'none',
        x: rows.map(i => x0 + (q[2 * i] / 65535) * (x1 - x0)), y: rows.map(i => y0 + (q[2 * i + 1] / 65535) * (y1 - y0)),
        customdata: rows, marker: {size: 3, color: spec.colours[c % spec.colours.length]}, unselected: {marker: {opacity: 0.04}},
        selectedpoints: chosen && rows.flatMap((r, k) => (chosen.has(r) ? [k] : [])),
      }));
    });
  }
  function layout(method) {
    const layers = Object.entries(spec.methods[method]), out = {
      grid: {rows: 1, columns: layers.length, pattern: 'independent'}, height: 380, dragmode: 'select',
      margin: {l: 10, r: 10, t: 70, b: 10}, legend: {orientation: 'h', itemsizing: 'constant'}, hovermode: 'closest',
      annotations: layers.map(([layer, emb], j) => ({
        text: `<b>${layer}</b><br>${emb.note}`, showarrow: false, font: {size: 11},
        xref: `x${j ? j + 1 : ''} domain`, yref: `y${j ? j + 1 : ''} domain`, x: 0.5, y: 1.02, yanchor: 'bottom'})),
    };
    layers.forEach((_, j) => {
      out[`xaxis${j ? j + 1 : ''}`] = {showticklabels: false, zeroline: false};
      out[`yaxis${j ? j + 1 : ''}`] = {showticklabels: false, zeroline: false};
    });
    return out;
  }
  function say() {
    status.textContent = chosen ? `${chosen.size} of ${spec.true.length} rows selected (in every layer)`
      : `${spec.true.length} rows; box-select or lasso points in one layer to find them in the others; scroll to zoom`;
  }
  let drawing = false;  // a redraw clears Plotly's own selection: that is no deselection by the user
  function draw() {
    drawing = true;
    Plotly.react(gd, traces(choose.value), layout(choose.value), {displaylogo: false, responsive: true, scrollZoom: true})
      .then(() => { drawing = false; say(); });
  }

  draw();
  choose.addEventListener('change', draw);
  gd.on('plotly_selected', ev => {
    if (drawing) return;
    // The rows Plotly marked in the layer selected in (its event can leave out a point on the edge).
    const axis = ev && ev.points.length ? ev.points[0].data.xaxis : null;
    chosen = axis && new Set(gd.data.filter(t => t.xaxis === axis).flatMap(t => (t.selectedpoints || []).map(k => t.customdata[k])));
    Plotly.restyle(gd, {selectedpoints: gd.data.map(t => chosen && t.customdata.flatMap((r, k) => (chosen.has(r) ? [k] : [])))});
    say();
  });
  gd.on('plotly_deselect', () => {
    if (drawing) return;
    chosen = null; Plotly.restyle(gd, {selectedpoints: gd.data.map(() => null)});
    say();
  });
  gd.on('plotly_hover', ev => {
    const i = ev.points[0].customdata, w = 56 * spec.width / Math.max(spec.width, spec.height, 1),
      h = 56 * spec.height / Math.max(spec.width, spec.height, 1), column = i % spec.columns;
    const picture = tip.querySelector('.picture');
    picture.hidden = !spec.sheet;
    Object.assign(picture.style, {width: `${w}px`, height: `${h}px`, backgroundSize: `${spec.columns * w}px auto`,
      backgroundPosition: `-${column * w}px -${((i - column) / spec.columns) * h}px`});
    tip.querySelector('.text').innerHTML = `true <b>${spec.classes[spec.true[i]]}</b>, predicted <b>${spec.classes[spec.pred[i]]}</b>`
      + `<br>trial ${spec.trial}<br>train row ${spec.rows[i]}`;
    const at = ev.event || {clientX: 0, clientY: 0};
    Object.assign(tip.style, {left: `${at.clientX + 14}px`, top: `${at.clientY + 14}px`});
    tip.hidden = false;
  });
  gd.on('plotly_unhover', () => { tip.hidden = true; });
}
