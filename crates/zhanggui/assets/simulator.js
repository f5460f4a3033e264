// The phone simulator: a simulated follower chats with the current sandbox account through
// the sandbox's follower API; replies come back exactly as WeChat would show them.
(function () {
  "use strict";
  var root = document.getElementById("simulator");
  if (!root) { return; }
  var app = root.getAttribute("data-app");
  var text = function (name) { return root.getAttribute("data-" + name); };
  var list = document.getElementById("sim-list");
  var chat = document.getElementById("sim-chat");
  var base = "/sandbox/api/apps/" + encodeURIComponent(app) + "/followers";
  var storageKey = "zg-sim-" + app;
  var current = localStorage.getItem(storageKey);

  var api = function (method, url, body) {
    return fetch(url, {
      method: method,
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) { return r.json(); });
  };

  var bubble = function (who, content, meta) {
    var row = document.createElement("div");
    row.className = "bubble-row " + who;
    var b = document.createElement("div");
    b.className = "bubble";
    b.textContent = content;
    row.appendChild(b);
    if (meta) {
      var m = document.createElement("div");
      m.className = "bubble-meta";
      m.textContent = meta;
      row.appendChild(m);
    }
    chat.appendChild(row);
    chat.scrollTop = chat.scrollHeight;
  };

  // What a passive reply shows in WeChat.
  var shown = function (xml) {
    if (!xml || xml === "success") { return null; }
    var doc = new DOMParser().parseFromString(xml, "text/xml");
    var field = function (name) {
      var el = doc.getElementsByTagName(name)[0];
      return el ? el.textContent : "";
    };
    var type = field("MsgType");
    if (type === "text") { return field("Content"); }
    if (type === "news") { return "📰 " + field("Title"); }
    return "[" + type + "]";
  };

  var act = function (action, mine) {
    if (!current) { bubble("system", text("pick")); return; }
    if (mine) { bubble("me", mine); }
    api("POST", base + "/" + encodeURIComponent(current) + "/actions", action).then(function (d) {
      var meta = d.attempts ? (d.elapsed_ms + " ms" + (d.attempts > 1 ? " · ×" + d.attempts : "")) : "";
      if (d.error || d.errcode) { bubble("system", text("failed") + " " + (d.error || d.errmsg), meta); return; }
      var reply = shown(d.reply);
      if (reply) { bubble("them", reply, meta); } else { bubble("system", text("no-reply"), meta); }
    });
  };

  var select = function (openid) {
    current = openid;
    localStorage.setItem(storageKey, openid);
    Array.prototype.forEach.call(list.children, function (li) {
      li.classList.toggle("active", li.getAttribute("data-openid") === openid);
    });
    chat.textContent = "";
  };

  var render = function (openids) {
    list.textContent = "";
    openids.forEach(function (o) {
      var li = document.createElement("li");
      li.setAttribute("data-openid", o);
      li.textContent = o;
      li.addEventListener("click", function () { select(o); });
      list.appendChild(li);
    });
    if (current && openids.indexOf(current) >= 0) { select(current); } else { current = null; }
  };

  api("GET", base).then(function (d) { render(d.openids || []); });

  document.getElementById("sim-new").addEventListener("click", function () {
    api("POST", base, { count: 1 }).then(function (d) {
      var o = (d.openids || [])[0];
      if (!o) { return; }
      api("GET", base).then(function (all) {
        render(all.openids || []);
        select(o);
        bubble("system", text("followed"));
        act({ type: "follow" });
      });
    });
  });

  root.querySelectorAll("[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var kind = button.getAttribute("data-action");
      if (kind === "follow") { bubble("system", text("followed")); act({ type: "follow" }); }
      if (kind === "unfollow") { bubble("system", text("unfollowed")); act({ type: "unfollow" }); }
      if (kind === "location") {
        bubble("system", text("located"));
        act({ type: "location", latitude: 31.2304, longitude: 121.4737 });
      }
    });
  });

  document.getElementById("sim-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("sim-text");
    var value = input.value.trim();
    if (!value) { return; }
    input.value = "";
    act({ type: "text", content: value }, value);
  });
})();
