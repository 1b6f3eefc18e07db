/* The public portal: the location picker on the request form and the copy button of the
   tracking code. Without JavaScript the form still works (address and village instead). */
(function () {
  "use strict";

  function say(id, text) {
    var element = document.getElementById(id || "");
    if (element) element.textContent = text;
  }

  function picker(element) {
    if (!window.L || element.dataset.ready) return;
    element.dataset.ready = "1";
    element.hidden = false;
    var L = window.L;
    var lon = document.getElementById(element.dataset.lon);
    var lat = document.getElementById(element.dataset.lat);
    var clear = document.getElementById(element.dataset.clear);
    L.Icon.Default.imagePath = element.dataset.images;
    var map = L.map(element, { attributionControl: !!element.dataset.tiles });
    if (map.attributionControl) map.attributionControl.setPrefix("Leaflet");
    if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, {
        attribution: element.dataset.attribution || "", maxZoom: 18 }).addTo(map);
    }
    map.setView([35, 105], 4);
    var marker = null;

    function store(latValue, lonValue) {
      lon.value = lonValue.toFixed(6);
      lat.value = latValue.toFixed(6);
      say(element.dataset.status, element.dataset.chosen + " " + latValue.toFixed(5) + ", " +
          lonValue.toFixed(5));
      if (clear) clear.hidden = false;
    }
    function put(latValue, lonValue, centre) {
      if (!marker) {
        marker = L.marker([latValue, lonValue], {
          draggable: true, keyboard: true, title: element.dataset.marker || "" }).addTo(map);
        marker.on("dragend", function () {
          var p = marker.getLatLng();
          store(p.lat, p.lng);
        });
      } else {
        marker.setLatLng([latValue, lonValue]);
      }
      store(latValue, lonValue);
      if (centre) map.setView([latValue, lonValue], Math.max(map.getZoom(), 16));
    }

    map.on("click", function (event) { put(event.latlng.lat, event.latlng.lng, false); });
    document.addEventListener("grassroots:located", function (event) {
      put(event.detail.lat, event.detail.lon, true);
    });
    if (clear) {
      clear.addEventListener("click", function () {
        if (marker) { map.removeLayer(marker); marker = null; }
        lon.value = ""; lat.value = "";
        clear.hidden = true;
        say(element.dataset.status, element.dataset.cleared || "");
      });
    }
    var start = lon.value && lat.value ? [parseFloat(lat.value), parseFloat(lon.value)] : null;
    if (start && !isNaN(start[0]) && !isNaN(start[1])) put(start[0], start[1], true);

    window.fetch(element.dataset.grids, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        var outlines = L.geoJSON(data, {
          interactive: false,
          style: { color: "#0b5cad", weight: 1.5, opacity: 0.8, fillColor: "#0b5cad", fillOpacity: 0.06 }
        }).addTo(map);
        if (!marker && outlines.getLayers().length) map.fitBounds(outlines.getBounds(), { padding: [8, 8] });
      })
      .catch(function () { /* the outlines only help to orient; the picker works without */ });
    setTimeout(function () { map.invalidateSize(); }, 0);
  }

  function copier(button) {
    if (button.dataset.ready) return;
    button.dataset.ready = "1";
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      var text = source ? source.textContent.trim() : "";
      var done = function () { say("copy-status", button.dataset.copied || ""); };
      var failed = function () {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        say("copy-status", button.dataset.copyFailed || "");
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, failed);
      } else {
        failed();
      }
    });
  }

  // Photos over the server's limit (data-max-bytes) are refused before sending: the server stops
  // such an upload while it arrives, and a browser may then show a reset connection.
  function photosFit(input) {
    var limit = Number(input.dataset.maxBytes);
    var tooLarge = Array.prototype.some.call(input.files || [], function (file) {
      return file.size > limit;
    });
    input.setCustomValidity(tooLarge ? input.dataset.tooLarge || "" : "");
    return !tooLarge;
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    photosFit(input);
    input.reportValidity();
  });
  document.addEventListener("submit", function (event) {
    var inputs = event.target.querySelectorAll("input[type=file][data-max-bytes]");
    for (var i = 0; i < inputs.length; i++) {
      if (!photosFit(inputs[i])) {
        event.preventDefault();
        inputs[i].reportValidity();
        return;
      }
    }
  });

  function init(root) {
    root.querySelectorAll(".js-only").forEach(function (element) { element.hidden = false; });
    root.querySelectorAll("[data-picker]").forEach(picker);
    root.querySelectorAll("[data-copy]").forEach(copier);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
