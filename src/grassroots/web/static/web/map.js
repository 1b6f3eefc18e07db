/* Console map (web/console/map.html): draws the grids of [data-url] (GeoJSON from map_data),
   each filled with the colour its properties carry, with a popup of its figures and links.
   Popups and tooltips are DOM elements built with textContent: names are never markup.
   A tile layer only when the page names one (settings.MAP_TILE_URL). */
(function () {
  "use strict";

  function popup(info) {
    var box = document.createElement("div");
    box.className = "insight-popup";
    var title = document.createElement("strong");
    title.textContent = info.title;
    box.appendChild(title);
    var list = document.createElement("dl");
    (info.rows || []).forEach(function (row) {
      var dt = document.createElement("dt");
      dt.textContent = row[0];
      var dd = document.createElement("dd");
      dd.textContent = row[1];
      list.appendChild(dt);
      list.appendChild(dd);
    });
    box.appendChild(list);
    (info.links || []).forEach(function (pair) {
      var a = document.createElement("a");
      a.href = pair[1];
      a.textContent = pair[0];
      box.appendChild(a);
      box.appendChild(document.createTextNode(" "));
    });
    return box;
  }

  // Leaflet takes a string as HTML: tooltips get an element built as text, never data as markup.
  function textTooltip(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function message(element, text) {
    var p = document.createElement("p");
    p.className = "insight-map-message";
    p.textContent = text;
    element.appendChild(p);
  }

  function draw(element) {
    if (!window.L || element.dataset.drawn) return;
    element.dataset.drawn = "1";
    var map = window.L.map(element, { zoomSnap: 0.25 });
    map.attributionControl.setPrefix("Leaflet");
    if (element.dataset.tileUrl) {
      window.L.tileLayer(element.dataset.tileUrl, {
        attribution: element.dataset.tileAttribution || "",
        maxZoom: 19
      }).addTo(map);
    }
    map.setView([30, 115], 5);
    fetch(element.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data.features || !data.features.length) {
          message(element, element.dataset.empty || "");
          return;
        }
        var layer = window.L.geoJSON(data, {
          style: function (feature) {
            return { color: "#333", weight: 1, fillColor: feature.properties.colour, fillOpacity: 0.75 };
          },
          onEachFeature: function (feature, shape) {
            shape.bindPopup(popup(feature.properties.popup));
            shape.bindTooltip(textTooltip(feature.properties.name + ": " + feature.properties.value));
          }
        }).addTo(map);
        map.fitBounds(layer.getBounds(), { padding: [12, 12] });
      })
      .catch(function () { message(element, element.dataset.failed || ""); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#insight-map[data-url]").forEach(draw);
  });
})();
