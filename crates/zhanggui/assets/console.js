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

  // The follower sync card: start without leaving the page, then follow the progress.
  var syncPanel = document.getElementById("sync-panel");
  if (syncPanel && window.fetch) {
    var syncUrl = "/api/v1/accounts/" + syncPanel.getAttribute("data-account") + "/followers/sync";
    var part = function (name) { return syncPanel.querySelector("[data-sync=" + name + "]"); };
    var showSync = function (s) {
      part("status").textContent = s.status_label;
      part("status").className = "badge " + (s.status === "running" ? "badge-info" :
        s.status === "failed" ? "badge-error" : "badge-ok");
      part("bar").style.width = s.percent + "%";
      part("total").textContent = s.total;
      part("listed").textContent = s.listed;
      part("profiled").textContent = s.profiled;
      var error = part("error");
      error.textContent = s.error || "";
      error.hidden = !s.error;
      var start = part("start");
      if (start) { start.disabled = s.status === "running"; }
      syncPanel.setAttribute("data-running", s.status === "running" ? "1" : "0");
    };
    var pollSync = function () {
      fetch(syncUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (s) { showSync(s); }
          if (!s || s.status === "running") { setTimeout(pollSync, 1000); }
        })
        .catch(function () { setTimeout(pollSync, 3000); });
    };
    var startForm = syncPanel.querySelector("form.sync-start");
    if (startForm) {
      startForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var token = startForm.querySelector("input[name=_csrf]").value;
        fetch(syncUrl, { method: "POST", credentials: "same-origin",
          headers: { "Accept": "application/json", "X-CSRF-Token": token } })
          .then(function (r) { return r.json(); })
          .then(function (s) {
            if (s.error && s.error.message) {
              var error = part("error");
              error.textContent = s.error.message;
              error.hidden = false;
            } else {
              showSync(s);
            }
            pollSync();
          })
          .catch(function () { startForm.submit(); });
      });
    }
    if (syncPanel.getAttribute("data-running") === "1") { setTimeout(pollSync, 1000); }
  }

  // Bulk tagging operations in progress: refresh their bars until they end.
  document.querySelectorAll(".tag-operation[data-running='1']").forEach(function (box) {
    if (!window.fetch) { return; }
    var url = "/api/v1/accounts/" + box.getAttribute("data-account") + "/tag-operations/" +
      box.getAttribute("data-operation");
    var set = function (name, value) {
      var el = box.querySelector("[data-op=" + name + "]");
      if (el) { el.textContent = value; }
    };
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (op) {
          if (!op) { return; }
          box.querySelector("[data-op=bar]").style.width = op.percent + "%";
          ["handled", "total", "done", "skipped", "failed"].forEach(function (k) { set(k, op[k]); });
          set("status", op.status_label);
          if (op.status === "running") { setTimeout(poll, 1000); }
          else {
            box.querySelector("[data-op=status]").className =
              "badge " + (op.status === "done" ? "badge-ok" : "badge-error");
          }
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  });
  // A follower's tags (粉丝详情): add and remove through the tags API, then reload.
  var chips = document.getElementById("tag-chips");
  if (chips && window.fetch) {
    var current = JSON.parse(chips.getAttribute("data-tags") || "[]");
    var saveTags = function (ids) {
      var url = "/api/v1/accounts/" + chips.getAttribute("data-account") + "/followers/" +
        encodeURIComponent(chips.getAttribute("data-openid")) + "/tags";
      fetch(url, {
        method: "PUT", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRF-Token": chips.getAttribute("data-csrf") },
        body: JSON.stringify({ tag_ids: ids })
      }).then(function (r) {
        if (r.ok) { window.location.reload(); return; }
        return r.json().catch(function () { return {}; }).then(function (body) {
          var box = document.getElementById("tag-error");
          if (!box) { return; }
          box.textContent = (body.error && body.error.message) || chips.getAttribute("data-failed");
          box.hidden = false;
        });
      });
    };
    chips.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-tag]");
      if (!button) { return; }
      var id = Number(button.getAttribute("data-remove-tag"));
      saveTags(current.filter(function (t) { return t !== id; }));
    });
    var add = document.querySelector("[data-add-tag]");
    var select = document.getElementById("tag-add");
    if (add && select) {
      add.addEventListener("click", function () {
        if (!select.value) { return; }
        saveTags(current.concat([Number(select.value)]));
      });
    }
  }

  // The follower list shows its page at once; the number of matches follows (a count
  // reads every candidate follower, a page only the first ones).
  var total = document.querySelector("#match-total[data-count-account]");
  if (total && window.fetch) {
    fetch("/api/v1/accounts/" + total.getAttribute("data-count-account") + "/followers/count", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": total.getAttribute("data-csrf") },
      body: JSON.stringify({ filter: JSON.parse(total.getAttribute("data-filter") || "{}") })
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && typeof body.count === "number") {
          total.querySelector("strong").textContent = String(body.count);
        }
      }).catch(function () { /* the page stays usable without its total */ });
  }

  // Bulk tagging of a whole match (粉丝): start the operation, then show its progress.
  var bulk = document.getElementById("bulk-tag");
  if (bulk && window.fetch) {
    var progress = bulk.querySelector(".bulk-progress");
    var account = bulk.getAttribute("data-account");
    var headers = { "Content-Type": "application/json", "Accept": "application/json",
                    "X-CSRF-Token": bulk.getAttribute("data-csrf") };
    var show = function (text) { progress.hidden = false; progress.textContent = text; };
    var follow = function (opId) {
      fetch("/api/v1/accounts/" + account + "/tag-operations/" + opId,
            { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (op) {
          var running = op.status === "running" || op.status === "queued" || op.status === "pending";
          show((op.status_label || bulk.getAttribute(running ? "data-running" : "data-done")) +
               " " + (op.handled || 0) + " / " + (op.total || 0));
          if (running) { setTimeout(function () { follow(opId); }, 1000); }
        })
        .catch(function () { show(bulk.getAttribute("data-failed")); });
    };
    bulk.querySelectorAll("[data-bulk]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (!window.confirm(button.getAttribute("data-confirm-text"))) { return; }
        var tag = bulk.querySelector("select").value;
        show(bulk.getAttribute("data-running") + "…");
        fetch("/api/v1/accounts/" + account + "/tags/" + tag + "/bulk", {
          method: "POST", credentials: "same-origin", headers: headers,
          body: JSON.stringify({ action: button.getAttribute("data-bulk"),
                                 filter: JSON.parse(bulk.getAttribute("data-filter") || "{}") })
        }).then(function (r) {
          return r.json().then(function (body) {
            if (r.ok && body.id) { follow(body.id); return; }
            show((body.error && body.error.message) || bulk.getAttribute("data-failed"));
          });
        }).catch(function () { show(bulk.getAttribute("data-failed")); });
      });
    });
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
