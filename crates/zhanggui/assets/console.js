// Small enhancements for the console; every page works without them.
(function () {
  "use strict";

  // The phone navigation drawer.
  var toggle = document.querySelector(".nav-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = document.body.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Switchers submit as soon as a choice is made.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) { return; }
      var label = button.textContent;
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "✓";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });

  // Forms that ask before doing something that cannot be undone.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Buttons that take a moment say so, and cannot be pressed twice.
  document.querySelectorAll("button[data-busy]").forEach(function (button) {
    button.form && button.form.addEventListener("submit", function () {
      button.textContent = button.getAttribute("data-busy");
      setTimeout(function () { button.disabled = true; }, 0);
    });
  });

  // The live messages page: fetch what arrived since the newest row, every two seconds.
  var live = document.getElementById("live-messages");
  if (live && window.fetch) {
    var labels = Array.prototype.map.call(live.querySelectorAll("thead th"), function (th) {
      return th.textContent;
    });
    var body = live.querySelector("tbody");
    var cell = function (text, label, className, code) {
      var td = document.createElement("td");
      td.setAttribute("data-label", label);
      if (className) { td.className = className; }
      var inner = td;
      if (code) { inner = document.createElement(code); td.appendChild(inner); }
      inner.textContent = text;
      return td;
    };
    var poll = function () {
      var url = "/api/v1/accounts/" + live.getAttribute("data-account") +
        "/messages?after_id=" + live.getAttribute("data-newest");
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (page) {
          var items = page.items || [];
          for (var i = items.length - 1; i >= 0; i--) {
            var m = items[i];
            var tr = document.createElement("tr");
            tr.setAttribute("data-id", m.id);
            tr.className = "fresh";
            tr.appendChild(cell(m.received_local, labels[0]));
            tr.appendChild(cell(m.openid, labels[1], "", "code"));
            var kind = cell(m.label, labels[2], "", "span");
            kind.firstChild.className = "badge";
            tr.appendChild(kind);
            tr.appendChild(cell(m.detail, labels[3]));
            tr.appendChild(cell(m.reply, labels[4], "muted"));
            body.insertBefore(tr, body.firstChild);
          }
          if (items.length) {
            live.setAttribute("data-newest", items[0].id);
            var empty = document.getElementById("live-empty");
            if (empty) { empty.remove(); }
          }
        })
        .catch(function () { /* try again on the next tick */ })
        .then(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 2000);
  }

  // Close the user menu and the phone drawer when clicking elsewhere.
  document.addEventListener("click", function (event) {
    if (document.body.classList.contains("nav-open") && toggle &&
        !toggle.contains(event.target) && !event.target.closest(".sidenav")) {
      document.body.classList.remove("nav-open");
      toggle.setAttribute("aria-expanded", "false");
    }
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
    });
  });
})();
