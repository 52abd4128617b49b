// Live updates: each bus event is listed at the top and the page's tables are refreshed in
// place (the same page fetched again), so nothing needs a reload. No framework, no build.
(function () {
  "use strict";
  var list = document.getElementById("live-list");
  var region = document.getElementById("live-region");
  var refreshing = null;

  function refresh() {
    if (refreshing) { return; }
    refreshing = window.setTimeout(function () {
      refreshing = null;
      // Keep what the user is typing or has focused: refresh only when no form has focus.
      var active = document.activeElement;
      if (active && region.contains(active) && active.matches("input, textarea, select")) {
        return;
      }
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("live-region");
          if (fresh) { region.innerHTML = fresh.innerHTML; }
        });
    }, 300);
  }

  if (list && window.EventSource) {
    var source = new EventSource("/events");
    source.addEventListener("bus", function (e) {
      var data = JSON.parse(e.data);
      var empty = list.querySelector(".muted");
      if (empty) { empty.remove(); }
      var item = document.createElement("li");
      var time = new Date(data.recorded_at).toLocaleTimeString(document.documentElement.lang, {
        timeZone: "America/Mexico_City", hour: "2-digit", minute: "2-digit", second: "2-digit"
      });
      item.textContent = time + " · " + data.label;
      item.dataset.type = data.type;
      list.prepend(item);
      while (list.children.length > 8) { list.lastElementChild.remove(); }
      refresh();
    });
  }

  document.addEventListener("click", function (e) {
    if (e.target.matches("[data-print]")) { window.print(); }
  });
})();
