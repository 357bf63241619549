(function () {
  "use strict";
  var body = document.body;
  body.classList.add("js");

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  each(document.querySelectorAll("[data-tabs]"), function (group) {
    var tabs = group.querySelectorAll("[role=tab]");
    var panels = group.querySelectorAll("[role=tabpanel]");
    function show(n) {
      each(tabs, function (t, k) {
        t.setAttribute("aria-selected", k === n ? "true" : "false");
        t.tabIndex = k === n ? 0 : -1;
      });
      each(panels, function (p, k) { p.hidden = k !== n; });
    }
    each(tabs, function (t, k) {
      t.addEventListener("click", function () { show(k); });
      t.addEventListener("keydown", function (e) {
        var d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (d) {
          var m = (k + d + tabs.length) % tabs.length;
          show(m);
          tabs[m].focus();
          e.preventDefault();
        }
      });
    });
    var first = parseInt(group.getAttribute("data-active") || "0", 10);
    show(first >= 0 && first < tabs.length ? first : 0);
  });

  each(document.querySelectorAll("[data-evidence]"), function (btn) {
    btn.addEventListener("click", function () {
      var open = btn.getAttribute("data-evidence") === "open";
      var scope = document.getElementById(btn.getAttribute("data-scope")) || document;
      each(scope.querySelectorAll("details.evidence"), function (d) { d.open = open; });
    });
  });

  var reopen = [];
  window.addEventListener("beforeprint", function () {
    reopen = [];
    each(document.querySelectorAll("details.evidence, details.findings-more"), function (d) {
      if (!d.open) { reopen.push(d); d.open = true; }
    });
  });
  window.addEventListener("afterprint", function () {
    reopen.forEach(function (d) { d.open = false; });
    reopen = [];
  });

  var dark = !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  body.setAttribute("data-scheme", dark ? "dark" : "light");
  body.setAttribute("data-ready", "1");
})();
