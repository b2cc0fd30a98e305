// Item explorer: data from one JSON blob, rows built lazily with textContent only
// (model text is untrusted: it is never parsed as HTML).
(function () {
  var src = document.getElementById("items-data");
  if (!src) return;
  var D = JSON.parse(src.textContent);
  // a paged explorer: this page embedded, the others in report-items/ (one <script> each,
  // which loads from file:// where a fetch cannot); labels are numbered alike on every page
  var P = D.pages && D.pages.count > 1 ? D.pages : null, current = 0;
  var PAGE = 100;
  var $ = function (id) { return document.getElementById(id); };
  var body = $("explorer").tBodies[0];
  var shown = 0, matches = [];
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function usd(x) { return x === null || x === undefined ? "—" : "$" + (x < 0.001 ? x.toPrecision(2) : x.toFixed(4)); }
  function sec(x) { return x === null || x === undefined ? "—" : (x < 1 ? Math.round(x * 1000) + " ms" : x.toFixed(2) + " s"); }
  function fill(sel, values, all) {
    sel.appendChild(new Option(all, ""));
    values.forEach(function (v) { sel.appendChild(new Option(v.label, v.value)); });
  }
  // summary.json's order (the analysis decides it), then any value it does not list
  function strataOptions() {
    var sel = $("f-stratum"), keep = sel.value;
    var strataValues = (D.strata_order || []).slice();
    D.items.forEach(function (it) {
      it[2].forEach(function (v, j) {
        if (v === null) return;
        var k = D.strata_cols[j] + "=" + v;
        if (strataValues.indexOf(k) < 0) strataValues.push(k);
      });
    });
    sel.textContent = "";
    fill(sel, strataValues.map(function (s) { return { label: s, value: s }; }), "all strata");
    sel.value = strataValues.indexOf(keep) >= 0 ? keep : "";
  }
  fill($("f-config"), D.configs.map(function (c, i) { return { label: c, value: String(i) }; }), "all configs");
  strataOptions();
  fill($("f-label"), [{ label: "correct", value: "correct" }, { label: "any failure", value: "any" }]
    .concat(D.labels.map(function (l, i) { return { label: l.replace(/_/g, " "), value: String(i) }; })), "any outcome");
  if (D.baseline < 0) $("f-regress").disabled = true;

  function cellMatches(cell, label) {
    if (!cell) return false;
    if (label === "") return true;
    if (label === "correct") return cell[1] === 1;
    if (label === "any") return cell[2] >= 0;
    return cell[2] === Number(label);
  }
  function match(it) {
    var cfg = $("f-config").value, st = $("f-stratum").value, label = $("f-label").value;
    var regress = $("f-regress").checked, q = $("f-search").value.trim().toLowerCase();
    if (st) {
      var ok = false;
      it[2].forEach(function (v, j) { if (D.strata_cols[j] + "=" + v === st) ok = true; });
      if (!ok) return false;
    }
    if (q && it[0].toLowerCase().indexOf(q) < 0 && String(it[1]).toLowerCase().indexOf(q) < 0) return false;
    var idx = cfg === "" ? D.configs.map(function (_, i) { return i; }) : [Number(cfg)];
    if (regress) {
      var base = it[3][D.baseline];
      if (!base || base[1] !== 1) return false;
      idx = idx.filter(function (i) { return i !== D.baseline && it[3][i] && it[3][i][1] === 0; });
      if (!idx.length) return false;
    }
    return idx.some(function (i) { return cellMatches(it[3][i], label); });
  }
  function mark(cell) {
    if (cell[1] === 1) return ["✓", "ok"];
    if (cell[1] === 0) return ["✗", "bad"];
    return ["∅", "unscored"];
  }
  function row(it) {
    var tr = el("tr", null, "item");
    tr.appendChild(el("td", it[0]));
    tr.appendChild(el("td", it[2].join(" · ")));
    tr.appendChild(el("td", it[1]));
    it[3].forEach(function (cell) {
      var td = el("td", null, "cell");
      if (!cell) { td.appendChild(el("span", "—", "na")); tr.appendChild(td); return; }
      var m = mark(cell);
      td.appendChild(el("span", m[0] + " ", m[1]));
      td.appendChild(el("span", cell[0] === null ? "(no answer)" : cell[0]));
      var label = cell[2] >= 0 ? D.labels[cell[2]].replace(/_/g, " ") + " · " : "";
      td.appendChild(el("span", label + usd(cell[3]) + " · " + sec(cell[4]), "meta"));
      td.title = cell[0] === null ? "" : String(cell[0]);
      tr.appendChild(td);
    });
    tr.addEventListener("click", function () { toggle(tr, it); });
    return tr;
  }
  function toggle(tr, it) {
    var next = tr.nextSibling;
    if (next && next.className === "detail") { next.remove(); return; }
    var d = el("tr", null, "detail"), td = el("td");
    td.colSpan = 3 + D.configs.length;
    it[3].forEach(function (cell, i) {
      if (!cell) return;
      td.appendChild(el("h4", D.configs[i] + ": " + (cell[0] === null ? "(no answer)" : cell[0]) +
        (cell[2] >= 0 ? " — " + D.labels[cell[2]] : "")));
      td.appendChild(el("pre", cell[5] >= 0 ? D.texts[cell[5]] : "(no output)", "text"));
      if (!cell[6].length) return;
      var t = el("table", null, "calls"), h = el("tr");
      ["role", "#", "model", "in", "out", "reasoning", "cost", "latency", "status", "cache"].forEach(function (x) { h.appendChild(el("th", x)); });
      t.appendChild(h);
      cell[6].forEach(function (c) {
        var r = el("tr");
        [D.roles[c[0]], c[1], D.models[c[2]], c[3], c[4], c[5], usd(c[6]), sec(c[7]), c[8], c[9] ? "hit" : ""].forEach(function (x) { r.appendChild(el("td", x === null || x === undefined ? "—" : x)); });
        t.appendChild(r);
        if (c[10] >= 0 && c[10] !== cell[5]) {
          var tr2 = el("tr"), td2 = el("td");
          td2.colSpan = 10;
          td2.appendChild(el("pre", D.texts[c[10]], "text"));
          tr2.appendChild(td2);
          t.appendChild(tr2);
        }
      });
      td.appendChild(t);
    });
    d.appendChild(td);
    tr.parentNode.insertBefore(d, tr.nextSibling);
  }
  function more() {
    var frag = document.createDocumentFragment();
    var end = Math.min(matches.length, shown + PAGE);
    for (; shown < end; shown++) frag.appendChild(row(matches[shown]));
    body.appendChild(frag);
    $("f-count").textContent = matches.length + " of " + D.items.length + " items match; showing " + shown +
      (P ? " (page " + (current + 1) + " of " + P.count + ", " + P.items + " items in all)" : "");
    $("f-more").hidden = shown >= matches.length;
  }
  function apply() {
    matches = D.items.filter(match);
    body.textContent = "";
    shown = 0;
    more();
  }
  ["f-config", "f-stratum", "f-label", "f-regress"].forEach(function (id) { $(id).addEventListener("change", apply); });
  $("f-search").addEventListener("input", apply);
  $("f-more").addEventListener("click", more);
  if (P) {
    fill($("f-page"), P.ranges.map(function (r, i) {
      return { label: (i + 1) + ": " + r[0] + " … " + r[1], value: String(i) };
    }), "");
    $("f-page").remove(0);  // no "all" entry: one page at a time
    $("f-page").addEventListener("change", function () { show(Number($("f-page").value)); });
  }
  function show(i) {
    if (i === 0) { D = JSON.parse(src.textContent); current = 0; strataOptions(); apply(); return; }
    var name = P.dir + "/page-" + String(i + 1).padStart(4, "0") + ".js";
    var s = document.createElement("script");
    window.ttsItemsPage = function (data) { D = data; current = i; strataOptions(); apply(); };
    s.onload = function () { s.remove(); };
    s.onerror = function () {
      s.remove();
      $("f-count").textContent = name + " could not be loaded: keep the folder " + P.dir +
        "/ next to this file (page " + (current + 1) + " still shown)";
      $("f-page").value = String(current);
    };
    s.src = name;
    document.head.appendChild(s);
  }
  apply();
})();
