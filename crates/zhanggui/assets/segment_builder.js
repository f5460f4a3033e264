// The segment builder (人群): edits the follower filter as rows of conditions, keeps the
// form's JSON field in step, and shows a live count with a sample of who matches.
// Without this script the page still works through the JSON field.
(function () {
  "use strict";

  var root = document.getElementById("segment-builder");
  var textarea = document.getElementById("filter");
  var textNode = document.getElementById("builder-text");
  if (!root || !textarea || !textNode || !window.fetch) { return; }

  var T = JSON.parse(textNode.textContent || "{}");
  var choices = JSON.parse(root.getAttribute("data-choices") || "{}");
  var account = root.getAttribute("data-account");
  var csrf = root.getAttribute("data-csrf");
  var editable = root.getAttribute("data-editable") === "true";
  var tz = choices.timezone || "Asia/Shanghai";
  var t = function (key) { return T[key] || key; };

  var filter;
  try {
    filter = JSON.parse(textarea.value || "{}");
  } catch (e) {
    return; // A filter the builder cannot read stays in the JSON field, as typed.
  }
  filter.combine = filter.combine || "all";
  filter.conditions = filter.conditions || [];

  var FIELDS = ["subscribed", "tags", "channel", "has_channel", "subscribed_at", "first_seen",
    "last_interaction", "gender", "profile", "birthday_month", "near", "flow_answer", "search",
    "blacklisted"];
  var DAY_MS = 86400000;

  // --- dates in the merchant's time zone --------------------------------------------------
  var partsFormat = new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit"
  });
  var localParts = function (ms) {
    var out = {};
    partsFormat.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  };
  var zoneOffset = function (ms) {
    var p = localParts(ms);
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) -
      Math.floor(ms / 1000) * 1000;
  };
  // Midnight starting the day "YYYY-MM-DD" in the merchant's zone, as epoch milliseconds.
  var dayStart = function (day) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || "");
    if (!m) { return null; }
    var guess = Date.UTC(+m[1], +m[2] - 1, +m[3]);
    var first = guess - zoneOffset(guess);
    return guess - zoneOffset(first);
  };
  var dayOf = function (ms) {
    if (ms === null || ms === undefined) { return ""; }
    var p = localParts(ms);
    return p.year + "-" + p.month + "-" + p.day;
  };

  // --- small DOM helpers ------------------------------------------------------------------
  var el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    if (!editable && (tag === "select" || tag === "input" || tag === "button")) {
      node.disabled = true;
    }
    return node;
  };
  var select = function (label, options, value, onChange) {
    var s = el("select", { "aria-label": label });
    options.forEach(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (String(o[0]) === String(value)) { opt.selected = true; }
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onChange(s.value); });
    return s;
  };
  var input = function (type, label, value, onInput, extra) {
    var i = el("input", Object.assign({ type: type, "aria-label": label }, extra || {}));
    i.value = value === null || value === undefined ? "" : value;
    i.addEventListener("input", function () { onInput(i.value); });
    return i;
  };
  var labelled = function (text, control) {
    return el("label", { "class": "builder-inline" }, [el("span", { text: text }), control]);
  };
  // A set of checkboxes as chips; `values` is the array the condition holds.
  var checks = function (items, values, onChange) {
    var box = el("div", { "class": "builder-checks" });
    items.forEach(function (item) {
      var c = el("input", { type: "checkbox", value: String(item[0]) });
      c.checked = values.some(function (v) { return String(v) === String(item[0]); });
      c.addEventListener("change", function () {
        var next = values.filter(function (v) { return String(v) !== String(item[0]); });
        if (c.checked) { next.push(item[0]); }
        onChange(next);
      });
      box.appendChild(el("label", { "class": "chip-check" }, [c, el("span", { text: item[1] })]));
    });
    return box;
  };

  // --- conditions -------------------------------------------------------------------------
  var fresh = function (field) {
    switch (field) {
      case "subscribed": return { field: field, value: true };
      case "blacklisted": return { field: field, value: false };
      case "has_channel": return { field: field, value: true };
      case "tags": return { field: field, op: "any", tag_ids: [] };
      case "channel": return { field: field, op: "in", scenes: [] };
      case "subscribed_at":
      case "first_seen":
      case "last_interaction": return { field: field, range: { kind: "last_days", days: 30 } };
      case "gender": return { field: field, values: [] };
      case "profile": return { field: field, name: "phone", op: "is_set", value: "" };
      case "birthday_month": return { field: field, months: [] };
      case "near": return { field: field, latitude: 31.2304, longitude: 121.4737, radius_m: 3000 };
      case "flow_answer":
        var first = (choices.flows || [])[0];
        return { field: field, flow_id: first ? first.id : 0, step: null, choices: [],
          answered: true };
      default: return { field: "search", text: "" };
    }
  };

  var yesNo = function (c) {
    return [select(t("builder.field." + c.field),
      [["true", t("builder.yes")], ["false", t("builder.no")]], String(c.value),
      function (v) { c.value = v === "true"; changed(); })];
  };

  var rangeEditor = function (c) {
    var r = c.range;
    var kind = select(t("builder.field." + c.field), [
      ["last_days", t("builder.last_days")],
      ["older_than_days", t("builder.older_than_days")],
      ["between", t("builder.between")]
    ], r.kind, function (v) {
      c.range = v === "between" ? { kind: v, from: null, to: null } : { kind: v, days: r.days || 30 };
      changed(true);
    });
    if (r.kind === "between") {
      var lastDay = r.to === null || r.to === undefined ? "" : dayOf(r.to - DAY_MS);
      return [kind,
        labelled(t("builder.from"), input("date", t("builder.from"), dayOf(r.from), function (v) {
          r.from = dayStart(v); changed();
        })),
        labelled(t("builder.to"), input("date", t("builder.to"), lastDay, function (v) {
          var start = dayStart(v);
          r.to = start === null ? null : dayStart(dayOf(start + DAY_MS + 3600000));
          changed();
        }))];
    }
    return [kind, labelled("", input("number", t("builder.days"), r.days, function (v) {
      r.days = Math.max(0, parseInt(v, 10) || 0); changed();
    }, { min: "1", max: "36500", "class": "narrow" })), el("span", { text: t("builder.days") })];
  };

  var editors = {
    subscribed: function (c) {
      return [select(t("builder.field.subscribed"),
        [["true", t("builder.subscribed_now")], ["false", t("builder.unsubscribed")]],
        String(c.value), function (v) { c.value = v === "true"; changed(); })];
    },
    blacklisted: yesNo,
    has_channel: yesNo,
    tags: function (c) {
      var op = select(t("builder.field.tags"), [["any", t("builder.tag_any")],
        ["all", t("builder.tag_all")], ["none", t("builder.tag_none")]], c.op,
        function (v) { c.op = v; changed(); });
      var tags = (choices.tags || []).map(function (x) { return [x.id, x.name]; });
      if (!tags.length) { return [op, el("span", { "class": "muted", text: t("builder.no_tags") })]; }
      return [op, checks(tags, c.tag_ids, function (ids) { c.tag_ids = ids; changed(); })];
    },
    channel: function (c) {
      var op = select(t("builder.field.channel"), [["in", t("builder.in")],
        ["not_in", t("builder.not_in")]], c.op, function (v) { c.op = v; changed(); });
      var channels = (choices.channels || []).map(function (x) { return [x.id, x.name]; });
      if (!channels.length) {
        return [op, el("span", { "class": "muted", text: t("builder.no_channels") })];
      }
      return [op, checks(channels, c.scenes, function (s) { c.scenes = s; changed(); })];
    },
    subscribed_at: rangeEditor,
    first_seen: rangeEditor,
    last_interaction: rangeEditor,
    gender: function (c) {
      return [checks([["male", t("builder.male")], ["female", t("builder.female")],
        ["unknown", t("builder.unknown")]], c.values, function (v) { c.values = v; changed(); })];
    },
    profile: function (c) {
      var name = select(t("builder.field.profile"), ["remark", "nickname", "name", "phone", "city"]
        .map(function (f) { return [f, t("builder." + f)]; }), c.name,
        function (v) { c.name = v; changed(); });
      var op = select(t("builder.field.profile"), ["is_set", "not_set", "equals", "contains"]
        .map(function (o) { return [o, t("builder." + o)]; }), c.op,
        function (v) { c.op = v; changed(true); });
      if (c.op === "is_set" || c.op === "not_set") { c.value = ""; return [name, op]; }
      return [name, op, input("text", t("builder.field.profile"), c.value,
        function (v) { c.value = v; changed(); }, { maxlength: "64" })];
    },
    birthday_month: function (c) {
      var months = [];
      for (var m = 1; m <= 12; m++) { months.push([m, m + t("builder.month")]); }
      return [checks(months, c.months, function (v) {
        c.months = v.map(Number).sort(function (a, b) { return a - b; }); changed();
      })];
    },
    near: function (c) {
      var number = function (key, prop, extra) {
        return labelled(t(key), input("number", t(key), c[prop], function (v) {
          c[prop] = v === "" ? (prop === "within_days" ? null : 0) : Number(v); changed();
        }, extra));
      };
      return [number("builder.latitude", "latitude", { step: "any", "class": "narrow" }),
        number("builder.longitude", "longitude", { step: "any", "class": "narrow" }),
        number("builder.radius_m", "radius_m", { min: "1", step: "any", "class": "narrow" }),
        number("builder.within_days", "within_days", { min: "1", "class": "narrow" })];
    },
    flow_answer: function (c) {
      var flows = choices.flows || [];
      if (!flows.length) { return [el("span", { "class": "muted", text: t("builder.no_flows") })]; }
      var flow = flows.filter(function (f) { return f.id === c.flow_id; })[0];
      var flowOptions = flows.map(function (f) { return [f.id, f.name]; });
      if (!flow) { flowOptions.unshift([c.flow_id, t("builder.deleted_flow")]); }
      var answered = select(t("builder.field.flow_answer"), [["true", t("builder.answered")],
        ["false", t("builder.not_answered")]], String(c.answered !== false),
        function (v) { c.answered = v === "true"; changed(); });
      var which = select(t("builder.field.flow_answer"), flowOptions, c.flow_id, function (v) {
        c.flow_id = Number(v); c.step = null; c.choices = []; changed(true);
      });
      var steps = flow ? flow.steps : [];
      var stepOptions = [["", t("builder.any_step")]].concat(steps.map(function (s) {
        return [s.n, t("builder.step").replace("{n}", s.n) + " " + s.question];
      }));
      var step = select(t("builder.step_label"), stepOptions, c.step === null ? "" : c.step,
        function (v) { c.step = v === "" ? null : Number(v); c.choices = []; changed(true); });
      step.className = "builder-step";
      var parts = [answered, which, step];
      var chosen = steps.filter(function (s) { return s.n === c.step; })[0];
      if (chosen && chosen.options.length) {
        parts.push(checks(chosen.options.map(function (o) {
          return [o.letter, o.letter + " " + o.label];
        }), c.choices, function (v) { c.choices = v.sort(); changed(); }));
      }
      return parts;
    },
    search: function (c) {
      return [input("search", t("builder.field.search"), c.text,
        function (v) { c.text = v; changed(); }, { placeholder: t("builder.text"), maxlength: "64" })];
    }
  };

  // --- rendering --------------------------------------------------------------------------
  var list = el("ol", { "class": "builder-conditions" });
  var render = function () {
    list.textContent = "";
    filter.conditions.forEach(function (c, i) {
      var field = select(t("builder.add"), FIELDS.map(function (f) {
        return [f, t("builder.field." + f)];
      }), c.field, function (v) { filter.conditions[i] = fresh(v); changed(true); });
      field.className = "builder-field";
      var remove = el("button", { type: "button", "class": "btn btn-small builder-remove",
        "aria-label": t("builder.remove"), text: "×" });
      remove.addEventListener("click", function () {
        filter.conditions.splice(i, 1); changed(true);
      });
      var row = el("li", { "class": "builder-row", "data-field": c.field,
        "data-index": String(i) }, [field]);
      var body = el("div", { "class": "builder-body" }, (editors[c.field] || editors.search)(c));
      row.appendChild(body);
      row.appendChild(remove);
      list.appendChild(row);
    });
  };

  var combine = select(t("builder.combine_all"), [["all", t("builder.combine_all")],
    ["any", t("builder.combine_any")]], filter.combine,
    function (v) { filter.combine = v; changed(); });
  combine.id = "builder-combine";
  var addField = select(t("builder.add"), FIELDS.map(function (f) {
    return [f, t("builder.field." + f)];
  }), "tags", function () {});
  addField.id = "builder-add-field";
  var add = el("button", { type: "button", "class": "btn", id: "builder-add",
    text: "+ " + t("builder.add") });
  add.addEventListener("click", function () {
    filter.conditions.push(fresh(addField.value)); changed(true);
  });

  root.appendChild(el("div", { "class": "builder-head" }, [combine]));
  root.appendChild(list);
  if (editable) { root.appendChild(el("div", { "class": "builder-add" }, [addField, add])); }
  var form = root.closest("form");
  if (form) { form.classList.add("has-builder"); }

  // --- the live count ---------------------------------------------------------------------
  var countNode = document.getElementById("preview-count");
  var statusNode = document.getElementById("preview-status");
  var sampleNode = document.getElementById("preview-sample");
  var asked = 0;
  var timer = null;
  var preview = function () {
    var ticket = ++asked;
    statusNode.textContent = t("builder.counting");
    root.querySelectorAll(".builder-row.has-error").forEach(function (r) {
      r.classList.remove("has-error");
    });
    root.querySelectorAll(".builder-error").forEach(function (p) { p.remove(); });
    fetch("/api/v1/accounts/" + account + "/segments/preview", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": csrf },
      body: JSON.stringify({ filter: filter })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (ticket !== asked) { return; } // A newer edit asked since; its answer counts.
      if (!res.ok) { return failed(res.body); }
      countNode.textContent = res.body.count.toLocaleString();
      statusNode.textContent = "";
      sampleNode.textContent = "";
      res.body.sample.forEach(function (f) {
        var who = f.remark || f.name || f.nickname || f.openid;
        var a = el("a", { href: "/followers/" + encodeURIComponent(f.openid) + "?account=" + account },
          [el("strong", { text: who })]);
        sampleNode.appendChild(el("li", {}, [a, el("span", { "class": "muted small",
          text: (f.subscribed ? "" : t("builder.unsubscribed") + " · ") + f.last_interaction })]));
      });
    }).catch(function () {
      if (ticket === asked) { failed({}); }
    });
  };
  var failed = function (body) {
    var error = body.error || {};
    countNode.textContent = "–";
    sampleNode.textContent = "";
    statusNode.textContent = t("builder.count_failed") + (error.message || "");
    var fields = error.fields || {};
    Object.keys(fields).forEach(function (name) {
      var m = /(\d+)/.exec(name);
      var row = m && list.querySelector('[data-index="' + m[1] + '"]');
      if (!row) { return; }
      row.classList.add("has-error");
      row.querySelector(".builder-body").appendChild(
        el("p", { "class": "builder-error", role: "alert", text: fields[name] }));
    });
  };

  // Every edit: the JSON field follows, the count is asked again once typing pauses.
  var changed = function (structure) {
    textarea.value = JSON.stringify(filter);
    if (structure) { render(); }
    clearTimeout(timer);
    timer = setTimeout(preview, 350);
  };
  // Someone editing the JSON by hand: the rows follow once it reads.
  textarea.addEventListener("input", function () {
    try {
      var next = JSON.parse(textarea.value);
      next.combine = next.combine || "all";
      next.conditions = next.conditions || [];
      filter = next;
      combine.value = filter.combine;
      render();
      clearTimeout(timer);
      timer = setTimeout(preview, 350);
    } catch (e) { /* keep the rows until the JSON reads again */ }
  });

  render();
  preview();
})();
