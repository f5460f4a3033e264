// The menu editor: a phone-like preview of the menu bar (tap a button to edit it, add,
// remove and reorder buttons) beside the fields of the selected button, with WeChat's
// byte limits counted as one types. It edits the form's JSON field (`buttons`), which alone
// is sent; the server checks everything again. Without JavaScript the JSON is edited as
// text. Our own code, no library.
(function () {
  "use strict";
  var root = document.getElementById("menu-editor");
  var dataEl = document.getElementById("menu-data");
  var area = document.getElementById("buttons");
  var fallback = document.getElementById("menu-fallback");
  if (!root || !dataEl || !area || !window.TextEncoder) { return; }
  var data;
  var buttons;
  try {
    data = JSON.parse(dataEl.textContent);
    buttons = JSON.parse(area.value);
  } catch (e) {
    return; // malformed JSON (a failed no-script edit): leave the text editor
  }
  if (!Array.isArray(buttons)) { return; }
  var T = data.text || {};
  var L = data.limits || {};
  var readOnly = area.hasAttribute("readonly");
  var errors = data.errors || {};
  var taps = {};
  (data.taps || []).forEach(function (t) { taps[t[0] + "\n" + t[1]] = t[2]; });
  var types = {};
  (data.types || []).forEach(function (t) { types[t.value] = t; });
  var encoder = new TextEncoder();
  var bytes = function (s) { return encoder.encode(s || "").length; };
  var fmt = function (key, args) {
    var s = T[key] || key;
    Object.keys(args || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(args[k])); });
    return s;
  };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  };

  fallback.hidden = true;
  root.hidden = false;
  var dirty = document.getElementById("menu-dirty");
  var sel = { i: buttons.length ? 0 : -1, j: -1 };

  var current = function () {
    var top = buttons[sel.i];
    if (!top) { return null; }
    if (sel.j < 0) { return top; }
    return (top.sub_button || [])[sel.j] || null;
  };
  var prefix = function (i, j) {
    return "button[" + i + "]" + (j >= 0 ? ".sub_button[" + j + "]" : "");
  };
  var hasError = function (i, j) {
    var p = prefix(i, j) + ".";
    return Object.keys(errors).some(function (f) {
      return f.indexOf(p) === 0 && (j >= 0 || f.indexOf(p + "sub_button[") !== 0);
    });
  };
  var save = function () {
    area.value = JSON.stringify(buttons, null, 2);
    if (dirty) { dirty.hidden = false; }
  };
  var tapsOf = function (b) {
    if (b.type === "click") { return taps["click\n" + (b.key || "")] || 0; }
    if (b.type === "view") { return taps["view\n" + (b.url || "")] || 0; }
    return null;
  };

  // ---- the phone ----
  var layout = el("div", "me-layout");
  var phone = el("div", "me-phone");
  var screen = el("div", "me-screen");
  screen.appendChild(el("div", "me-title", data.account || ""));
  var chat = el("div", "me-chat");
  var subs = el("div", "me-subs");
  var bar = el("div", "me-bar");
  screen.appendChild(chat);
  screen.appendChild(subs);
  screen.appendChild(bar);
  phone.appendChild(screen);
  var panel = el("div", "me-panel");
  layout.appendChild(phone);
  layout.appendChild(panel);
  root.appendChild(layout);

  var select = function (i, j) {
    sel = { i: i, j: j };
    renderPhone();
    renderPanel();
  };

  var previewButton = function (b, i, j, cls) {
    var btn = el("button", cls);
    btn.type = "button";
    btn.setAttribute("data-place", (i + 1) + (j >= 0 ? "-" + (j + 1) : ""));
    var name = el("span", "me-name", b.name || "…");
    btn.appendChild(name);
    var n = (b.sub_button && b.sub_button.length) ? null : tapsOf(b);
    if (n !== null && n > 0) { btn.appendChild(el("span", "me-taps", String(n))); }
    if (sel.i === i && sel.j === j) { btn.classList.add("is-selected"); btn.setAttribute("aria-pressed", "true"); }
    if (hasError(i, j) || overLimit(b, j >= 0)) { btn.classList.add("has-error"); }
    btn.addEventListener("click", function () { select(i, j); });
    return btn;
  };

  var renderPhone = function () {
    chat.textContent = "";
    bar.textContent = "";
    subs.textContent = "";
    if (!buttons.length) { chat.appendChild(el("p", "me-empty", T["menu.empty_preview"])); }
    else { chat.appendChild(el("p", "me-empty", T["menu.select_hint"])); }
    var cols = Math.max(buttons.length + (buttons.length < L.buttons && !readOnly ? 1 : 0), 1);
    bar.style.gridTemplateColumns = "repeat(" + cols + ", 1fr)";
    subs.style.gridTemplateColumns = bar.style.gridTemplateColumns;
    buttons.forEach(function (b, i) {
      var top = previewButton(b, i, -1, "me-top");
      if (b.sub_button && b.sub_button.length) { top.insertBefore(el("span", "me-mark", "≡"), top.firstChild); }
      bar.appendChild(top);
      var col = el("div", "me-col");
      if (sel.i === i) {
        (b.sub_button || []).forEach(function (s, j) { col.appendChild(previewButton(s, i, j, "me-subbtn")); });
        if (!readOnly && (b.sub_button || []).length < L.subs) {
          var add = el("button", "me-subbtn me-add", T["menu.add_sub"]);
          add.type = "button";
          add.addEventListener("click", function () {
            b.sub_button = b.sub_button || [];
            b.sub_button.push({ name: "", type: "click" });
            save();
            select(i, b.sub_button.length - 1);
          });
          col.appendChild(add);
        }
      }
      subs.appendChild(col);
    });
    if (!readOnly && buttons.length < L.buttons) {
      var addTop = el("button", "me-top me-add", T["menu.add_button"]);
      addTop.type = "button";
      addTop.addEventListener("click", function () {
        buttons.push({ name: "", type: "click" });
        save();
        select(buttons.length - 1, -1);
      });
      bar.appendChild(addTop);
    }
  };

  // ---- the fields ----
  var overLimit = function (b, sub) {
    var max = sub ? L.sub_name : L.top_name;
    return bytes(b.name) > max || bytes(b.key) > L.key || bytes(b.url) > L.url;
  };

  var fieldError = function (field) {
    return errors[prefix(sel.i, sel.j) + "." + field];
  };

  var field = function (label, id) {
    var wrap = el("div", "field");
    var l = el("label", null, label);
    l.htmlFor = id;
    wrap.appendChild(l);
    return wrap;
  };

  // A text input with a live byte counter and the reason when over.
  var textField = function (b, key, label, max, overKey, check) {
    var id = "me-" + key;
    var wrap = field(label, id);
    var input = el("input");
    input.id = id;
    input.value = b[key] || "";
    input.readOnly = readOnly;
    input.setAttribute("autocomplete", "off");
    input.setAttribute("data-field", key);
    var meta = el("div", "me-meta");
    var counter = el("span", "me-count");
    var problem = el("p", "field-error");
    problem.setAttribute("aria-live", "polite");
    meta.appendChild(counter);
    wrap.appendChild(input);
    wrap.appendChild(meta);
    wrap.appendChild(problem);
    var update = function () {
      var n = bytes(input.value);
      counter.textContent = fmt("menu.bytes", { bytes: n, max: max });
      var msg = "";
      if (n > max) { msg = fmt(overKey, { max: max, bytes: n }); }
      else if (check) { msg = check(input.value.trim()) || ""; }
      if (!msg) { msg = fieldError(key) || ""; }
      problem.textContent = msg;
      problem.hidden = !msg;
      wrap.classList.toggle("has-error", !!msg);
      counter.classList.toggle("text-error", n > max);
    };
    input.addEventListener("input", function () {
      delete errors[prefix(sel.i, sel.j) + "." + key];
      b[key] = input.value;
      if (key === "name") {
        var title = panel.querySelector(".me-panel-title");
        if (title) { title.textContent = title.textContent.split(" · ")[0] + " · " + (input.value || "…"); }
      }
      update();
      save();
      renderPhone();
    });
    update();
    return wrap;
  };

  var itemSelect = function (b, label, kinds, noneLabel) {
    var wrap = field(label, "me-item");
    var s = el("select");
    s.id = "me-item";
    s.disabled = readOnly;
    var none = el("option", null, noneLabel || T["menu.pick_item"]);
    none.value = "";
    s.appendChild(none);
    (data.items || []).forEach(function (it) {
      if (kinds.indexOf(it.kind) < 0) { return; }
      var o = el("option", null, (T["library.kind." + it.kind] || it.kind) + " · " + it.title);
      o.value = String(it.id);
      if (b.item_id === it.id) { o.selected = true; }
      s.appendChild(o);
    });
    var problem = el("p", "field-error", fieldError("item_id") || "");
    problem.hidden = !fieldError("item_id");
    s.addEventListener("change", function () {
      delete errors[prefix(sel.i, sel.j) + ".item_id"];
      problem.hidden = true;
      if (s.value) { b.item_id = Number(s.value); } else { delete b.item_id; }
      save();
      renderPhone();
    });
    wrap.appendChild(s);
    wrap.appendChild(problem);
    return wrap;
  };

  var urlCheck = function (v) {
    if (!v) { return T["menu.url_required"]; }
    return /^https?:\/\/[^\/?#:@\s]+/i.test(v) ? "" : T["menu.url_invalid"];
  };

  var action = function (label, run, disabled) {
    var b = el("button", "btn btn-small", label);
    b.type = "button";
    b.disabled = !!disabled;
    b.addEventListener("click", run);
    return b;
  };

  var renderPanel = function () {
    panel.textContent = "";
    var b = current();
    if (!b) { panel.appendChild(el("p", "muted", T["menu.select_hint"])); return; }
    var sub = sel.j >= 0;
    var top = buttons[sel.i];
    var place = (sel.i + 1) + (sub ? "-" + (sel.j + 1) : "");
    var title = el("h3", "me-panel-title", place + " · " + (b.name || "…"));
    panel.appendChild(title);
    var nameMax = sub ? L.sub_name : L.top_name;
    panel.appendChild(textField(b, "name", T["menu.field.name"], nameMax, sub ? "menu.sub_name_too_long" : "menu.top_name_too_long", function (v) { return v ? "" : T["menu.name_required"]; }));
    var isParent = !sub && b.sub_button && b.sub_button.length > 0;
    if (isParent) {
      panel.appendChild(el("p", "hint", T["menu.parent_hint"]));
    } else {
      var tw = field(T["menu.field.type"], "me-type");
      var ts = el("select");
      ts.id = "me-type";
      ts.disabled = readOnly;
      (data.types || []).forEach(function (t) {
        var o = el("option", null, t.label);
        o.value = t.value;
        if (b.type === t.value) { o.selected = true; }
        ts.appendChild(o);
      });
      if (!types[b.type]) { b.type = "click"; ts.value = "click"; save(); }
      ts.addEventListener("change", function () {
        b.type = ts.value;
        var kinds = types[b.type].kinds || [];
        if (b.item_id && !(data.items || []).some(function (it) { return it.id === b.item_id && kinds.indexOf(it.kind) >= 0; })) { delete b.item_id; }
        save();
        renderPhone();
        renderPanel();
      });
      tw.appendChild(ts);
      panel.appendChild(tw);
      var t = types[b.type];
      if (t.needs === "key") {
        var kf = textField(b, "key", T["menu.field.key"], L.key, "menu.key_too_long");
        kf.querySelector("input").placeholder = T["menu.key_hint"];
        panel.appendChild(kf);
        if (b.type === "click") { panel.appendChild(itemSelect(b, T["menu.field.reply"], t.kinds, T["menu.reply_none"])); }
      } else if (t.needs === "url") {
        panel.appendChild(textField(b, "url", T["menu.field.url"], L.url, "menu.url_too_long", urlCheck));
      } else if (t.needs === "item") {
        panel.appendChild(itemSelect(b, T["menu.field.item_id"], t.kinds));
      } else if (t.needs === "miniprogram") {
        panel.appendChild(textField(b, "appid", T["menu.field.appid"], 64, "menu.field.appid", function (v) { return v ? "" : T["menu.appid_required"]; }));
        panel.appendChild(textField(b, "pagepath", T["menu.field.pagepath"], 1024, "menu.field.pagepath", function (v) { return v ? "" : T["menu.pagepath_required"]; }));
        panel.appendChild(textField(b, "url", T["menu.field.url"], L.url, "menu.url_too_long", urlCheck));
      }
      var n = tapsOf(b);
      if (n !== null) { panel.appendChild(el("p", "me-tap-line", T["menu.taps"] + " " + n)); }
    }
    if (readOnly) { return; }
    var actions = el("div", "me-actions");
    var list = sub ? top.sub_button : buttons;
    var at = sub ? sel.j : sel.i;
    var move = function (d) {
      return function () {
        var k = at + d;
        if (k < 0 || k >= list.length) { return; }
        var x = list[at]; list[at] = list[k]; list[k] = x;
        save();
        if (sub) { select(sel.i, k); } else { select(k, -1); }
      };
    };
    actions.appendChild(action(sub ? T["menu.move_up"] : T["menu.move_left"], move(-1), at === 0));
    actions.appendChild(action(sub ? T["menu.move_down"] : T["menu.move_right"], move(1), at === list.length - 1));
    if (!sub) {
      actions.appendChild(action(T["menu.add_sub"], function () {
        b.sub_button = b.sub_button || [];
        b.sub_button.push({ name: "", type: "click" });
        save();
        select(sel.i, b.sub_button.length - 1);
      }, (b.sub_button || []).length >= L.subs));
    }
    var rm = action(T["menu.remove"], function () {
      list.splice(at, 1);
      if (sub && !list.length) { delete top.sub_button; }
      errors = {};
      save();
      if (sub) { select(sel.i, list.length ? Math.min(at, list.length - 1) : -1); }
      else { select(buttons.length ? Math.min(at, buttons.length - 1) : -1, -1); }
    });
    rm.classList.add("btn-danger-ghost");
    actions.appendChild(rm);
    panel.appendChild(actions);
  };

  // Open on the first button with a problem the server reported.
  var firstError = Object.keys(errors).map(function (f) { return /^button\[(\d+)\](?:\.sub_button\[(\d+)\])?/.exec(f); }).filter(Boolean)[0];
  if (firstError) { sel = { i: Number(firstError[1]), j: firstError[2] !== undefined ? Number(firstError[2]) : -1 }; }
  renderPhone();
  renderPanel();
})();
