// ocbridge dashboard: progressive enhancement only; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select.js-autosubmit").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
    // On a phone the filter box starts folded unless a filter is in use.
    if (window.matchMedia("(max-width: 700px)").matches) {
      document.querySelectorAll("details.filters-box:not([data-active])").forEach(function (d) { d.open = false; });
    }
    // Live regions ([data-live] with an id): the page re-reads itself every 10 s and swaps those regions in place,
    // no full reload. A region being used (focus inside, a box ticked, text typed) is left alone that round.
    var live = document.querySelectorAll("[data-live][id]");
    if (live.length) {
      var busy = function (el) {
        if (el.contains(document.activeElement) && document.activeElement !== document.body) { return true; }
        return Array.prototype.some.call(el.querySelectorAll("input, textarea"), function (i) {
          return (i.type === "checkbox" && i.checked) || (i.type === "text" && i.value) || i.tagName === "TEXTAREA" && i.value;
        });
      };
      var refresh = function () {
        if (document.hidden) { return; }
        fetch(window.location.href, {credentials: "same-origin", headers: {"X-Live": "1"}})
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (!html) { return; }
            var doc = new DOMParser().parseFromString(html, "text/html");
            document.querySelectorAll("[data-live][id]").forEach(function (el) {
              var fresh = doc.getElementById(el.id);
              if (fresh && !busy(el) && (fresh.innerHTML !== el.innerHTML || fresh.className !== el.className)) {
                el.innerHTML = fresh.innerHTML;
                Array.prototype.forEach.call(fresh.attributes, function (a) { el.setAttribute(a.name, a.value); });
                el.dispatchEvent(new CustomEvent("live:updated", {bubbles: true}));
              }
            });
            document.documentElement.setAttribute("data-live-at", String(Date.now()));
          })
          .catch(function () { /* offline for a moment: the next round tries again */ });
      };
      var every = parseInt(document.body.getAttribute("data-live-every") || "10000", 10);
      window.setInterval(refresh, every);
    }
    document.addEventListener("change", function (ev) {
      if (ev.target.classList && ev.target.classList.contains("js-check-all")) {
        var table = ev.target.closest("table");
        table.querySelectorAll("input[name=ids]").forEach(function (b) { b.checked = ev.target.checked; });
      }
    });
    // A new connection: choosing the service reloads the form with that service's named credential fields.
    document.querySelectorAll(".js-service-switch select").forEach(function (sel) {
      sel.addEventListener("change", function () {
        var url = new URL(window.location.href);
        url.searchParams.set("service", sel.value);
        window.location.assign(url.toString());
      });
    });
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("main-nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
  });
})();
