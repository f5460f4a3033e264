// The phone simulator: the merchant uses the current sandbox account as one of its simulated
// followers, through the sandbox's scriptable API (/sandbox/api/apps/{app}/...): chat, tap
// the account's menu, scan its QR codes, share a location, open its pages in the phone's own
// browser (as that follower, so web authorization knows them), and see pushed messages
// arrive. Replies are drawn as WeChat draws them. Every string comes from the catalogue
// (#sim-texts); the chat of each follower is kept for the browser session.
(function () {
  "use strict";
  var root = document.getElementById("simulator");
  if (!root) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var TEXTS = JSON.parse($("sim-texts").textContent || "{}");
  var t = function (key, args) {
    var s = TEXTS[key] || key;
    Object.keys(args || {}).forEach(function (name) {
      s = s.split("{" + name + "}").join(String(args[name]));
    });
    return s;
  };
  var app = root.getAttribute("data-app");
  var accountName = root.getAttribute("data-account") || "";
  // In live mode the control API takes the console's session and its CSRF token.
  var csrf = root.getAttribute("data-csrf") || "";
  var appBase = "/sandbox/api/apps/" + encodeURIComponent(app);
  var followersUrl = appBase + "/followers";
  var followerUrl = function (openid) { return followersUrl + "/" + encodeURIComponent(openid); };
  var chat = $("sim-chat");
  var list = $("sim-list");
  var screen = $("sim-screen");
  var lastKey = "zg-sim-" + app;
  var detailsKey = "zg-sim-details";
  var POLL_MS = 2000;
  var KEEP = 80;

  var state = {
    current: null,    // openid
    follower: null,   // the listed follower
    log: [],
    cursor: null,     // the inbox position already shown
    menu: [],
    mode: "input",
    polling: false,
    details: readLocal(detailsKey) === "1"
  };

  function readLocal(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }
  function writeLocal(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }

  // ---------------------------------------------------------------------------------------
  // Small helpers

  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  };

  var ICONS = {
    image: "M4 5h16v14H4z M4 16l5-5 4 4 3-3 4 4 M9 8.5a1.5 1.5 0 1 0 0.01 0",
    video: "M3 7h12v10H3z M15 10.5l6-3.5v10l-6-3.5",
    voice: "M9.5 5.5a2.5 2.5 0 0 1 5 0v6a2.5 2.5 0 0 1-5 0z M6 11a6 6 0 0 0 12 0 M12 17v4",
    location: "M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z M12 7.5a2 2 0 1 0 0.01 0",
    scan: "M4 9V4h5 M15 4h5v5 M20 15v5h-5 M9 20H4v-5 M4 12h16",
    keyboard: "M3 6h18v12H3z M7 10h0.01 M11 10h0.01 M15 10h0.01 M17 10h0.01 M8 14h8",
    menu: "M4 7h16 M4 12h16 M4 17h16",
    wave: "M7 12h0.01 M10 9a4.5 4.5 0 0 1 0 6 M13 6.5a8 8 0 0 1 0 11",
    play: "M9 7l8 5-8 5z",
    music: "M9 17V6l10-2v11 M9 17a2.5 2.5 0 1 1-2.5-2.5A2.5 2.5 0 0 1 9 17z M19 15a2.5 2.5 0 1 1-2.5-2.5A2.5 2.5 0 0 1 19 15z",
    link: "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1 M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
    mini: "M12 3a9 9 0 1 0 0.01 0 M9 13.5a1.8 1.8 0 1 1 1.8-1.8v-0.6a1.8 1.8 0 1 1 1.8 1.8",
    card: "M3 6h18v12H3z M3 10h18 M7 15h4",
    close: "M6 6l12 12 M18 6L6 18",
    more: "M5 12h0.01 M12 12h0.01 M19 12h0.01"
  };
  var icon = function (name, cls) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "sim-icon" + (cls ? " " + cls : ""));
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name] || "");
    svg.appendChild(path);
    return svg;
  };
  var swapIcon = function (holder, name) { holder.textContent = ""; holder.appendChild(icon(name)); };
  swapIcon($("sim-to-input"), "keyboard");
  swapIcon($("sim-to-menu"), "menu");
  swapIcon($("sim-more"), "more");
  $("sim-more").firstChild.setAttribute("class", "sim-icon dots");
  swapIcon($("sim-browser-close"), "close");
  root.querySelectorAll("[data-tile]").forEach(function (tile) {
    var names = { image: "image", video: "video", voice: "voice", location: "location", scan: "scan" };
    var holder = tile.querySelector(".tile-icon");
    if (holder) { swapIcon(holder, names[tile.getAttribute("data-tile")]); }
  });

  var api = function (method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": csrf },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b || {} }; });
    });
  };

  var absolute = function (url) {
    try { return new URL(url, window.location.href).href; } catch (e) { return url; }
  };
  var hostOf = function (url) {
    try { return new URL(url, window.location.href).host; } catch (e) { return url; }
  };
  var clock = function (ms) {
    var d = new Date(ms);
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getHours()) + ":" + two(d.getMinutes());
  };
  var initial = function (name) { return (name || "?").trim().charAt(0).toUpperCase() || "?"; };
  var nameOf = function (f) { return (f && f.nickname) || t("unnamed"); };

  // ---------------------------------------------------------------------------------------
  // The chat: entries are data, kept per follower for the browser session, drawn as WeChat.

  var saved = function (openid) {
    try { return JSON.parse(sessionStorage.getItem("zg-sim-" + app + "-" + openid) || "null") || { log: [], cursor: null }; }
    catch (e) { return { log: [], cursor: null }; }
  };
  var save = function (openid, data) {
    try {
      sessionStorage.setItem("zg-sim-" + app + "-" + openid,
        JSON.stringify({ log: data.log.slice(-KEEP), cursor: data.cursor }));
    } catch (e) { /* full or private: the chat just is not kept */ }
  };

  // Text with WeChat's <a href> links and bare URLs, as nodes (never as HTML).
  var richText = function (into, text) {
    var pattern = /<a\s[^>]*?href\s*=\s*["']([^"']+)["'][^>]*>([\s\S]*?)<\/a>|(https?:\/\/[^\s<>"'，。）]+)/gi;
    var at = 0;
    var m;
    while ((m = pattern.exec(text)) !== null) {
      if (m.index > at) { into.appendChild(document.createTextNode(text.slice(at, m.index))); }
      var url = m[1] || m[3];
      var label = m[1] ? m[2].replace(/<[^>]*>/g, "") : m[3];
      var a = el("a", "msg-link", label);
      a.href = absolute(url);
      a.setAttribute("data-h5", "");
      into.appendChild(a);
      at = pattern.lastIndex;
    }
    if (at < text.length) { into.appendChild(document.createTextNode(text.slice(at))); }
  };

  // An <img> that tries each address in turn, then becomes a placeholder tile.
  var picture = function (candidates, label, cls) {
    var box = el("div", cls || "msg-picture");
    var urls = candidates.filter(function (u) { return !!u; });
    var fallback = function () {
      box.textContent = "";
      box.classList.add("is-placeholder");
      box.appendChild(icon("image"));
      box.appendChild(el("span", "", label || t("image")));
    };
    if (!urls.length) { fallback(); return box; }
    var img = el("img");
    img.alt = label || t("image");
    img.loading = "lazy";
    var next = 0;
    img.addEventListener("error", function () {
      next += 1;
      if (next < urls.length) { img.src = urls[next]; } else { fallback(); }
    });
    img.src = urls[0];
    box.appendChild(img);
    return box;
  };
  var mediaUrls = function (mediaId) {
    if (!mediaId) { return []; }
    var id = encodeURIComponent(mediaId);
    var a = encodeURIComponent(app);
    return ["/sandbox/mmbiz/media/" + a + "/" + id, "/sandbox/mmbiz/material/" + a + "/" + id];
  };

  var opener = function (node, url) {
    if (!url) { return node; }
    node.classList.add("is-link");
    node.setAttribute("role", "link");
    node.tabIndex = 0;
    var open = function (e) { e.preventDefault(); openPage(url); };
    node.addEventListener("click", open);
    node.addEventListener("keydown", function (e) { if (e.key === "Enter") { open(e); } });
    return node;
  };

  var newsCard = function (articles) {
    if (articles.length <= 1) {
      var a = articles[0] || {};
      var card = el("div", "msg-card news-single");
      card.appendChild(el("div", "news-title", a.title || t("article")));
      card.appendChild(picture([a.picurl], a.title, "news-cover"));
      if (a.description) { card.appendChild(el("div", "news-desc", a.description)); }
      card.appendChild(el("div", "card-foot", t("read_full")));
      return opener(card, a.url);
    }
    var stack = el("div", "msg-card news-multi");
    articles.forEach(function (a, i) {
      var item;
      if (i === 0) {
        item = el("div", "news-lead");
        item.appendChild(picture([a.picurl], a.title, "news-cover"));
        item.appendChild(el("div", "news-lead-title", a.title));
      } else {
        item = el("div", "news-item");
        item.appendChild(el("div", "news-item-title", a.title));
        item.appendChild(picture([a.picurl], a.title, "news-thumb"));
      }
      stack.appendChild(opener(item, a.url));
    });
    return stack;
  };

  var content = function (msg) {
    var b;
    switch (msg.type) {
      case "text":
        b = el("div", "bubble");
        richText(b, msg.text || "");
        return b;
      case "image":
        return picture(msg.url ? [msg.url] : mediaUrls(msg.media_id), t("image"), "msg-picture");
      case "voice":
        b = el("div", "bubble bubble-voice");
        var secs = msg.seconds || 3;
        b.style.width = Math.min(80 + secs * 6, 200) + "px";
        b.appendChild(icon("wave", "wave"));
        b.appendChild(el("span", "voice-len", secs + "″"));
        b.setAttribute("aria-label", t("voice") + " " + secs + "″");
        if (msg.recognition) {
          var wrap = el("div", "voice-wrap");
          wrap.appendChild(b);
          wrap.appendChild(el("div", "voice-text", msg.recognition));
          return wrap;
        }
        return b;
      case "video":
        b = el("div", "msg-card video-card");
        var screenTile = el("div", "video-tile");
        screenTile.appendChild(icon("play"));
        b.appendChild(screenTile);
        b.appendChild(el("div", "card-title", msg.title || t("video")));
        if (msg.description) { b.appendChild(el("div", "card-desc", msg.description)); }
        return b;
      case "music":
        b = el("div", "msg-card music-card");
        var row = el("div", "music-row");
        var text = el("div", "music-text");
        text.appendChild(el("div", "card-title", msg.title || t("music")));
        if (msg.description) { text.appendChild(el("div", "card-desc", msg.description)); }
        row.appendChild(text);
        var thumb = el("div", "music-thumb");
        thumb.appendChild(icon("music"));
        row.appendChild(thumb);
        b.appendChild(row);
        b.appendChild(el("div", "card-foot", t("music")));
        return opener(b, msg.url);
      case "news":
        return newsCard(msg.articles || []);
      case "location":
        b = el("div", "msg-card location-card");
        b.appendChild(el("div", "card-title", msg.label || t("location")));
        b.appendChild(el("div", "card-desc", Number(msg.latitude).toFixed(4) + ", " + Number(msg.longitude).toFixed(4)));
        var map = el("div", "map-tile");
        map.appendChild(icon("location"));
        b.appendChild(map);
        return b;
      case "link":
        b = el("div", "msg-card link-card");
        b.appendChild(el("div", "card-title", msg.title));
        var lrow = el("div", "music-row");
        lrow.appendChild(el("div", "card-desc", msg.description || hostOf(msg.url)));
        var lthumb = el("div", "music-thumb");
        lthumb.appendChild(icon("link"));
        lrow.appendChild(lthumb);
        b.appendChild(lrow);
        return opener(b, msg.url);
      case "miniprogram":
        b = el("div", "msg-card mini-card");
        var head = el("div", "mini-head");
        head.appendChild(icon("mini"));
        head.appendChild(el("span", "", msg.appid || t("miniprogram")));
        b.appendChild(head);
        b.appendChild(el("div", "card-title", msg.title || msg.pagepath || ""));
        b.appendChild(picture(mediaUrls(msg.thumb), msg.title, "mini-cover"));
        b.appendChild(el("div", "card-foot", t("miniprogram")));
        return b;
      case "template":
        b = el("div", "msg-card template-card");
        b.appendChild(el("div", "template-title", msg.title || t("source_template")));
        if (msg.time) {
          var day = new Date(msg.time * 1000).toLocaleDateString(document.documentElement.lang || undefined,
            { month: "long", day: "numeric" });
          b.appendChild(el("div", "card-desc", day));
        }
        var lines = el("div", "template-lines");
        (msg.text || "").split("\n").forEach(function (line) {
          if (!line.trim()) { return; }
          var parts = line.split(/[:：]/);
          var p = el("div", "template-line");
          if (parts.length > 1) {
            p.appendChild(el("span", "template-key", parts[0]));
            p.appendChild(el("span", "template-value", parts.slice(1).join(":")));
          } else {
            p.textContent = line;
          }
          lines.appendChild(p);
        });
        b.appendChild(lines);
        if (msg.url || msg.miniprogram) { b.appendChild(el("div", "card-foot", t("details"))); }
        return opener(b, msg.url);
      case "msgmenu":
        b = el("div", "bubble");
        if (msg.head) { b.appendChild(el("div", "", msg.head)); }
        (msg.list || []).forEach(function (item) {
          var choice = el("button", "msgmenu-item", item.content);
          choice.type = "button";
          choice.addEventListener("click", function () { sendText(item.content); });
          b.appendChild(choice);
        });
        if (msg.tail) { b.appendChild(el("div", "", msg.tail)); }
        return b;
      case "card":
        b = el("div", "msg-card wxcard");
        var crow = el("div", "mini-head");
        crow.appendChild(icon("card"));
        crow.appendChild(el("span", "", t("card")));
        b.appendChild(crow);
        b.appendChild(el("div", "card-desc", msg.card_id || ""));
        return b;
      default:
        return el("div", "bubble", "[" + (msg.type || "?") + "]");
    }
  };

  var lastDrawn = 0;
  var draw = function (entry) {
    var when = entry.time || Date.now();
    if (!lastDrawn || when - lastDrawn > 5 * 60 * 1000) {
      chat.appendChild(el("div", "msg-time", clock(when)));
    }
    lastDrawn = when;
    if (entry.who === "sys") {
      var line = el("div", "msg-sys");
      var said = entry.key ? t(entry.key, entry.args) + (entry.extra || "") : entry.text;
      line.appendChild(el("span", "", said));
      var details = metaText(entry.meta);
      if (details) { line.appendChild(el("span", "msg-meta", " · " + details)); }
      chat.appendChild(line);
      return;
    }
    var row = el("div", "msg-row " + entry.who);
    var avatar = el("span", "msg-avatar", entry.who === "me" ? initial(nameOf(state.follower)) : initial(accountName));
    avatar.setAttribute("aria-hidden", "true");
    row.appendChild(avatar);
    var body = el("div", "msg-body");
    if (entry.source) {
      body.appendChild(el("div", "msg-source", t("source_" + entry.source) + (entry.preview ? " · " + t("preview") : "")));
    }
    var speaker = el("span", "sr-only", (entry.who === "me" ? nameOf(state.follower) : accountName) + ": ");
    body.appendChild(speaker);
    body.appendChild(content(entry.msg || {}));
    var meta = metaText(entry.meta);
    if (meta) { body.appendChild(el("div", "msg-meta", meta)); }
    row.appendChild(body);
    chat.appendChild(row);
  };

  var redraw = function () {
    chat.textContent = "";
    lastDrawn = 0;
    state.log.forEach(draw);
    chat.scrollTop = chat.scrollHeight;
  };

  // Adds an entry to a follower's chat (the current one's is on screen).
  var add = function (openid, entry) {
    entry.time = entry.time || Date.now();
    if (openid === state.current) {
      state.log.push(entry);
      if (state.log.length > KEEP) { state.log.shift(); }
      save(openid, state);
      draw(entry);
      chat.scrollTop = chat.scrollHeight;
    } else if (openid) {
      var other = saved(openid);
      other.log.push(entry);
      save(openid, other);
    }
  };
  // System lines keep their message key, so they read in the language of the moment.
  var sys = function (key, args) { add(state.current, { who: "sys", key: key, args: args || null }); };
  var showNote = function (text) {
    // A note for the page itself, before a follower is chosen.
    if (state.current) { add(state.current, { who: "sys", text: text }); return; }
    chat.textContent = "";
    lastDrawn = 0;
    chat.appendChild(el("div", "msg-sys", text));
  };

  // ---------------------------------------------------------------------------------------
  // Passive replies and pushed messages as chat messages.

  var fromReply = function (xml) {
    if (!xml || xml.trim() === "success" || !xml.trim()) { return null; }
    var doc = new DOMParser().parseFromString(xml, "text/xml");
    if (doc.getElementsByTagName("parsererror").length) { return { type: "text", text: xml }; }
    var field = function (name, within) {
      var e = (within || doc).getElementsByTagName(name)[0];
      return e ? e.textContent : "";
    };
    var type = field("MsgType");
    switch (type) {
      case "text": return { type: "text", text: field("Content") };
      case "image": return { type: "image", media_id: field("MediaId") };
      case "voice": return { type: "voice", media_id: field("MediaId") };
      case "video": return { type: "video", media_id: field("MediaId"), title: field("Title"), description: field("Description") };
      case "music":
        return { type: "music", title: field("Title"), description: field("Description"),
          url: field("MusicUrl") || field("HQMusicUrl"), thumb: field("ThumbMediaId") };
      case "news":
        return { type: "news", articles: Array.prototype.map.call(doc.getElementsByTagName("item"), function (item) {
          return { title: field("Title", item), description: field("Description", item),
            picurl: field("PicUrl", item), url: field("Url", item) };
        }) };
      case "transfer_customer_service": return { type: "transfer" };
      default: return { type: type || "?" };
    }
  };

  var fromInbox = function (item) {
    var c = item.content || {};
    switch (item.type) {
      case "text": return { type: "text", text: c.content || "" };
      case "image": return { type: "image", media_id: c.media_id };
      case "voice": return { type: "voice", media_id: c.media_id };
      case "video": case "mpvideo": return { type: "video", media_id: c.media_id, title: c.title, description: c.description };
      case "music": return { type: "music", title: c.title, description: c.description, url: c.musicurl || c.hqmusicurl, thumb: c.thumb_media_id };
      case "news": case "mpnews": return { type: "news", articles: c.articles || [] };
      case "mpnewsarticle":
        return { type: "news", articles: [{ title: t("article"), description: c.article_id,
          url: "/sandbox/s/" + encodeURIComponent(c.article_id || "") + "/1" }] };
      case "msgmenu": return { type: "msgmenu", head: c.head_content, list: c.list, tail: c.tail_content };
      case "wxcard": return { type: "card", card_id: c.card_id };
      case "miniprogrampage": return { type: "miniprogram", title: c.title, appid: c.appid, pagepath: c.pagepath, thumb: c.thumb_media_id };
      case "template":
        return { type: "template", title: c.title, text: c.text, url: c.url, miniprogram: c.miniprogram, time: item.time };
      default: return { type: item.type };
    }
  };

  // How a delivery went: its time and, when WeChat had to retry, how many deliveries.
  var metaText = function (d) {
    if (!d) { return ""; }
    var parts = [];
    if (typeof d.elapsed_ms === "number") { parts.push(t("elapsed", { ms: d.elapsed_ms })); }
    if (d.attempts > 1) { parts.push(t("attempts", { n: d.attempts })); }
    return parts.join(" · ");
  };

  // Makes the current follower act; shows `mine` first and what came back.
  var act = function (action, mine, before) {
    var who = state.current;
    if (!who) { showNote(t("pick")); return Promise.resolve(null); }
    if (mine) { add(who, { who: "me", msg: mine }); }
    return api("POST", followerUrl(who) + "/actions", action).then(function (res) {
      var d = res.body;
      if (before) { before(res); }
      if (res.status === 409) {
        add(who, { who: "sys", key: "not_following" });
        setSubscribed(who, false);
        return d;
      }
      if (res.status >= 400) {
        add(who, { who: "sys", key: "failed", extra: " " + (d.errmsg || ("HTTP " + res.status)) });
        return d;
      }
      var meta = { elapsed_ms: d.elapsed_ms, attempts: d.attempts };
      var worth = state.details || d.attempts > 1 || d.elapsed_ms > 1000;
      if (d.error) {
        add(who, { who: "sys", key: "failed", extra: " " + d.error, meta: meta });
        return d;
      }
      var msg = fromReply(d.reply);
      if (msg && msg.type === "transfer") {
        add(who, { who: "sys", key: "transfer", meta: worth ? meta : null });
      } else if (msg) {
        add(who, { who: "them", msg: msg, meta: worth ? meta : null });
      } else if (worth) {
        add(who, { who: "sys", key: "no_reply", meta: meta });
      }
      return d;
    }, function (e) {
      add(who, { who: "sys", key: "failed", extra: " " + e });
      return null;
    });
  };

  var sendText = function (value) {
    act({ type: "text", content: value }, { type: "text", text: value });
  };

  // ---------------------------------------------------------------------------------------
  // Pushed messages: the inbox, polled while the page is visible.

  var toEntry = function (item) {
    return { who: "them", msg: fromInbox(item), source: item.source, preview: !!item.preview,
      time: (item.time || 0) * 1000 || Date.now() };
  };

  // A follower seen for the first time in this session: skip to the end of their inbox,
  // showing the latest few items.
  var catchUp = function (who, after, seen) {
    var url = followerUrl(who) + "/inbox?limit=1000" + (after ? "&after=" + encodeURIComponent(after) : "");
    return api("GET", url).then(function (res) {
      var items = res.body.items || [];
      seen = seen.concat(items).slice(-10);
      if (items.length === 1000) { return catchUp(who, res.body.next_after, seen); }
      return { items: seen, cursor: res.body.next_after || after || "" };
    });
  };

  var poll = function () {
    var who = state.current;
    if (!who || state.polling || document.visibilityState !== "visible") { return; }
    state.polling = true;
    var done = function () { state.polling = false; };
    if (state.cursor === null) {
      catchUp(who, null, []).then(function (r) {
        done();
        if (who !== state.current) { return; }
        state.cursor = r.cursor;
        r.items.forEach(function (item) { add(who, toEntry(item)); });
        save(who, state);
      }, done);
      return;
    }
    var url = followerUrl(who) + "/inbox?limit=100" + (state.cursor ? "&after=" + encodeURIComponent(state.cursor) : "");
    api("GET", url).then(function (res) {
      done();
      if (who !== state.current || res.status !== 200) { return; }
      var items = res.body.items || [];
      if (!items.length) { return; }
      state.cursor = res.body.next_after || state.cursor;
      items.forEach(function (item) { add(who, toEntry(item)); });
    }, done);
  };
  window.setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", function () {
    // Back on the page: what was pushed meanwhile, and the menu as it is now.
    if (document.visibilityState === "visible") { poll(); loadMenu(); }
  });

  // ---------------------------------------------------------------------------------------
  // Followers

  var total = $("sim-total");
  var listed = [];

  var drawList = function (followers) {
    listed = followers;
    list.textContent = "";
    if (!followers.length) {
      list.appendChild(el("li", "sim-empty", t("none_found")));
      return;
    }
    followers.forEach(function (f) {
      var li = el("li");
      var b = el("button", "sim-follower");
      b.type = "button";
      b.setAttribute("data-openid", f.openid);
      b.setAttribute("aria-pressed", f.openid === state.current ? "true" : "false");
      b.appendChild(el("span", "sim-avatar", initial(nameOf(f))));
      var text = el("span", "sim-follower-text");
      text.appendChild(el("span", "sim-name", nameOf(f)));
      text.appendChild(el("span", "sim-openid", f.openid));
      b.appendChild(text);
      b.appendChild(el("span", "badge " + (f.subscribe ? "badge-ok" : ""), f.subscribe ? t("subscribed") : t("unsubscribed")));
      b.addEventListener("click", function () { select(f); });
      li.appendChild(b);
      list.appendChild(li);
    });
  };

  var loadFollowers = function (q) {
    var url = followersUrl + "?limit=100" + (q ? "&q=" + encodeURIComponent(q) : "");
    return api("GET", url).then(function (res) {
      if (res.status !== 200) { return []; }
      total.textContent = t("total", { n: res.body.total || 0 });
      drawList(res.body.followers || []);
      return res.body.followers || [];
    });
  };

  var setSubscribed = function (openid, subscribe) {
    listed.forEach(function (f) { if (f.openid === openid) { f.subscribe = subscribe; } });
    if (state.follower && state.follower.openid === openid) { state.follower.subscribe = subscribe; }
    drawList(listed);
    showWho();
  };

  var showWho = function () {
    var f = state.follower;
    $("sim-who").textContent = f ? nameOf(f) + (f.subscribe ? "" : " · " + t("unsubscribed")) : "";
  };

  var select = function (f) {
    closeOverlays();
    state.current = f.openid;
    state.follower = f;
    writeLocal(lastKey, f.openid);
    var kept = saved(f.openid);
    state.log = kept.log || [];
    state.cursor = kept.cursor === undefined ? null : kept.cursor;
    list.querySelectorAll(".sim-follower").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-openid") === f.openid ? "true" : "false");
    });
    root.classList.remove("picking");
    showWho();
    redraw();
    // Opening a chat shows its menu first, as WeChat does.
    $("sim-menu-bar").removeAttribute("data-menu-of");
    loadMenu();
    poll();
    // A channel QR code page links here with #scan: open the scan sheet for the follower.
    if (window.location.hash === "#scan") {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      scanSheet();
    }
  };

  var search = $("sim-search");
  var searchTimer = null;
  var searched = null;
  var onSearch = function () {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(function () {
      var q = search.value.trim();
      if (q === searched) { return; }
      searched = q;
      loadFollowers(q);
    }, 250);
  };
  ["input", "change", "search"].forEach(function (name) { search.addEventListener(name, onSearch); });

  $("sim-new").addEventListener("click", function () {
    var nickname = t("new_nickname") + (1000 + Math.floor(Math.random() * 9000));
    api("POST", followersUrl, { count: 1, subscribed: false, profiles: [{ nickname: nickname }] }).then(function (res) {
      var o = (res.body.openids || [])[0];
      if (!o) { showNote(t("failed") + " " + (res.body.errmsg || res.status)); return; }
      search.value = "";
      searched = "";
      loadFollowers("").then(function (followers) {
        var f = followers.filter(function (x) { return x.openid === o; })[0] ||
          { openid: o, nickname: nickname, subscribe: false };
        select(f);
        follow();
      });
    });
  });

  var follow = function () {
    sys("followed");
    act({ type: "follow" }, null, function (res) {
      if (res.status === 200) { setSubscribed(state.current, true); loadMenu(); }
    });
  };
  var unfollow = function () {
    sys("unfollowed");
    act({ type: "unfollow" }, null, function (res) {
      if (res.status === 200) { setSubscribed(state.current, false); }
    });
  };

  // ---------------------------------------------------------------------------------------
  // The input bar: keyboard or menu, the + panel

  var form = $("sim-form");
  var input = $("sim-text");
  var menuBar = $("sim-menu-bar");
  var menuButtons = $("sim-menu-buttons");
  var toMenu = $("sim-to-menu");
  var panel = $("sim-panel");
  var plus = $("sim-plus");
  var submenu = $("sim-submenu");

  var setMode = function (mode) {
    var hasMenu = state.menu.length > 0;
    state.mode = hasMenu ? mode : "input";
    menuBar.hidden = state.mode !== "menu";
    form.hidden = state.mode === "menu";
    toMenu.hidden = !hasMenu;
    closeSubmenu();
    showPanel(false);
  };
  $("sim-to-input").addEventListener("click", function () { setMode("input"); input.focus(); });
  toMenu.addEventListener("click", function () { setMode("menu"); });

  var showPanel = function (open) {
    panel.hidden = !open;
    plus.setAttribute("aria-expanded", open ? "true" : "false");
  };
  plus.addEventListener("click", function () { showPanel(panel.hidden); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = input.value.trim();
    if (!value) { return; }
    input.value = "";
    sendText(value);
  });

  panel.addEventListener("click", function (event) {
    var tile = event.target.closest("[data-tile]");
    if (!tile) { return; }
    showPanel(false);
    var kind = tile.getAttribute("data-tile");
    if (kind === "image") { act({ type: "image" }, { type: "image" }); }
    if (kind === "video") { act({ type: "video", short: true }, { type: "video", title: t("video") }); }
    if (kind === "voice") { voiceSheet(); }
    if (kind === "location") { locationSheet("send"); }
    if (kind === "scan") { scanSheet(); }
  });

  // ---------------------------------------------------------------------------------------
  // The account's menu

  var loadMenu = function () {
    var who = state.current;
    if (!who) { return; }
    api("GET", followerUrl(who) + "/menu").then(function (res) {
      if (who !== state.current) { return; }
      var hadMenu = menuBar.getAttribute("data-menu-of") === who && state.menu.length > 0;
      state.menu = (res.status === 200 && res.body.button) || [];
      drawMenu();
      if (hadMenu && state.menu.length) {
        // The same follower's menu again (after a follow, or back on the page): the bar
        // stays as they left it, keyboard and + panel included.
        closeSubmenu();
      } else {
        setMode(state.menu.length ? "menu" : "input");
      }
      // Whose menu the bar holds: a script knows by it that a follower's switch is over.
      menuBar.setAttribute("data-menu-of", who);
    });
  };

  var drawMenu = function () {
    menuButtons.textContent = "";
    state.menu.slice(0, 3).forEach(function (button) {
      var b = el("button", "menu-btn");
      b.type = "button";
      var subs = button.sub_button || [];
      if (subs.length) {
        b.appendChild(icon("menu", "menu-mark"));
        b.setAttribute("aria-haspopup", "true");
        b.setAttribute("aria-expanded", "false");
      }
      b.appendChild(el("span", "", button.name));
      b.addEventListener("click", function () {
        if (subs.length) { toggleSubmenu(b, subs); } else { closeSubmenu(); tap(button); }
      });
      menuButtons.appendChild(b);
    });
  };

  var openedFrom = null;
  var closeSubmenu = function () {
    submenu.hidden = true;
    submenu.textContent = "";
    if (openedFrom) { openedFrom.setAttribute("aria-expanded", "false"); }
    openedFrom = null;
  };
  var toggleSubmenu = function (from, subs) {
    if (openedFrom === from) { closeSubmenu(); return; }
    closeSubmenu();
    openedFrom = from;
    from.setAttribute("aria-expanded", "true");
    subs.forEach(function (sub) {
      var b = el("button", "submenu-item", sub.name);
      b.type = "button";
      b.addEventListener("click", function () { closeSubmenu(); tap(sub); });
      submenu.appendChild(b);
    });
    submenu.hidden = false;
    var s = screen.getBoundingClientRect();
    var r = from.getBoundingClientRect();
    var width = Math.max(r.width - 12, 120);
    var left = r.left - s.left + r.width / 2 - width / 2;
    left = Math.max(6, Math.min(left, s.width - width - 6));
    submenu.style.width = width + "px";
    submenu.style.left = left + "px";
    submenu.style.bottom = (s.bottom - r.top + 8) + "px";
    submenu.style.setProperty("--arrow", (r.left - s.left + r.width / 2 - left) + "px");
    var first = submenu.querySelector("button");
    if (first) { first.focus(); }
  };

  var presetPlace = function () { return PLACES[0]; };

  // What tapping a menu button does, as in WeChat.
  var tap = function (button) {
    if (!state.current) { showNote(t("pick")); return; }
    var type = button.type;
    if (type === "click") {
      act({ type: "click", key: button.key });
    } else if (type === "view") {
      act({ type: "view", url: button.url });
      openPage(button.url);
    } else if (type === "scancode_push" || type === "scancode_waitmsg") {
      scanCodeSheet(button);
    } else if (type === "pic_sysphoto" || type === "pic_photo_or_album" || type === "pic_weixin") {
      act({ type: "send_pictures", key: button.key, button: type, count: 1 }).then(function (d) {
        if (d && !d.errcode) { act({ type: "image" }, { type: "image" }); }
      });
    } else if (type === "location_select") {
      locationSheet("select", button);
    } else if (type === "miniprogram") {
      sys("miniprogram_open", { appid: button.appid || "", pagepath: button.pagepath || "" });
      act({ type: "view_mini_program", pagepath: button.pagepath || "" });
    } else if (type === "media_id" || type === "view_limited" || type === "article_id" || type === "article_view_limited") {
      var articles = button.articles || [];
      if ((type === "view_limited" || type === "article_view_limited") && articles.length && articles[0].url) {
        openPage(articles[0].url);
      } else if (articles.length) {
        add(state.current, { who: "them", msg: { type: "news", articles: articles } });
      } else if (button.media) {
        var m = button.media;
        var msg = m.type === "image" ? { type: "image", url: m.url }
          : m.type === "voice" ? { type: "voice" }
          : { type: "video", title: m.title || t("video"), description: m.description };
        add(state.current, { who: "them", msg: msg });
      } else {
        sys("media_missing");
      }
    }
  };

  // ---------------------------------------------------------------------------------------
  // Half-screen sheets inside the phone

  var sheetWrap = $("sim-sheet-wrap");
  var sheetBody = $("sim-sheet-body");
  var sheetReturn = null;
  var openSheet = function (title, build) {
    closeSubmenu();
    showPanel(false);
    sheetReturn = document.activeElement;
    $("sim-sheet-title").textContent = title;
    sheetBody.textContent = "";
    build(sheetBody);
    sheetWrap.hidden = false;
    var first = sheetBody.querySelector("input, textarea, button");
    if (first) { first.focus(); }
  };
  var closeSheet = function () {
    if (sheetWrap.hidden) { return; }
    sheetWrap.hidden = true;
    sheetBody.textContent = "";
    if (sheetReturn && sheetReturn.focus) { sheetReturn.focus(); }
  };
  $("sim-sheet-close").addEventListener("click", closeSheet);
  sheetWrap.addEventListener("click", function (e) { if (e.target === sheetWrap) { closeSheet(); } });

  var field = function (into, label, value, type) {
    var wrap = el("label", "sheet-field");
    wrap.appendChild(el("span", "", label));
    var f = el(type === "textarea" ? "textarea" : "input");
    if (type && type !== "textarea") { f.type = type; }
    if (type === "number") { f.step = "any"; }
    f.value = value;
    wrap.appendChild(f);
    into.appendChild(wrap);
    return f;
  };
  var actions = function (into, label, run) {
    var row = el("div", "sheet-actions");
    var cancel = el("button", "btn", t("cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", closeSheet);
    var go = el("button", "btn btn-primary", label);
    go.type = "button";
    go.addEventListener("click", run);
    row.appendChild(cancel);
    row.appendChild(go);
    into.appendChild(row);
    return go;
  };

  var PLACES = [
    { name: t("place_1"), latitude: 31.2304, longitude: 121.4737 },
    { name: t("place_2"), latitude: 39.9087, longitude: 116.3975 },
    { name: t("place_3"), latitude: 30.2431, longitude: 120.1500 },
    { name: t("place_4"), latitude: 22.5224, longitude: 113.9355 }
  ];

  // mode: "send" (a location message), "select" (a location_select button), "report" (LOCATION).
  var locationSheet = function (mode, button) {
    var titles = { send: "location_title", select: "location_select_title", report: "location_report_title" };
    openSheet(t(titles[mode]), function (body) {
      var places = el("div", "place-list");
      var lat, lng, label;
      PLACES.forEach(function (p, i) {
        var b = el("button", "place", p.name);
        b.type = "button";
        b.setAttribute("aria-pressed", i === 0 ? "true" : "false");
        b.addEventListener("click", function () {
          places.querySelectorAll(".place").forEach(function (x) { x.setAttribute("aria-pressed", x === b ? "true" : "false"); });
          lat.value = p.latitude; lng.value = p.longitude; label.value = p.name;
        });
        places.appendChild(b);
      });
      body.appendChild(places);
      var first = presetPlace();
      var coords = el("div", "sheet-row");
      lat = field(coords, t("latitude"), first.latitude, "number");
      lng = field(coords, t("longitude"), first.longitude, "number");
      body.appendChild(coords);
      label = field(body, t("place_name"), first.name, "text");
      actions(body, t("send"), function () {
        var place = { latitude: parseFloat(lat.value) || 0, longitude: parseFloat(lng.value) || 0, label: label.value.trim() };
        closeSheet();
        var shown = { type: "location", latitude: place.latitude, longitude: place.longitude, label: place.label };
        if (mode === "report") {
          sys("located", { label: place.label || (place.latitude + ", " + place.longitude) });
          act({ type: "location", latitude: place.latitude, longitude: place.longitude });
        } else if (mode === "select") {
          act({ type: "select_location", key: button.key, latitude: place.latitude, longitude: place.longitude,
            label: place.label, poiname: place.label }).then(function (d) {
            if (d && !d.errcode) {
              act({ type: "send_location", latitude: place.latitude, longitude: place.longitude, scale: 15, label: place.label }, shown);
            }
          });
        } else {
          act({ type: "send_location", latitude: place.latitude, longitude: place.longitude, scale: 15, label: place.label }, shown);
        }
      });
    });
  };

  var voiceSheet = function () {
    openSheet(t("voice_title"), function (body) {
      var words = field(body, t("voice_text"), t("voice_default"), "textarea");
      actions(body, t("send"), function () {
        var said = words.value.trim();
        closeSheet();
        var seconds = Math.max(1, Math.min(60, Math.round(said.length / 3)));
        act({ type: "voice", recognition: said || null }, { type: "voice", seconds: seconds, recognition: said });
      });
    });
  };

  var scanTicket = function (ticket) {
    closeSheet();
    act({ type: "scan_ticket", ticket: ticket }, null, function (res) {
      if (res.status === 404) { sys("scan_expired"); return; }
      if (res.status !== 200) { return; }
      if (res.body.event === "subscribe") {
        sys("scanned_follow", { scene: res.body.scene });
        setSubscribed(state.current, true);
        loadMenu();
      } else {
        sys("scanned", { scene: res.body.scene });
      }
    });
  };

  var scanSheet = function () {
    openSheet(t("scan_title"), function (body) {
      body.appendChild(el("div", "sheet-label", t("scan_codes")));
      var codes = el("div", "qr-list");
      body.appendChild(codes);
      var ticket = field(body, t("scan_ticket"), "", "text");
      actions(body, t("scan_go"), function () {
        if (ticket.value.trim()) { scanTicket(ticket.value.trim()); }
      });
      api("GET", appBase + "/qrcodes").then(function (res) {
        var items = (res.body && res.body.items) || [];
        if (!items.length) { codes.appendChild(el("p", "hint", t("scan_none"))); return; }
        items.forEach(function (code) {
          var b = el("button", "qr-item");
          b.type = "button";
          b.setAttribute("data-scene", code.scene);
          b.setAttribute("data-ticket", code.ticket);
          var img = el("img");
          img.src = code.image;
          img.alt = "";
          b.appendChild(img);
          b.appendChild(el("span", "qr-scene", t("scan_scene", { scene: code.scene })));
          b.appendChild(el("span", "qr-kind", code.permanent ? t("scan_permanent") : t("scan_temporary")));
          b.addEventListener("click", function () { scanTicket(code.ticket); });
          codes.appendChild(b);
        });
      });
    });
  };

  var scanCodeSheet = function (button) {
    openSheet(t("scancode_title"), function (body) {
      body.appendChild(el("p", "hint", t("scancode_hint")));
      var result = field(body, t("scancode_title"), "https://www.example.com/?from=scan", "text");
      actions(body, t("scan_go"), function () {
        var read = result.value.trim() || "https://www.example.com/?from=scan";
        var wait = button.type === "scancode_waitmsg";
        closeSheet();
        sys("scancode_result", { result: read });
        act({ type: "scan_code", key: button.key, scan_result: read, wait_for_message: wait });
        if (!wait && /^https?:\/\//i.test(read)) { openPage(read); }
      });
    });
  };

  var infoSheet = function () {
    var f = state.follower;
    if (!f) { root.classList.add("picking"); showNote(t("pick")); return; }
    openSheet(t("info_title"), function (body) {
      var who = el("div", "info-who");
      who.appendChild(el("span", "sim-avatar big", initial(nameOf(f))));
      var text = el("div", "sim-follower-text");
      text.appendChild(el("span", "sim-name", nameOf(f)));
      var id = el("code", "sim-openid copyable", f.openid);
      text.appendChild(id);
      who.appendChild(text);
      body.appendChild(who);
      var stateRow = el("div", "info-row");
      stateRow.appendChild(el("span", "muted", t("info_state")));
      stateRow.appendChild(el("span", "badge " + (f.subscribe ? "badge-ok" : ""), f.subscribe ? t("subscribed") : t("unsubscribed")));
      body.appendChild(stateRow);
      var buttons = el("div", "info-actions");
      var add1 = function (label, cls, run) {
        var b = el("button", "btn " + cls, label);
        b.type = "button";
        b.addEventListener("click", function () { closeSheet(); run(); });
        buttons.appendChild(b);
      };
      if (f.subscribe) {
        add1(t("unfollow"), "btn-danger-ghost", unfollow);
      } else {
        add1(t("follow"), "btn-primary", follow);
      }
      add1(t("report_location"), "", function () { locationSheet("report"); });
      add1(t("clear"), "", function () {
        state.log = [];
        save(state.current, state);
        redraw();
      });
      body.appendChild(buttons);
      var toggle = el("label", "info-toggle");
      var box = el("input");
      box.type = "checkbox";
      box.id = "sim-details";
      box.checked = state.details;
      box.addEventListener("change", function () {
        state.details = box.checked;
        writeLocal(detailsKey, box.checked ? "1" : "0");
      });
      toggle.appendChild(box);
      toggle.appendChild(el("span", "", t("show_details")));
      body.appendChild(toggle);
    });
  };
  $("sim-more").addEventListener("click", infoSheet);
  $("sim-pick").addEventListener("click", function () {
    root.classList.toggle("picking");
    if (root.classList.contains("picking")) {
      $("sim-followers").scrollIntoView({ block: "start" });
      search.focus();
    }
  });

  // ---------------------------------------------------------------------------------------
  // The phone's browser: pages open as the follower (the sandbox's browse endpoint sets who
  // is browsing, so web authorization knows them).

  var browser = $("sim-browser");
  var frame = $("sim-browser-frame");
  var browserTitle = $("sim-browser-title");
  var openPage = function (url) {
    if (!state.current || !url) { return; }
    var target = absolute(url);
    var src = followerUrl(state.current) + "/browse?url=" + encodeURIComponent(target);
    closeSubmenu();
    browserTitle.textContent = hostOf(target);
    $("sim-browser-tab").href = src;
    frame.src = src;
    browser.hidden = false;
    $("sim-browser-close").focus();
  };
  frame.addEventListener("load", function () {
    try {
      var title = frame.contentDocument && frame.contentDocument.title;
      if (title) { browserTitle.textContent = title; }
    } catch (e) { /* another site's page keeps its host as the title */ }
  });
  var closeBrowser = function () {
    if (browser.hidden) { return; }
    browser.hidden = true;
    frame.src = "about:blank";
  };
  $("sim-browser-close").addEventListener("click", closeBrowser);

  chat.addEventListener("click", function (e) {
    var link = e.target.closest("a[data-h5]");
    if (link) { e.preventDefault(); openPage(link.href); }
  });

  var closeOverlays = function () { closeSheet(); closeBrowser(); closeSubmenu(); showPanel(false); };
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    if (!sheetWrap.hidden) { closeSheet(); } else if (!submenu.hidden) { closeSubmenu(); } else { closeBrowser(); }
  });
  document.addEventListener("click", function (e) {
    if (!submenu.hidden && !submenu.contains(e.target) && !e.target.closest(".menu-btn")) { closeSubmenu(); }
  });

  // ---------------------------------------------------------------------------------------
  // Start: the list, and the follower chosen last time.

  setMode("input");
  var last = readLocal(lastKey);
  loadFollowers("").then(function (followers) {
    var found = followers.filter(function (f) { return f.openid === last; })[0];
    if (found) { select(found); return; }
    if (!last) { root.classList.add("picking"); showNote(t("pick")); return; }
    api("GET", followersUrl + "?q=" + encodeURIComponent(last)).then(function (res) {
      var f = ((res.body && res.body.followers) || []).filter(function (x) { return x.openid === last; })[0];
      if (f) { select(f); } else { root.classList.add("picking"); showNote(t("pick")); }
    });
  });
})();
