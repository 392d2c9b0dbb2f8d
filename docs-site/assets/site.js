// The page's behaviour: the theme toggle, interactive Vega-Lite charts and search. Without
// JavaScript every page still reads: static figures stay, and search and the toggle stay hidden.
(function () {
  "use strict";
  var root = document.documentElement;
  var systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function isDark() {
    var chosen = root.dataset.theme;
    if (chosen === "dark") return true;
    if (chosen === "light") return false;
    return !!(systemDark && systemDark.matches);
  }

  // --- theme toggle -------------------------------------------------------------------------
  var toggle = document.getElementById("theme-toggle");
  function showToggle() {
    toggle.setAttribute("aria-pressed", isDark() ? "true" : "false");
    toggle.title = isDark() ? "Switch to the light theme" : "Switch to the dark theme";
  }
  if (toggle) {
    toggle.hidden = false;
    showToggle();
    toggle.addEventListener("click", function () {
      var next = isDark() ? "light" : "dark";
      root.dataset.theme = next;
      try { localStorage.setItem("vwb-theme", next); } catch (e) { /* private mode: the choice lasts this page */ }
      showToggle();
      embedCharts();
    });
  }
  if (systemDark && systemDark.addEventListener) systemDark.addEventListener("change", function () { showToggle(); embedCharts(); });

  // --- Vega-Lite charts: interactive where vega-embed loads, the static SVG stays otherwise ----
  function chartConfig() {
    var style = getComputedStyle(document.body);
    var ink = style.color;
    var grid = style.getPropertyValue("--border").trim() || ink;
    var axis = { labelColor: ink, titleColor: ink, domainColor: ink, tickColor: ink, gridColor: grid };
    return {
      background: null,
      axis: axis, axisX: axis, axisY: axis,
      legend: { labelColor: ink, titleColor: ink },
      title: { color: ink, subtitleColor: ink },
      header: { labelColor: ink, titleColor: ink },
      view: { stroke: grid }
    };
  }
  function merge(base, over) {
    var out = {};
    var k;
    for (k in base) out[k] = base[k];
    for (k in over) {
      out[k] = over[k] && typeof over[k] === "object" && !Array.isArray(over[k]) && base[k] && typeof base[k] === "object" ? merge(base[k], over[k]) : over[k];
    }
    return out;
  }
  function embedCharts() {
    if (typeof window.vegaEmbed !== "function") return;
    var specs = document.querySelectorAll("script.vega-spec");
    Array.prototype.forEach.call(specs, function (script) {
      var target = document.getElementById(script.dataset.target);
      if (!target) return;
      var spec = JSON.parse(script.textContent);
      spec.config = merge(spec.config || {}, chartConfig());
      window.vegaEmbed(target, spec, { actions: false, renderer: "svg", tooltip: true }).then(function () {
        target.hidden = false;
        var fallback = target.parentNode.querySelector(".vega-static");
        if (fallback) fallback.hidden = true;
      }).catch(function (err) {
        target.hidden = true;
        if (window.console) console.warn("vfio-workbench: chart kept static: " + err);
      });
    });
  }
  embedCharts();

  // --- search --------------------------------------------------------------------------------
  var input = document.getElementById("search-input");
  var results = document.getElementById("search-results");
  if (input && results && window.MiniSearch && window.VWB_SEARCH) {
    var split = new RegExp(window.VWB_SEARCH.split);
    var search = window.MiniSearch.loadJSON(JSON.stringify(window.VWB_SEARCH.index), {
      fields: window.VWB_SEARCH.fields,
      storeFields: ["href", "page", "heading"],
      tokenize: function (text) { return text.split(split).filter(function (t) { return t !== ""; }); }
    });
    input.disabled = false;
    var show = function () {
      var query = input.value.trim();
      results.innerHTML = "";
      if (query.length < 2) { results.hidden = true; return; }
      var found = search.search(query, { prefix: true, fuzzy: 0.1, combineWith: "AND", boost: { identifiers: 4, heading: 3, prose: 1.5 } }).slice(0, 12);
      if (found.length === 0) {
        var none = document.createElement("li");
        none.textContent = "Nothing found for " + query;
        results.appendChild(none);
      }
      found.forEach(function (r) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = r.href;
        a.textContent = r.heading;
        if (r.page !== r.heading) {
          var page = document.createElement("span");
          page.className = "result-page";
          page.textContent = " — " + r.page;
          a.appendChild(page);
        }
        li.appendChild(a);
        results.appendChild(li);
      });
      results.hidden = false;
    };
    input.addEventListener("input", show);
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {
        var first = results.querySelector("a");
        if (first) window.location.href = first.href;
      } else if (e.key === "Escape") {
        results.hidden = true;
      }
    });
    document.addEventListener("click", function (e) { if (!results.contains(e.target) && e.target !== input) results.hidden = true; });
  }

  // --- Run live: the page's cells in this browser, loaded only when asked for ----------------------
  var live = document.querySelector("button.live-toggle");
  if (live) {
    live.hidden = false;
    live.addEventListener("click", function () {
      if (location.protocol === "file:") {
        live.insertAdjacentText("afterend", " (running cells live needs the site served over HTTP: npx vfio-workbench serve, or any static web server)");
        live.disabled = true;
        return;
      }
      live.disabled = true;
      live.textContent = "Loading the emulator…";
      var assets = new URL("assets/live/", location.href).href;
      import(assets + "live-page.js")
        .then(function (m) {
          return m.startLive({ assets: assets, notebook: new URL("notebooks/" + live.dataset.slug + ".ipynb", location.href).href, slug: live.dataset.slug });
        })
        .then(function (session) {
          window.vfioWorkbenchLive = session;
          live.hidden = true;
        })
        .catch(function (err) {
          live.textContent = "Run live failed: " + err.message;
        });
    });
  }
})();
