/* Grassroots web pages: small behaviours shared by every page (no inline scripts: CSP).
   - [data-confirm] on a form or button asks before a destructive action;
   - [data-autosubmit] on a select sends its form when changed;
   - [data-locate] fills the lon/lat inputs named by data-lon/data-lat from the browser's position;
   - [data-echarts] draws the ECharts option held in the <script type="application/json"> it names;
   - [data-countdown] shows the time left until its datetime attribute;
   - [data-select-all] checks every checkbox named by its value.
   Each runs on load and again on content that HTMX swaps in. */
(function () {
  "use strict";

  function each(root, selector, fn) {
    if (root.matches && root.matches(selector)) fn(root);
    root.querySelectorAll(selector).forEach(fn);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-autosubmit]") && target.form) {
      if (target.form.requestSubmit) target.form.requestSubmit(); else target.form.submit();
    }
    if (target.matches && target.matches("[data-select-all]")) {
      document.querySelectorAll('input[type=checkbox][name="' + target.value + '"]').forEach(
        function (box) { box.checked = target.checked; });
    }
  });

  function locate(button) {
    button.addEventListener("click", function () {
      var status = document.getElementById(button.dataset.status || "");
      var say = function (text) { if (status) status.textContent = text; };
      if (!navigator.geolocation) { say(button.dataset.unavailable || ""); return; }
      say(button.dataset.waiting || "");
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lon = document.getElementById(button.dataset.lon);
        var lat = document.getElementById(button.dataset.lat);
        if (lon) lon.value = pos.coords.longitude.toFixed(6);
        if (lat) lat.value = pos.coords.latitude.toFixed(6);
        say((button.dataset.found || "") + " " + pos.coords.latitude.toFixed(5) + ", " +
            pos.coords.longitude.toFixed(5));
        document.dispatchEvent(new CustomEvent("grassroots:located", {
          detail: { lon: pos.coords.longitude, lat: pos.coords.latitude } }));
      }, function (error) {
        say((button.dataset.failed || "") + " " + error.message);
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  var charts = [];
  function chart(element) {
    if (!window.echarts || element.dataset.drawn) return;
    var source = document.getElementById(element.dataset.echarts);
    if (!source) return;
    element.dataset.drawn = "1";
    var instance = window.echarts.init(element, null, { renderer: "canvas" });
    instance.setOption(JSON.parse(source.textContent));
    charts.push(instance);
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  function countdown(element) {
    var due = new Date(element.getAttribute("datetime"));
    if (isNaN(due)) return;
    var left = due - new Date();
    var hours = Math.floor(Math.abs(left) / 3600000);
    var days = Math.floor(hours / 24);
    var text = days > 0 ? days + (element.dataset.d || "d") + " " + (hours % 24) + (element.dataset.h || "h")
                        : hours + (element.dataset.h || "h") + " " +
                          Math.floor((Math.abs(left) % 3600000) / 60000) + (element.dataset.m || "m");
    element.textContent = left < 0 ? (element.dataset.overdue || "-") + " " + text
                                   : (element.dataset.left || "") + " " + text;
    element.classList.toggle("overdue", left < 0);
    element.classList.toggle("soon", left >= 0 && left < 86400000);
  }

  function init(root) {
    each(root, "[data-locate]", locate);
    each(root, "[data-echarts]", chart);
    each(root, "[data-countdown]", countdown);
  }
  setInterval(function () { document.querySelectorAll("[data-countdown]").forEach(countdown); }, 30000);

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
  window.Grassroots = { init: init };
})();
