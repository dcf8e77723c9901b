/* Command centre (dashboards). Every page works without this script: each chart has its table beside
   it. Where npm installed ECharts and Leaflet (served from node_modules, never a CDN), this draws:
   - the charts: an element [data-chart="ID"] with its data in <script type="application/json" id="ID">
     ({type: "pie", labels, values} or {type: "bar", labels, series: [{name, values}], percent});
   - the board's map: each grid a circle at its centre, larger for more orders, on the configured tiles
     or, without tiles (county intranets have no internet), on a plain background; a click opens the
     grid's dashboard;
   - the board refreshes itself: htmx polls its live part; without htmx a small timer does the same.
   - the bulletin's print button. */
(function () {
  "use strict";

  var COLOURS = ["#c8161d", "#0b5cad", "#1a7f37", "#9a6700", "#6f42c1", "#0a7d8c", "#d4661c", "#656d76"];

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function data(id) {
    var el = id && document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function percent(v) {
    return v === null || v === undefined ? "—" : Number(v).toFixed(1) + "%";
  }

  function option(spec) {
    if (spec.type === "pie") {
      return {
        color: COLOURS,
        animation: false,
        // The shares as the table beside writes them (ECharts would round them its own way).
        tooltip: { trigger: "item", formatter: function (p) { return p.name + ": " + p.value + " (" + spec.shares[p.dataIndex] + ")"; } },
        series: [{
          type: "pie",
          radius: ["35%", "68%"],
          data: spec.labels.map(function (label, i) { return { name: label, value: spec.values[i] }; }),
          label: { formatter: function (p) { return p.name + "\n" + spec.shares[p.dataIndex]; } }
        }]
      };
    }
    var many = spec.labels.length > 6;
    return {
      color: COLOURS,
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: spec.percent ? percent : undefined },
      legend: { top: 0 },
      grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "category", data: spec.labels, axisLabel: { interval: 0, rotate: many ? 30 : 0 } },
      yAxis: spec.percent
        ? { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }
        : { type: "value", minInterval: 1 },
      series: spec.series.map(function (s) { return { name: s.name, type: "bar", data: s.values }; })
    };
  }

  function drawCharts(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = data(el.dataset.chart);
      if (!spec) return;
      el.classList.add("drawn");
      var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(option(spec), true);
    });
  }

  window.addEventListener("resize", function () {
    if (!window.echarts) return;
    document.querySelectorAll("[data-chart].drawn").forEach(function (el) {
      var chart = window.echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });

  // --- the board's map ---------------------------------------------------------------------------
  var map = null;
  var circles = null;
  var fitted = false;

  function drawMap() {
    var el = document.querySelector("[data-map]");
    if (!el || !window.L) return;
    var grids = data(el.dataset.map) || [];
    if (!map) {
      // The map is a region a keyboard can enter (Leaflet pans it with the arrows) holding real controls, the
      // zoom buttons, named in the page's language; only the drawing of the circles is a picture (role img,
      // nothing in it to operate: the table beside it has the same grids as links), and the tiles are decoration.
      map = window.L.map(el, { scrollWheelZoom: false, zoomSnap: 0.25, zoomControl: false, attributionControl: Boolean(el.dataset.attribution) });
      window.L.control.zoom({ zoomInTitle: el.dataset.zoomIn || "+", zoomOutTitle: el.dataset.zoomOut || "-" }).addTo(map);
      if (el.dataset.tiles) {
        window.L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 18 }).addTo(map);
      } else {
        el.classList.add("no-tiles");
      }
      circles = window.L.layerGroup().addTo(map);
    }
    circles.clearLayers();
    var most = 1;
    grids.forEach(function (g) { most = Math.max(most, g.total); });
    var points = [];
    grids.forEach(function (g) {
      if (g.lat === null || g.lng === null) return;
      var marker = window.L.circleMarker([g.lat, g.lng], {
        radius: 4 + 14 * Math.sqrt(g.total / most),
        color: "#9e1015",
        weight: 1,
        fillColor: g.open ? "#c8161d" : "#e8a0a3",
        fillOpacity: g.total ? 0.7 : 0.25
      });
      marker.bindTooltip(g.name + " · " + (el.dataset.orders || "") + " " + g.total + " · " + (el.dataset.open || "") + " " + g.open);
      marker.on("click", function () { window.location.href = g.url; });
      circles.addLayer(marker);
      points.push([g.lat, g.lng]);
    });
    if (!fitted && points.length) {
      map.fitBounds(points, { padding: [30, 30], maxZoom: 16 });
      fitted = true;
    }
    var picture = el.querySelector(".leaflet-overlay-pane svg");
    if (picture) {
      picture.setAttribute("role", "img");
      picture.setAttribute("aria-label", el.dataset.picture || "");
      picture.setAttribute("focusable", "false");
    }
    var tiles = el.querySelector(".leaflet-tile-pane");
    if (tiles) tiles.setAttribute("aria-hidden", "true");
  }

  // --- the board refreshes itself -------------------------------------------------------------------
  function refreshWithoutHtmx(box) {
    var seconds = parseInt(box.dataset.refresh || "30", 10);
    setInterval(function () {
      fetch(box.dataset.part, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var fresh = document.createElement("div");
          fresh.innerHTML = html;
          var keep = box.querySelector("#board-map");
          var slot = fresh.querySelector("#board-map");
          if (keep && slot) slot.replaceWith(keep);
          box.replaceChildren.apply(box, Array.prototype.slice.call(fresh.childNodes));
          drawCharts(box);
          drawMap();
        })
        .catch(function () { /* the next tick tries again */ });
    }, Math.max(5, seconds) * 1000);
  }

  ready(function () {
    drawCharts(document);
    drawMap();
    var box = document.querySelector("[data-part]");
    if (box && !window.htmx) refreshWithoutHtmx(box);
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { window.print(); });
    });
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    drawCharts(e.detail.target);
    drawMap();
  });
})();
